// MerkleBase: what retention leaves behind of the events it removed.
//
// Retention deletes whole old segments (SPEC §2), but the Merkle tree still
// starts at seq 1.  <dir>/merkle/base.bin keeps the compact range (one hash
// per set bit of its size) of the removed prefix, so `stele verify` resumes
// the tree there and checks every later signed checkpoint's root in full.
// The file needs no signature of its own: a forged base changes the root of
// every later checkpoint, which is signed.
//
// Written atomically (temporary file, fsync, rename, directory sync) before
// any segment is removed; a crash in between leaves extra segments that are
// covered by the base and removed on the next open.
#pragma once

#include <optional>
#include <string>

#include "integrity/merkle.h"
#include "util/env.h"

namespace stele {

// <dir>/merkle/base.bin
std::string MerkleBasePath(const std::string& dir);

// The base, or nullopt when retention never ran.  kCorruption for a damaged
// file (checksum, size, or hash count that does not match its size).
Result<std::optional<CompactRange>> ReadMerkleBase(Env* env, const std::string& dir);
Status WriteMerkleBase(Env* env, const std::string& dir, const CompactRange& base);

// The compact range of the first `size` leaves: perfect subtrees of height
// >= 8 from the stored hash files, the few below from the events, which must
// still exist (leaves (size & ~255) .. size).  When they are gone (tiny
// segments removed earlier), extends `previous` with the leaves of the
// events after it instead.
Result<CompactRange> ComputeMerkleBase(Env* env, const std::string& dir, uint64_t size,
                                       const std::optional<CompactRange>& previous);

}  // namespace stele
