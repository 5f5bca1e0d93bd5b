#include "integrity/merkle.h"

#include <bit>

namespace stele {
namespace {

// Largest power of two strictly less than n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

Status Fail(const char* why) { return Status::Corruption(why); }

}  // namespace

void CompactRange::Append(const Hash& leaf, Sha256& sha, const NodeVisitor& visit) {
  hashes_.push_back(leaf);
  // Each trailing one bit of the old size is a perfect subtree to merge with.
  uint64_t bits = size_;
  int height = 0;
  ++size_;
  while (bits & 1) {
    Hash right = hashes_.back();
    hashes_.pop_back();
    hashes_.back() = sha.NodeHash(hashes_.back(), right);
    bits >>= 1;
    ++height;
    if (visit) visit(height, (size_ >> height) - 1, hashes_.back());
  }
}

void CompactRange::AppendAll(std::span<const Hash> leaves, Sha256& sha, const NodeVisitor& visit) {
  // Each pass turns the new subtrees of one height, `count` of them from
  // `in` with indices from `first`, into those of the next height in level_
  // (the leaves are read in place).  Where `first` is odd, the range's own
  // subtree of that height (its last hash) is the left sibling of the
  // first; an odd one out at the end stays a subtree of the range.
  const Hash* in = leaves.data();
  size_t count = leaves.size();
  uint64_t first = size_;
  size_ += count;
  level_.resize(count / 2 + 1);
  Hash kept[64];
  int n_kept = 0;
  for (int height = 0; count > 0; ++height) {
    size_t out = 0;
    if (first & 1) {
      level_[0] = sha.NodeHash(hashes_.back(), in[0]);
      hashes_.pop_back();
      ++in;
      --count;
      out = 1;
    }
    const size_t pairs = count / 2;
    if (count & 1) kept[n_kept++] = in[count - 1];
    sha.NodeHashes(in, pairs, level_.data() + out);  // in place from the second pass on
    in = level_.data();
    count = out + pairs;
    first >>= 1;
    if (visit) {
      for (size_t i = 0; i < count; ++i) visit(height + 1, first + i, level_[i]);
    }
  }
  // Kept subtrees came lowest first; the range lists its largest first.
  while (n_kept > 0) hashes_.push_back(kept[--n_kept]);
}

Hash CompactRange::Root(Sha256& sha) const {
  if (hashes_.empty()) return sha.Digest({});
  Hash r = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) r = sha.NodeHash(hashes_[i], r);
  return r;
}

Result<Hash> NodeSource::RangeHash(uint64_t begin, uint64_t end) {
  const uint64_t n = end - begin;
  if (n == 0) return ThreadSha256().Digest({});
  if (std::has_single_bit(n) && begin % n == 0) return FullNode(std::countr_zero(n), begin / n);
  const uint64_t k = SplitPoint(n);
  auto left = RangeHash(begin, begin + k);
  if (!left.ok()) return left;
  auto right = RangeHash(begin + k, end);
  if (!right.ok()) return right;
  return ThreadSha256().NodeHash(*left, *right);
}

