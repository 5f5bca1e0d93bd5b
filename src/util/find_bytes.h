// FindBytes: memmem for the short needles of a text search (a regex's
// literal prefix, its required literals) in JSON-like text.
//
// glibc's memmem works through the text byte pair by byte pair, and RE2 or
// std::string_view::find look for the needle's first byte with memchr,
// which on JSON text stops at every quote.  This compares the needle's
// first and last bytes against 32 positions at once (AVX2), and checks
// the rest only where both agree: few places in real text.  Hand-written
// because no library in Debian's archive offers a SIMD substring search.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace stele {

// a == b, inline for the short strings compared on hot paths (index values,
// data-object keys): up to 16 bytes take two overlapping 8-byte loads a
// side instead of a memcmp call.
inline bool BytesEqual(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) {
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.data(), 8);
    std::memcpy(&a1, a.data() + n - 8, 8);
    std::memcpy(&b0, b.data(), 8);
    std::memcpy(&b1, b.data() + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return std::memcmp(a.data(), b.data(), n) == 0;
}

// The first occurrence of `needle` in `text`, or nullptr.  An empty needle
// is found at the start.
inline const char* FindBytes(std::string_view text, std::string_view needle) {
  const size_t n = needle.size();
  if (n == 0) return text.data();
  if (n > text.size()) return nullptr;
  const char* p = text.data();
  const char* const last_start = text.data() + text.size() - n;  // the last place it could start
#if defined(__AVX2__)
  if (n >= 2) {
    const __m256i first = _mm256_set1_epi8(needle[0]);
    const __m256i last = _mm256_set1_epi8(needle[n - 1]);
    for (; p + 32 <= last_start + 1; p += 32) {
      const __m256i at_first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      const __m256i at_last = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + n - 1));
      auto mask = static_cast<uint32_t>(
          _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(at_first, first), _mm256_cmpeq_epi8(at_last, last))));
      while (mask != 0) {
        const int bit = __builtin_ctz(mask);
        if (std::memcmp(p + bit + 1, needle.data() + 1, n - 2) == 0) return p + bit;
        mask &= mask - 1;
      }
    }
  }
#endif
  const size_t left = static_cast<size_t>(last_start - p) + n;
  return static_cast<const char*>(memmem(p, left, needle.data(), n));
}

}  // namespace stele
