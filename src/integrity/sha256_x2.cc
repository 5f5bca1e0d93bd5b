#include "integrity/sha256_x2.h"

#include <cpuid.h>
#include <immintrin.h>

#include <atomic>
#include <cstring>
#include <utility>

namespace stele::sha256x2 {
namespace {

std::atomic<bool> force_fallback{false};

bool CpuHasShaNi() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = ecx & (1u << 9), sse41 = ecx & (1u << 19);
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool sha = ebx & (1u << 29);
  return ssse3 && sse41 && sha;
}

// FIPS 180-4 §4.2.2.
alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
// §5.3.3.
constexpr uint32_t kInitial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#define STELE_SHA_TARGET __attribute__((target("sha,ssse3,sse4.1")))

// The eight working words as sha256rnds2 wants them: {a,b,e,f} and {c,d,g,h}.
struct State {
  __m128i abef, cdgh;
};

STELE_SHA_TARGET inline State InitialState() {
  const __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kInitial));
  const __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kInitial + 4));
  const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  return {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
}

STELE_SHA_TARGET inline void StoreDigest(const State& s, Hash* out) {
  const __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
  const __m128i dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  const __m128i hgfe = _mm_alignr_epi8(dchg, feba, 8);
  // The digest is the words big-endian.
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out->data()), _mm_shuffle_epi8(dcba, swap));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out->data() + 16), _mm_shuffle_epi8(hgfe, swap));
}

// One message's schedule: w[k] holds W[4k..4k+3] of the current group's
// window (FIPS 180-4 §6.2.2 step 1, four words at a time).
struct Schedule {
  __m128i w[4];
};

// Rounds 4g..4g+3 of one block.  Groups 0-3 load the block's words; later
// groups derive theirs: W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
template <int G>
STELE_SHA_TARGET inline __attribute__((always_inline)) void Group(State& s, Schedule& m, const uint8_t* block) {
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i w;
  if constexpr (G < 4) {
    w = m.w[G] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * G)), swap);
  } else {
    const __m128i sum = _mm_add_epi32(_mm_sha256msg1_epu32(m.w[G & 3], m.w[(G + 1) & 3]),
                                      _mm_alignr_epi8(m.w[(G + 3) & 3], m.w[(G + 2) & 3], 4));
    w = m.w[G & 3] = _mm_sha256msg2_epu32(sum, m.w[(G + 3) & 3]);
  }
  const __m128i wk = _mm_add_epi32(w, _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * G)));
  s.cdgh = _mm_sha256rnds2_epu32(s.cdgh, s.abef, wk);
  s.abef = _mm_sha256rnds2_epu32(s.abef, s.cdgh, _mm_shuffle_epi32(wk, 0x0E));
}

template <int... G>
STELE_SHA_TARGET inline __attribute__((always_inline)) void Blocks1(State& s, const uint8_t* b,
                                                                    std::integer_sequence<int, G...>) {
  Schedule m;
  (Group<G>(s, m, b), ...);
}

// Both lanes' groups alternate, so each lane's dependent rounds overlap the
// other's.  The states are locals: through references the compiler would
// store and reload them between rounds (the blocks may alias them).
template <int... G>
STELE_SHA_TARGET inline __attribute__((always_inline)) void Blocks2(State& a, State& b, const uint8_t* ba,
                                                                    const uint8_t* bb,
                                                                    std::integer_sequence<int, G...>) {
  Schedule ma, mb;
  ((Group<G>(a, ma, ba), Group<G>(b, mb, bb)), ...);
}

STELE_SHA_TARGET void Compress1(State* state, const uint8_t* block) {
  State s = *state;
  Blocks1(s, block, std::make_integer_sequence<int, 16>());
  state->abef = _mm_add_epi32(s.abef, state->abef);
  state->cdgh = _mm_add_epi32(s.cdgh, state->cdgh);
}

STELE_SHA_TARGET void Compress2(State* state_a, State* state_b, const uint8_t* block_a, const uint8_t* block_b) {
  State a = *state_a, b = *state_b;
  Blocks2(a, b, block_a, block_b, std::make_integer_sequence<int, 16>());
  state_a->abef = _mm_add_epi32(a.abef, state_a->abef);
  state_a->cdgh = _mm_add_epi32(a.cdgh, state_a->cdgh);
  state_b->abef = _mm_add_epi32(b.abef, state_b->abef);
  state_b->cdgh = _mm_add_epi32(b.cdgh, state_b->cdgh);
}

