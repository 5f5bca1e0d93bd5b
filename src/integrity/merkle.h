// RFC 6962 / RFC 9162 Merkle tree: the incremental root (CompactRange), proof
// generation over any source of full-subtree hashes, and the RFC 9162
// verification algorithms, written from the RFC text independently of the
// generators so each checks the other.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "integrity/sha256.h"
#include "stele/status.h"

namespace stele {

// The hashes of the perfect subtrees that make up a tree of size n (one per
// set bit of n, largest first): O(log n) state, about one extra hash per
// appended leaf.  Not thread-safe.
class CompactRange {
 public:
  // Called for every perfect subtree completed by an Append: its height
  // (leaves are height 0) and its index among the subtrees of that height.
  using NodeVisitor = std::function<void(int height, uint64_t index, const Hash& hash)>;

  CompactRange() = default;
  // A range of size `size` from its subtree hashes (largest first).
  CompactRange(uint64_t size, std::vector<Hash> hashes) : size_(size), hashes_(std::move(hashes)) {}

  void Append(const Hash& leaf, Sha256& sha, const NodeVisitor& visit = nullptr);
  // The same as Append of each leaf in turn, computed a tree level at a
  // time so that the node hashes of a level run two at a time
  // (Sha256::NodeHashes).  `visit` sees the same nodes, every level's in
  // index order, the levels lowest first.
  void AppendAll(std::span<const Hash> leaves, Sha256& sha, const NodeVisitor& visit = nullptr);
  // The RFC 6962 root (SHA-256 of the empty string for size 0).
  Hash Root(Sha256& sha) const;
  uint64_t size() const { return size_; }
  const std::vector<Hash>& hashes() const { return hashes_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> hashes_;
  std::vector<Hash> level_;  // AppendAll's scratch, kept for its capacity
};

// Source of perfect-subtree hashes: FullNode(h, i) is the hash of leaves
// [i * 2^h, (i + 1) * 2^h).
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  virtual Result<Hash> FullNode(int height, uint64_t index) = 0;
  // MTH(D[begin:end]) as RFC 6962 defines it, from full nodes.
  Result<Hash> RangeHash(uint64_t begin, uint64_t end);
};

// RFC 6962 §2.1.1 audit path for leaf `index` in a tree of `size` leaves.
Result<std::vector<Hash>> InclusionProof(NodeSource& source, uint64_t index, uint64_t size);
// RFC 6962 §2.1.2 consistency proof between sizes old_size <= new_size.
Result<std::vector<Hash>> ConsistencyProof(NodeSource& source, uint64_t old_size, uint64_t new_size);

// RFC 9162 §2.1.3.2.  OK or kCorruption with the reason.
Status VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size, const std::vector<Hash>& proof,
                       const Hash& root);
// RFC 9162 §2.1.4.2.
Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                         const std::vector<Hash>& proof);

// Every level of a tree held in memory (tests, and small trees).
class MemoryTree final : public NodeSource {
 public:
  void AppendLeaf(const Hash& leaf_hash);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Hash Root();
  Result<Hash> FullNode(int height, uint64_t index) override;

 private:
  std::vector<std::vector<Hash>> levels_;  // levels_[h][i]: perfect subtree hashes
};

}  // namespace stele
