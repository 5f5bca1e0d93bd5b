// Two-lane SHA-256 (integrity/sha256_x2.h) against OpenSSL, one message at a
// time: every body length up to a few blocks past the padding boundaries,
// long bodies, unaligned bodies, lists whose lengths differ so the lanes
// finish at different times, and node hashes computed in place.  Each test
// runs both paths: SHA-NI where the CPU has it, and the OpenSSL fallback.
#include <gtest/gtest.h>

#include <random>

#include "integrity/merkle.h"
#include "integrity/sha256.h"
#include "integrity/sha256_x2.h"

namespace stele {
namespace {

Hash Reference(char prefix, std::string_view body) {
  Sha256Stream s;
  s.Update(std::string_view(&prefix, 1));
  s.Update(body);
  return s.Final();
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Runs `body` once on the SHA-NI path (where present) and once on OpenSSL's.
template <class F>
void OnBothPaths(F body) {
  for (bool fallback : {false, true}) {
    SCOPED_TRACE(fallback ? "OpenSSL fallback" : (sha256x2::Available() ? "SHA-NI two lanes" : "no SHA-NI here"));
    sha256x2::ForceFallbackForTesting(fallback);
    body();
  }
  sha256x2::ForceFallbackForTesting(false);
}

TEST(Sha256TwoLanes, LeafHashesEqualOpenSslForEveryLengthAndOrder) {
  // A pool read at odd offsets, so bodies are unaligned as records in a
  // batch are.
  const std::string pool = RandomBytes(80 * 1024, 1);
  std::vector<std::string_view> bodies;
  for (size_t len = 0; len <= 300; ++len) bodies.emplace_back(pool.data() + (len * 7) % 61 + 1, len);
  for (size_t len : {511, 512, 1000, 4095, 65536, 70001}) bodies.emplace_back(pool.data() + 3, len);
  // Short and long interleaved: one lane finishes many messages while the
  // other is still on one.
  std::mt19937 rng(2);
  std::shuffle(bodies.begin(), bodies.end(), rng);
  OnBothPaths([&] {
    std::vector<Hash> got(bodies.size());
    ThreadSha256().LeafHashes(bodies, got.data());
    for (size_t i = 0; i < bodies.size(); ++i) {
      ASSERT_EQ(ToHex(got[i]), ToHex(Reference('\x00', bodies[i]))) << "body of " << bodies[i].size() << " bytes";
      ASSERT_EQ(got[i], ThreadSha256().LeafHash(bodies[i]));
    }
    // Lists of one and of none.
    Hash one;
    ThreadSha256().LeafHashes(std::span<const std::string_view>(bodies.data(), 1), &one);
    EXPECT_EQ(one, Reference('\x00', bodies[0]));
    ThreadSha256().LeafHashes({}, nullptr);
  });
}

TEST(Sha256TwoLanes, KnownDigestsOfTheEmptyLeafAndAbc) {
  // SHA-256(0x00) and SHA-256(0x00 || "abc"), from FIPS 180-4's algorithm
  // as computed by OpenSSL and by Python's hashlib.
  OnBothPaths([] {
    const std::string_view bodies[] = {"", "abc"};
    Hash got[2];
    ThreadSha256().LeafHashes(bodies, got);
    EXPECT_EQ(ToHex(got[0]), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    EXPECT_EQ(ToHex(got[1]), ToHex(Reference('\x00', "abc")));
  });
}

TEST(Sha256TwoLanes, NodeHashesEqualOneAtATimeAlsoInPlace) {
  OnBothPaths([] {
    for (size_t pairs : {0, 1, 2, 3, 17, 256}) {
      std::vector<Hash> children(2 * pairs);
      std::mt19937 rng(static_cast<uint32_t>(pairs));
      for (Hash& h : children) {
        for (uint8_t& b : h) b = static_cast<uint8_t>(rng());
      }
      std::vector<Hash> want(pairs);
      for (size_t i = 0; i < pairs; ++i) {
        std::string body(reinterpret_cast<const char*>(children[2 * i].data()), 32);
        body.append(reinterpret_cast<const char*>(children[2 * i + 1].data()), 32);
        want[i] = Reference('\x01', body);
        ASSERT_EQ(want[i], ThreadSha256().NodeHash(children[2 * i], children[2 * i + 1]));
      }
      std::vector<Hash> apart(pairs);
      ThreadSha256().NodeHashes(children.data(), pairs, apart.data());
      EXPECT_EQ(apart, want) << pairs << " pairs";
      ThreadSha256().NodeHashes(children.data(), pairs, children.data());  // a level halved in place
      children.resize(pairs);
      EXPECT_EQ(children, want) << pairs << " pairs, in place";
    }
  });
}

struct Visit {
  int height;
  uint64_t index;
  Hash hash;
  bool operator==(const Visit&) const = default;
};

TEST(Sha256TwoLanes, CompactRangeAppendAllEqualsAppendingOneByOne) {
  Sha256 sha;
  auto leaf = [&](uint64_t i) { return sha.LeafHash(std::to_string(i)); };
  auto per_height = [](std::vector<Visit> v) {
    std::stable_sort(v.begin(), v.end(), [](const Visit& a, const Visit& b) { return a.height < b.height; });
    return v;
  };
  std::vector<std::pair<uint64_t, uint64_t>> cases;  // (size before, leaves appended)
  for (uint64_t start = 0; start <= 40; ++start) {
    for (uint64_t n = 0; n <= 40; ++n) cases.emplace_back(start, n);
  }
  cases.emplace_back(1023, 1025);
  cases.emplace_back(4096, 4096);
  cases.emplace_back(12345, 3001);
  OnBothPaths([&] {
    for (auto [start, n] : cases) {
      CompactRange one, all;
      for (uint64_t i = 0; i < start; ++i) {
        one.Append(leaf(i), sha);
        all.Append(leaf(i), sha);
      }
      std::vector<Visit> one_visits, all_visits;
      std::vector<Hash> leaves;
      for (uint64_t i = start; i < start + n; ++i) {
        leaves.push_back(leaf(i));
        one.Append(leaves.back(), sha, [&](int h, uint64_t idx, const Hash& x) { one_visits.push_back({h, idx, x}); });
      }
      all.AppendAll(leaves, sha, [&](int h, uint64_t idx, const Hash& x) { all_visits.push_back({h, idx, x}); });
      ASSERT_EQ(all.size(), one.size()) << start << " + " << n;
      ASSERT_EQ(all.hashes(), one.hashes()) << start << " + " << n;
      ASSERT_EQ(all.Root(sha), one.Root(sha)) << start << " + " << n;
      // The same nodes, each level's in index order, levels lowest first.
      ASSERT_EQ(all_visits, per_height(one_visits)) << start << " + " << n;
    }
  });
}

}  // namespace
}  // namespace stele