// One message, prefix || body, as a sequence of 64-byte blocks (FIPS 180-4
// §5.1.1 padding).  Whole blocks are read in place, except the first, which
// starts with the prefix byte; the last one or two are built in `tail_`.
class Lane {
 public:
  STELE_SHA_TARGET void Start(uint8_t prefix, std::string_view body, size_t output) {
    body_ = reinterpret_cast<const uint8_t*>(body.data());
    output_ = output;
    const size_t total = 1 + body.size();
    full_ = total / 64;
    const size_t rem = total % 64;
    if (full_ > 0) {
      head_[0] = prefix;
      std::memcpy(head_ + 1, body_, 63);
      std::memcpy(tail_, body_ + 64 * full_ - 1, rem);
    } else {
      tail_[0] = prefix;
      if (!body.empty()) std::memcpy(tail_ + 1, body_, body.size());
    }
    blocks_ = full_ + (rem + 9 <= 64 ? 1 : 2);
    // 0x80, zeros up to the length, the length in bits, big-endian: only
    // the padding's own bytes are written.
    const size_t length_at = 64 * (blocks_ - full_) - 8;
    tail_[rem] = 0x80;
    std::memset(tail_ + rem + 1, 0, length_at - rem - 1);
    const uint64_t bits = __builtin_bswap64(static_cast<uint64_t>(total) * 8);
    std::memcpy(tail_ + length_at, &bits, 8);
    next_ = 0;
    state_ = InitialState();
  }
  const uint8_t* NextBlock() {
    const size_t i = next_++;
    if (i >= full_) return tail_ + 64 * (i - full_);
    return i == 0 ? head_ : body_ + 64 * i - 1;
  }
  bool done() const { return next_ == blocks_; }
  State* state() { return &state_; }
  size_t output() const { return output_; }

 private:
  State state_;
  const uint8_t* body_ = nullptr;
  size_t full_ = 0, blocks_ = 0, next_ = 0, output_ = 0;
  alignas(16) uint8_t head_[64];
  alignas(16) uint8_t tail_[128];
};

// Hashes messages 0..n-1 on two lanes.  A lane that finishes its message
// takes the next one at once, so messages of unequal lengths still run
// paired until the list is exhausted.
template <class BodyAt>
STELE_SHA_TARGET void RunTwoLanes(uint8_t prefix, size_t n, const BodyAt& body_at, Hash* out) {
  Lane lanes[2];
  bool busy[2] = {false, false};
  size_t next = 0;
  auto take = [&](int l) {
    busy[l] = next < n;
    if (busy[l]) {
      lanes[l].Start(prefix, body_at(next), next);
      ++next;
    }
  };
  auto finish_if_done = [&](int l) {
    if (!lanes[l].done()) return;
    StoreDigest(*lanes[l].state(), &out[lanes[l].output()]);
    take(l);
  };
  take(0);
  take(1);
  while (busy[0] && busy[1]) {
    Compress2(lanes[0].state(), lanes[1].state(), lanes[0].NextBlock(), lanes[1].NextBlock());
    finish_if_done(0);
    finish_if_done(1);
  }
  for (int l = 0; l < 2; ++l) {
    while (busy[l]) {
      Compress1(lanes[l].state(), lanes[l].NextBlock());
      finish_if_done(l);
    }
  }
}

bool UseShaNi() {
  static const bool has = CpuHasShaNi();
  return has && !force_fallback.load(std::memory_order_relaxed);
}

// out[i] = SHA-256(prefix || body_at(i)) for i < n: two lanes with SHA-NI,
// else one message at a time through OpenSSL.
template <class BodyAt>
void Digests(uint8_t prefix, size_t n, const BodyAt& body_at, Hash* out) {
  if (UseShaNi()) {
    RunTwoLanes(prefix, n, body_at, out);
    return;
  }
  const char p = static_cast<char>(prefix);
  for (size_t i = 0; i < n; ++i) {
    Sha256Stream s;
    s.Update(std::string_view(&p, 1));
    s.Update(body_at(i));
    out[i] = s.Final();
  }
}

}  // namespace

bool Available() { return CpuHasShaNi(); }

void ForceFallbackForTesting(bool fallback) { force_fallback.store(fallback); }

void PrefixedDigests(uint8_t prefix, std::span<const std::string_view> bodies, Hash* out) {
  Digests(prefix, bodies.size(), [bodies](size_t i) { return bodies[i]; }, out);
}

void PrefixedPairDigests(uint8_t prefix, const Hash* pairs, size_t n, Hash* out) {
  static_assert(sizeof(Hash) == 32, "pairs are read as 64 contiguous bytes");
  Digests(prefix, n, [pairs](size_t i) { return std::string_view(reinterpret_cast<const char*>(pairs[2 * i].data()), 64); },
          out);
}

}  // namespace stele::sha256x2
