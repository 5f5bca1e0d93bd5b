#include "integrity/merkle_base.h"

#include <cstring>

#include "integrity/hash_store.h"
#include "util/coding.h"
#include "util/hash.h"

namespace stele {
namespace {

// Layout (docs/format.md, "Merkle base"): magic "STLBASE1", u64 size,
// u32 hash count, count x 32-byte hashes (largest subtree first), u64
// XXH3-64 of everything before it.  Little-endian.
constexpr std::string_view kBaseMagic = "STLBASE1";
constexpr size_t kBaseFixed = 8 + 8 + 4;

int PopCount(uint64_t v) { return __builtin_popcountll(v); }

}  // namespace

std::string MerkleBasePath(const std::string& dir) { return dir + "/" + std::string(kMerkleDir) + "/base.bin"; }

Result<std::optional<CompactRange>> ReadMerkleBase(Env* env, const std::string& dir) {
  const std::string path = MerkleBasePath(dir);
  if (!env->Exists(path)) return std::optional<CompactRange>();
  auto bytes = ReadFileToString(env, path, 4096);
  if (!bytes.ok()) return bytes.status();
  const std::string& b = *bytes;
  auto bad = [&](const char* why) { return Status::Corruption(path + ": " + why); };
  if (b.size() < kBaseFixed + 8 || b.compare(0, 8, kBaseMagic) != 0) return bad("not a Merkle base file");
  const uint64_t size = GetU64(b.data() + 8);
  const uint32_t count = GetU32(b.data() + 16);
  if (b.size() != kBaseFixed + 32ull * count + 8) return bad("length does not match its hash count");
  if (GetU64(b.data() + b.size() - 8) != Checksum(b.data(), b.size() - 8)) return bad("checksum mismatch");
  if (static_cast<int>(count) != PopCount(size)) return bad("hash count does not match its size");
  std::vector<Hash> hashes(count);
  for (uint32_t i = 0; i < count; ++i) std::memcpy(hashes[i].data(), b.data() + kBaseFixed + 32 * i, 32);
  return std::optional<CompactRange>(CompactRange(size, std::move(hashes)));
}

Status WriteMerkleBase(Env* env, const std::string& dir, const CompactRange& base) {
  std::string b(kBaseMagic);
  b.resize(kBaseFixed + 32 * base.hashes().size() + 8);
  PutU64(b.data() + 8, base.size());
  PutU32(b.data() + 16, static_cast<uint32_t>(base.hashes().size()));
  for (size_t i = 0; i < base.hashes().size(); ++i) std::memcpy(b.data() + kBaseFixed + 32 * i, base.hashes()[i].data(), 32);
  PutU64(b.data() + b.size() - 8, Checksum(b.data(), b.size() - 8));
  STELE_RETURN_IF_ERROR(env->CreateDir(dir + "/" + std::string(kMerkleDir)));
  STELE_RETURN_IF_ERROR(WriteFileAtomically(env, MerkleBasePath(dir), b));
  return env->SyncDir(dir + "/" + std::string(kMerkleDir));
}

Result<CompactRange> ComputeMerkleBase(Env* env, const std::string& dir, uint64_t size,
                                       const std::optional<CompactRange>& previous) {
  const uint64_t previous_size = previous ? previous->size() : 0;
  if (size < previous_size) return Status::InvalidArgument("a Merkle base cannot shrink");
  // Stored path: one full node per set bit of size.
  HashStoreReader reader(env, dir, DirectoryLeafLoader(env, dir));
  std::vector<Hash> hashes;
  uint64_t done = 0;
  bool stored_ok = true;
  for (int h = 63; h >= 0 && stored_ok; --h) {
    if (!(size >> h & 1)) continue;
    auto node = reader.FullNode(h, done >> h);
    if (!node.ok()) {
      stored_ok = false;
      break;
    }
    hashes.push_back(*node);
    done += uint64_t{1} << h;
  }
  if (stored_ok) return CompactRange(size, std::move(hashes));

  // Extension path: the previous base plus the leaves after it.
  CompactRange range = previous ? *previous : CompactRange();
  LeafLoader loader = DirectoryLeafLoader(env, dir);
  Sha256& sha = ThreadSha256();
  std::vector<Hash> leaves;
  for (uint64_t at = previous_size; at < size;) {
    const uint64_t count = std::min<uint64_t>(size - at, 1u << 16);
    STELE_RETURN_IF_ERROR(loader(at, count, &leaves));
    for (const Hash& leaf : leaves) range.Append(leaf, sha);
    at += count;
  }
  return range;
}

}  // namespace stele