namespace {

Status Path(NodeSource& src, uint64_t m, uint64_t begin, uint64_t end, std::vector<Hash>* out) {
  const uint64_t n = end - begin;
  if (n == 1) return Status::Ok();
  const uint64_t k = SplitPoint(n);
  Result<Hash> sibling = m < k ? src.RangeHash(begin + k, end) : src.RangeHash(begin, begin + k);
  if (!sibling.ok()) return sibling.status();
  STELE_RETURN_IF_ERROR(m < k ? Path(src, m, begin, begin + k, out) : Path(src, m - k, begin + k, end, out));
  out->push_back(*sibling);
  return Status::Ok();
}

Status SubProof(NodeSource& src, uint64_t m, uint64_t begin, uint64_t end, bool whole, std::vector<Hash>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (whole) return Status::Ok();
    auto h = src.RangeHash(begin, end);
    if (!h.ok()) return h.status();
    out->push_back(*h);
    return Status::Ok();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    STELE_RETURN_IF_ERROR(SubProof(src, m, begin, begin + k, whole, out));
    auto h = src.RangeHash(begin + k, end);
    if (!h.ok()) return h.status();
    out->push_back(*h);
  } else {
    STELE_RETURN_IF_ERROR(SubProof(src, m - k, begin + k, end, false, out));
    auto h = src.RangeHash(begin, begin + k);
    if (!h.ok()) return h.status();
    out->push_back(*h);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Hash>> InclusionProof(NodeSource& source, uint64_t index, uint64_t size) {
  if (index >= size) {
    return Status::InvalidArgument("leaf index " + std::to_string(index) + " is outside a tree of size " +
                                   std::to_string(size));
  }
  std::vector<Hash> proof;
  STELE_RETURN_IF_ERROR(Path(source, index, 0, size, &proof));
  return proof;
}

Result<std::vector<Hash>> ConsistencyProof(NodeSource& source, uint64_t old_size, uint64_t new_size) {
  if (old_size > new_size) {
    return Status::InvalidArgument("old size " + std::to_string(old_size) + " is larger than new size " +
                                   std::to_string(new_size));
  }
  std::vector<Hash> proof;
  if (old_size == 0 || old_size == new_size) return proof;
  STELE_RETURN_IF_ERROR(SubProof(source, old_size, 0, new_size, true, &proof));
  return proof;
}

Status VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size, const std::vector<Hash>& proof,
                       const Hash& root) {
  if (index >= size) return Fail("leaf index is not below the tree size");
  uint64_t fn = index, sn = size - 1;
  Sha256& sha = ThreadSha256();
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return Fail("inclusion proof is longer than the tree is tall");
    if ((fn & 1) || fn == sn) {
      r = sha.NodeHash(p, r);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = sha.NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Fail("inclusion proof is shorter than the tree is tall");
  if (r != root) return Fail("inclusion proof does not lead to the root");
  return Status::Ok();
}

Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                         const std::vector<Hash>& proof) {
  if (old_size > new_size) return Fail("old size is larger than new size");
  if (old_size == new_size) {
    if (!proof.empty()) return Fail("proof between equal sizes must be empty");
    if (old_root != new_root) return Fail("equal sizes with different roots");
    return Status::Ok();
  }
  if (old_size == 0) {
    if (!proof.empty()) return Fail("proof from the empty tree must be empty");
    return Status::Ok();
  }
  if (proof.empty()) return Fail("consistency proof is empty");
  std::vector<Hash> path;
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Sha256& sha = ThreadSha256();
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return Fail("consistency proof is too long");
    if ((fn & 1) || fn == sn) {
      fr = sha.NodeHash(c, fr);
      sr = sha.NodeHash(c, sr);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = sha.NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Fail("consistency proof is too short");
  if (fr != old_root) return Fail("consistency proof does not lead to the old root");
  if (sr != new_root) return Fail("consistency proof does not lead to the new root");
  return Status::Ok();
}

void MemoryTree::AppendLeaf(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  Sha256& sha = ThreadSha256();
  for (size_t h = 0; levels_[h].size() % 2 == 0; ++h) {
    if (levels_.size() == h + 1) levels_.emplace_back();
    const auto& below = levels_[h];
    levels_[h + 1].push_back(sha.NodeHash(below[below.size() - 2], below.back()));
  }
}

Hash MemoryTree::Root() { return *RangeHash(0, size()); }

Result<Hash> MemoryTree::FullNode(int height, uint64_t index) {
  if (static_cast<size_t>(height) >= levels_.size() || index >= levels_[height].size()) {
    return Status::NotFound("no full node at height " + std::to_string(height) + " index " + std::to_string(index));
  }
  return levels_[height][index];
}

}  // namespace stele
