// HashStore: the Merkle hashes kept beside the events, so proofs never read
// the whole log (docs/format.md, "Merkle hash files").
//
//   <dir>/merkle/fp.bin       4 bytes per leaf: the first 4 bytes of its leaf
//                             hash, to name the exact event that was altered
//   <dir>/merkle/h8.bin       32-byte hashes of the perfect subtrees of height 8
//   <dir>/merkle/h16.bin      ... height 16, and so on (h24, h32, ...)
//
// Leaf hashes themselves are not stored (they would cost 32 bytes an event,
// about as much as the compressed event); a proof recomputes the <= 256 it
// needs from one or two frames.  Hash files are derived data: the writer
// syncs them at each checkpoint and rebuilds a missing or torn tail from the
// events on open.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "integrity/merkle.h"
#include "util/env.h"

namespace stele {

inline constexpr std::string_view kMerkleDir = "merkle";
inline constexpr int kStoredLevelStep = 8;  // heights 8, 16, 24, ... are stored

// Leaf hashes of leaves [first, first + count), read from the events.
using LeafLoader = std::function<Status(uint64_t first, uint64_t count, std::vector<Hash>* out)>;
// The loader that reads a data directory's segments.
LeafLoader DirectoryLeafLoader(Env* env, const std::string& dir);

// Read side: a NodeSource over the hash files plus the events.  Tolerates
// hash files that lag behind the events (it recomputes what is missing).
class HashStoreReader final : public NodeSource {
 public:
  HashStoreReader(Env* env, std::string dir, LeafLoader loader);
  Result<Hash> FullNode(int height, uint64_t index) override;
  // Stored 4-byte fingerprint of leaf `index`, if present.
  bool Fingerprint(uint64_t index, uint32_t* fp);
  // Stored hash at height 8k, index i, if present.
  bool StoredNode(int k, uint64_t index, Hash* out);

 private:
  // Reads `count` stored hashes of level k from index `first`; false if absent.
  bool ReadStored(int k, uint64_t first, uint64_t count, std::vector<Hash>* out);
  Status LeafGroup(uint64_t group, const std::vector<Hash>** leaves);
  RandomAccessFile* File(int k);  // k = 0: fp.bin

  Env* env_;
  std::string dir_;
  LeafLoader loader_;
  std::vector<std::unique_ptr<RandomAccessFile>> files_;
  std::vector<bool> tried_;
  // The few leaf groups a proof touches (the leaf's and the right edge's),
  // most recently used last.
  std::vector<std::pair<uint64_t, std::vector<Hash>>> groups_;
};

// Write side, owned by the writer thread: keeps the compact range of the
// whole log and appends fingerprints and stored-level hashes as leaves are
// added.  Not thread-safe.
class HashStoreWriter {
 public:
  // Recovers the store for a log of `tree_size` leaves: truncates entries the
  // events no longer back, and rebuilds missing ones from the events.
  static Result<std::unique_ptr<HashStoreWriter>> Open(Env* env, const std::string& dir, uint64_t tree_size,
                                                       const LeafLoader& loader);
  void AddLeaf(const Hash& leaf);
  // AddLeaf of each in turn, with the node hashes two at a time
  // (CompactRange::AppendAll).
  void AddLeaves(std::span<const Hash> leaves);
  // Hands buffered hashes to the OS.  Sync() also makes them durable.
  Status Flush();
  Status Sync();
  Hash Root() { return range_.Root(sha_); }
  uint64_t size() const { return range_.size(); }
  // Leaves rehashed from the events by the last Open().
  uint64_t rebuilt_leaves() const { return rebuilt_; }

 private:
  HashStoreWriter(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  Status EnsureLevel(int k);
  void StoreNode(int height, uint64_t index, const Hash& hash);

  Env* env_;
  std::string dir_;
  Sha256 sha_;
  CompactRange range_;
  // Index 0 is fp.bin, index k >= 1 is h{8k}.bin.
  std::vector<std::unique_ptr<WritableFile>> files_;
  std::vector<uint64_t> counts_;     // entries in file + buffer
  std::vector<std::string> buffers_;
  uint64_t rebuilt_ = 0;
};

}  // namespace stele
