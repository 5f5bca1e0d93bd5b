#include "integrity/hash_store.h"

#include <algorithm>
#include <bit>

#include "storage/log_snapshot.h"

namespace stele {
namespace {

std::string LevelPath(const std::string& dir, int k) {
  const std::string base = dir + "/" + std::string(kMerkleDir) + "/";
  return k == 0 ? base + "fp.bin" : base + "h" + std::to_string(k * kStoredLevelStep) + ".bin";
}
size_t EntrySize(int k) { return k == 0 ? 4 : 32; }

// Folds 2^h hashes into the root of their perfect subtree.
Hash Fold(std::vector<Hash> level, Sha256& sha) {
  while (level.size() > 1) {
    sha.NodeHashes(level.data(), level.size() / 2, level.data());
    level.resize(level.size() / 2);
  }
  return level[0];
}

}  // namespace

LeafLoader DirectoryLeafLoader(Env* env, const std::string& dir) {
  // One snapshot shared by every call of this loader: the segment list is
  // taken on the first call, so the loader sees the log as it was then.
  auto snapshot = std::make_shared<std::unique_ptr<LogSnapshot>>();
  return [env, dir, snapshot](uint64_t first, uint64_t count, std::vector<Hash>* out) -> Status {
    out->clear();
    if (count == 0) return Status::Ok();
    if (!*snapshot) {
      auto s = LogSnapshot::Open(env, dir);
      if (!s.ok()) return s.status();
      *snapshot = std::move(s).value();
    }
    auto last = (*snapshot)->LastSeq();
    if (!last.ok()) return last.status();
    const uint64_t end = std::min(first + count, *last);  // leaves [first, end) exist
    Sha256& sha = ThreadSha256();
    Status st;
    if (end > first) {
      st = (*snapshot)->ForEachRecord(first + 1, end, [&](uint64_t, std::string_view rec) {
        out->push_back(sha.LeafHash(rec));
      });
    }
    if (st.ok() && out->size() != count) {
      st = Status::Corruption("events " + std::to_string(first + out->size() + 1) + ".." +
                              std::to_string(first + count) + " are missing");
    }
    return st;
  };
}

HashStoreReader::HashStoreReader(Env* env, std::string dir, LeafLoader loader)
    : env_(env), dir_(std::move(dir)), loader_(std::move(loader)) {}

RandomAccessFile* HashStoreReader::File(int k) {
  if (static_cast<size_t>(k) >= files_.size()) {
    files_.resize(k + 1);
    tried_.resize(k + 1, false);
  }
  if (!tried_[k]) {
    tried_[k] = true;
    auto f = env_->OpenReadable(LevelPath(dir_, k));
    if (f.ok()) files_[k] = std::move(f).value();
  }
  return files_[k].get();
}

bool HashStoreReader::ReadStored(int k, uint64_t first, uint64_t count, std::vector<Hash>* out) {
  RandomAccessFile* f = File(k);
  if (f == nullptr) return false;
  out->resize(count);
  size_t got = 0;
  const size_t n = count * 32;
  if (!f->Read(first * 32, n, reinterpret_cast<char*>(out->data()), &got).ok() || got != n) return false;
  return true;
}

bool HashStoreReader::StoredNode(int k, uint64_t index, Hash* out) {
  std::vector<Hash> one;
  if (!ReadStored(k, index, 1, &one)) return false;
  *out = one[0];
  return true;
}

bool HashStoreReader::Fingerprint(uint64_t index, uint32_t* fp) {
  RandomAccessFile* f = File(0);
  char buf[4];
  size_t got = 0;
  if (f == nullptr || !f->Read(index * 4, 4, buf, &got).ok() || got != 4) return false;
  *fp = uint32_t{static_cast<uint8_t>(buf[0])} << 24 | uint32_t{static_cast<uint8_t>(buf[1])} << 16 |
        uint32_t{static_cast<uint8_t>(buf[2])} << 8 | static_cast<uint8_t>(buf[3]);
  return true;
}

Status HashStoreReader::LeafGroup(uint64_t group, const std::vector<Hash>** leaves) {
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i].first == group) {
      std::rotate(groups_.begin() + static_cast<long>(i), groups_.begin() + static_cast<long>(i) + 1, groups_.end());
      *leaves = &groups_.back().second;
      return Status::Ok();
    }
  }
  // A partial last group holds fewer than 256 leaves; load what exists.
  std::vector<Hash> got;
  Status s = loader_(group * 256, 256, &got);
  if (!s.ok() && got.empty()) return s;
  if (groups_.size() == 4) groups_.erase(groups_.begin());
  groups_.emplace_back(group, std::move(got));
  *leaves = &groups_.back().second;
  return Status::Ok();
}

Result<Hash> HashStoreReader::FullNode(int height, uint64_t index) {
  Sha256& sha = ThreadSha256();
  if (height < kStoredLevelStep) {
    const uint64_t first = index << height;
    const std::vector<Hash>* leaves;
    STELE_RETURN_IF_ERROR(LeafGroup(first / 256, &leaves));
    const uint64_t off = first % 256, n = uint64_t{1} << height;
    if (off + n > leaves->size()) {
      return Status::Corruption("leaves " + std::to_string(first + leaves->size() - off) + ".. are missing");
    }
    return Fold(std::vector<Hash>(leaves->begin() + off, leaves->begin() + off + n), sha);
  }
  const int k = height / kStoredLevelStep;
  const int below = height - k * kStoredLevelStep;
  std::vector<Hash> stored;
  if (ReadStored(k, index << below, uint64_t{1} << below, &stored)) return Fold(std::move(stored), sha);
  // Not stored (yet): build it from its two halves.
  auto l = FullNode(height - 1, 2 * index);
  if (!l.ok()) return l;
  auto r = FullNode(height - 1, 2 * index + 1);
  if (!r.ok()) return r;
  return sha.NodeHash(*l, *r);
}

