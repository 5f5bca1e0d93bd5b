#include "util/json_escape.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace stele {
namespace {

void AppendEscaped(char c, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  if (c == '"' || c == '\\') {
    out->push_back('\\');
    out->push_back(c);
  } else {
    out->append("\\u00");
    out->push_back(kHex[(c >> 4) & 0xf]);
    out->push_back(kHex[c & 0xf]);
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC) n = 3;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xEE && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

// Sixteen bytes at a time: the strings of a query's output and of stored
// data objects are mostly plain.
size_t FindJsonSpecialByte(std::string_view s, size_t i) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), below_space = _mm_set1_epi8(0x1f);
  for (; s.size() - i >= 16; i += 16) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, backslash)),
                                      _mm_cmpeq_epi8(_mm_min_epu8(c, below_space), c));  // c <= 0x1f
    if (const int mask = _mm_movemask_epi8(hits))
      return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  // Eight bytes at a time (the usual field is 6-16 bytes): a word holds a
  // byte to escape if one is below 0x20, or equals '"' or '\\'.
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  auto has_escape = [](uint64_t x) {
    auto zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
    return ((x - 0x20 * kOnes) & ~x & kHighs) | zero_byte(x ^ ('"' * kOnes)) | zero_byte(x ^ ('\\' * kOnes));
  };
  for (; s.size() - i >= 8; i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if (has_escape(word)) break;  // the byte loop below finds which
  }
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return i;
  }
  return s.size();
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t start = 0;
  for (size_t i = FindJsonSpecialByte(s, 0); i < s.size(); i = FindJsonSpecialByte(s, i + 1)) {
    out->append(s.data() + start, i - start);
    AppendEscaped(s[i], out);
    start = i + 1;
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      AppendEscaped(c, &out);
      ++i;
      continue;
    }
    const size_t n = Utf8Length(s, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  return out + "\"";
}

size_t FirstInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

}  // namespace stele
