// RFC 6962 Merkle tree: known answers and properties.
//
// Known-answer vectors (leaves, roots, inclusion and consistency proofs) are
// the RFC 6962 reference data as published in transparency-dev/merkle,
// proof/verify_test.go (Apache-2.0), which carries them over from the
// Certificate Transparency C++ tests.  Only the data is copied.
#include <gtest/gtest.h>

#include <random>

#include "integrity/merkle.h"

namespace stele {
namespace {

Hash H(const char* hex) {
  Hash h;
  EXPECT_TRUE(FromHex(hex, &h)) << hex;
  return h;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

const std::vector<std::string> kLeaves = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f"};
const char* const kRoots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct ProofVector {
  uint64_t a, b;  // inclusion: 1-based leaf, size; consistency: size1, size2
  std::vector<const char*> proof;
};
const ProofVector kInclusion[] = {
    {1, 8, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {3, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {2, 5, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};
const ProofVector kConsistency[] = {
    {1, 8, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

std::vector<Hash> Hashes(const std::vector<const char*>& hex) {
  std::vector<Hash> out;
  for (const char* h : hex) out.push_back(H(h));
  return out;
}

MemoryTree ReferenceTree() {
  MemoryTree t;
  for (const auto& l : kLeaves) t.AppendLeaf(ThreadSha256().LeafHash(Unhex(l)));
  return t;
}

TEST(MerkleKat, EmptyTreeRootIsSha256OfNothing) {
  EXPECT_EQ(ToHex(CompactRange().Root(ThreadSha256())),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MerkleKat, RootsOfTheReferenceLeavesMatch) {
  CompactRange range;
  MemoryTree tree;
  for (size_t i = 0; i < kLeaves.size(); ++i) {
    const Hash leaf = ThreadSha256().LeafHash(Unhex(kLeaves[i]));
    range.Append(leaf, ThreadSha256());
    tree.AppendLeaf(leaf);
    EXPECT_EQ(ToHex(range.Root(ThreadSha256())), kRoots[i]) << "size " << i + 1;
    EXPECT_EQ(ToHex(tree.Root()), kRoots[i]) << "size " << i + 1;
  }
}

TEST(MerkleKat, InclusionProofsMatchAndVerify) {
  MemoryTree tree = ReferenceTree();
  for (const auto& v : kInclusion) {
    MemoryTree sub;
    for (uint64_t i = 0; i < v.b; ++i) sub.AppendLeaf(*tree.FullNode(0, i));
    auto proof = InclusionProof(sub, v.a - 1, v.b);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(*proof, Hashes(v.proof)) << v.a << "/" << v.b;
    EXPECT_TRUE(VerifyInclusion(*tree.FullNode(0, v.a - 1), v.a - 1, v.b, Hashes(v.proof), H(kRoots[v.b - 1])).ok());
  }
}

TEST(MerkleKat, ConsistencyProofsMatchAndVerify) {
  MemoryTree tree = ReferenceTree();
  for (const auto& v : kConsistency) {
    MemoryTree sub;
    for (uint64_t i = 0; i < v.b; ++i) sub.AppendLeaf(*tree.FullNode(0, i));
    auto proof = ConsistencyProof(sub, v.a, v.b);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(*proof, Hashes(v.proof)) << v.a << "->" << v.b;
    Status s = VerifyConsistency(v.a, v.b, H(kRoots[v.a - 1]), H(kRoots[v.b - 1]), Hashes(v.proof));
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
}

TEST(MerkleKat, TrivialConsistencyCases) {
  const Hash a = H(kRoots[0]), b = H(kRoots[1]);
  EXPECT_TRUE(VerifyConsistency(0, 0, a, a, {}).ok());
  EXPECT_TRUE(VerifyConsistency(0, 1, a, b, {}).ok());
  EXPECT_TRUE(VerifyConsistency(1, 1, b, b, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 1, a, b, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 0, a, b, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 2, a, b, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 1, a, a, {a}).ok());
}

// Any single flipped bit in a proof, the leaf or a root must break it.
TEST(MerkleProperty, EveryProofVerifiesAndAnyChangeBreaksIt) {
  std::mt19937_64 rng(99);
  MemoryTree tree;
  std::vector<Hash> roots = {ThreadSha256().Digest({})};
  CompactRange range;
  const uint64_t kMax = 100'000;
  for (uint64_t i = 0; i < kMax; ++i) {
    Hash leaf = ThreadSha256().LeafHash(std::to_string(i));
    tree.AppendLeaf(leaf);
    range.Append(leaf, ThreadSha256());
    roots.push_back(range.Root(ThreadSha256()));
  }
  for (uint64_t i : {uint64_t{1}, uint64_t{2}, uint64_t{255}, uint64_t{256}, uint64_t{257}, kMax}) {
    ASSERT_EQ(*tree.RangeHash(0, i), roots[i]) << i;
  }
  for (int round = 0; round < 3000; ++round) {
    const uint64_t size = 1 + rng() % kMax;
    const uint64_t index = rng() % size;
    auto proof = InclusionProof(tree, index, size);
    ASSERT_TRUE(proof.ok());
    const Hash leaf = *tree.FullNode(0, index);
    ASSERT_TRUE(VerifyInclusion(leaf, index, size, *proof, roots[size]).ok()) << index << "/" << size;
    Hash bad_leaf = leaf;
    bad_leaf[rng() % 32] ^= static_cast<uint8_t>(1u << (rng() % 8));
    EXPECT_FALSE(VerifyInclusion(bad_leaf, index, size, *proof, roots[size]).ok());
    Hash bad_root = roots[size];
    bad_root[rng() % 32] ^= 0x80;
    EXPECT_FALSE(VerifyInclusion(leaf, index, size, *proof, bad_root).ok());
    if (!proof->empty()) {
      auto bad = *proof;
      bad[rng() % bad.size()][rng() % 32] ^= static_cast<uint8_t>(1u << (rng() % 8));
      EXPECT_FALSE(VerifyInclusion(leaf, index, size, bad, roots[size]).ok());
      auto shorter = *proof;
      shorter.pop_back();
      EXPECT_FALSE(VerifyInclusion(leaf, index, size, shorter, roots[size]).ok());
    }

    const uint64_t old_size = 1 + rng() % size;
    auto cproof = ConsistencyProof(tree, old_size, size);
    ASSERT_TRUE(cproof.ok());
    ASSERT_TRUE(VerifyConsistency(old_size, size, roots[old_size], roots[size], *cproof).ok())
        << old_size << "->" << size;
    if (!cproof->empty()) {
      auto bad = *cproof;
      bad[rng() % bad.size()][rng() % 32] ^= static_cast<uint8_t>(1u << (rng() % 8));
      EXPECT_FALSE(VerifyConsistency(old_size, size, roots[old_size], roots[size], bad).ok());
      Hash bad_old = roots[old_size];
      bad_old[rng() % 32] ^= 1;
      EXPECT_FALSE(VerifyConsistency(old_size, size, bad_old, roots[size], *cproof).ok());
      Hash bad_new = roots[size];
      bad_new[rng() % 32] ^= 1;
      EXPECT_FALSE(VerifyConsistency(old_size, size, roots[old_size], bad_new, *cproof).ok());
    }
  }
}

TEST(MerkleProperty, CompactRangeReportsPerfectSubtrees) {
  CompactRange range;
  MemoryTree tree;
  int reported = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    Hash leaf = ThreadSha256().LeafHash(std::to_string(i));
    tree.AppendLeaf(leaf);
    range.Append(leaf, ThreadSha256(), [&](int h, uint64_t idx, const Hash& hash) {
      EXPECT_EQ(hash, *tree.FullNode(h, idx)) << h << "/" << idx;
      ++reported;
    });
  }
  EXPECT_EQ(reported, 1000 - 6);  // one per merge: n minus popcount(n)
}

}  // namespace
}  // namespace stele