Status HashStoreWriter::EnsureLevel(int k) {
  while (files_.size() <= static_cast<size_t>(k)) {
    const int level = static_cast<int>(files_.size());
    auto f = env_->OpenAppendable(LevelPath(dir_, level));
    if (!f.ok()) return f.status();
    counts_.push_back((*f)->Size() / EntrySize(level));
    buffers_.emplace_back();
    files_.push_back(std::move(f).value());
  }
  return Status::Ok();
}

Result<std::unique_ptr<HashStoreWriter>> HashStoreWriter::Open(Env* env, const std::string& dir, uint64_t n,
                                                               const LeafLoader& loader) {
  STELE_RETURN_IF_ERROR(env->CreateDir(dir + "/" + std::string(kMerkleDir)));
  std::unique_ptr<HashStoreWriter> w(new HashStoreWriter(env, dir));
  // Levels that exist on disk or that a tree of n leaves has entries for.
  int top = 0;
  while (true) {
    const int next = top + 1;
    const int shift = next * kStoredLevelStep;
    if (shift >= 64 || ((n >> shift) == 0 && !env->Exists(LevelPath(dir, next)))) break;
    top = next;
  }
  // Truncate what the events no longer back; find where stored data ends.
  uint64_t complete = n;  // every leaf below this is fully represented
  for (int k = 0; k <= top; ++k) {
    const std::string path = LevelPath(dir, k);
    const uint64_t expected = k == 0 ? n : n >> (k * kStoredLevelStep);
    uint64_t have = 0;
    if (env->Exists(path)) {
      auto f = env->OpenReadable(path);
      if (!f.ok()) return f.status();
      auto size = (*f)->Size();
      if (!size.ok()) return size.status();
      have = *size / EntrySize(k);
      if (have > expected || *size % EntrySize(k) != 0) {
        have = std::min(have, expected);
        STELE_RETURN_IF_ERROR(env->Truncate(path, have * EntrySize(k)));
      }
    }
    if (have < expected) complete = std::min(complete, k == 0 ? have : have << (k * kStoredLevelStep));
  }
  const uint64_t start = complete & ~uint64_t{255};
  for (int k = 0; k <= top; ++k) STELE_RETURN_IF_ERROR(w->EnsureLevel(k));

  // The compact range at `start` (a multiple of 256) from stored hashes.
  HashStoreReader reader(env, dir, loader);
  std::vector<Hash> hashes;
  uint64_t done = 0;
  for (int h = 63; h >= kStoredLevelStep; --h) {
    if (!(start >> h & 1)) continue;
    auto node = reader.FullNode(h, done >> h);
    if (!node.ok()) return node.status();
    hashes.push_back(*node);
    done += uint64_t{1} << h;
  }
  w->range_ = CompactRange(start, std::move(hashes));
  // Rehash the events after it, in bounded chunks.
  std::vector<Hash> leaves;
  for (uint64_t at = start; at < n;) {
    const uint64_t count = std::min<uint64_t>(n - at, 1u << 16);
    STELE_RETURN_IF_ERROR(loader(at, count, &leaves));
    w->AddLeaves(leaves);
    at += count;
    w->rebuilt_ += count;
    STELE_RETURN_IF_ERROR(w->Flush());
  }
  return w;
}

void HashStoreWriter::AddLeaf(const Hash& leaf) { AddLeaves(std::span<const Hash>(&leaf, 1)); }

void HashStoreWriter::AddLeaves(std::span<const Hash> leaves) {
  // Fingerprints past those already stored (a rebuild after recovery may
  // have written some).
  const uint64_t index = range_.size();
  for (size_t i = counts_[0] > index ? counts_[0] - index : 0; i < leaves.size(); ++i) {
    buffers_[0].append(reinterpret_cast<const char*>(leaves[i].data()), 4);
    ++counts_[0];
  }
  range_.AppendAll(leaves, sha_,
                   [this](int height, uint64_t idx, const Hash& hash) { StoreNode(height, idx, hash); });
}

void HashStoreWriter::StoreNode(int height, uint64_t idx, const Hash& hash) {
  if (height % kStoredLevelStep != 0) return;
  const int k = height / kStoredLevelStep;
  if (!EnsureLevel(k).ok()) return;  // surfaces at Flush() through the missing file
  if (idx == counts_[k]) {
    buffers_[k].append(reinterpret_cast<const char*>(hash.data()), 32);
    ++counts_[k];
  }
}

Status HashStoreWriter::Flush() {
  for (size_t k = 0; k < files_.size(); ++k) {
    if (buffers_[k].empty()) continue;
    STELE_RETURN_IF_ERROR(files_[k]->Append(buffers_[k]));
    buffers_[k].clear();
  }
  return Status::Ok();
}

Status HashStoreWriter::Sync() {
  STELE_RETURN_IF_ERROR(Flush());
  for (auto& f : files_) STELE_RETURN_IF_ERROR(f->Sync());
  return Status::Ok();
}

}  // namespace stele
