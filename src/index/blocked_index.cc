#include "index/blocked_index.h"

#include <algorithm>

#include <zstd.h>

#include "util/coding.h"
#include "util/hash.h"

namespace stele {
namespace {

constexpr std::string_view kMagic = "STELEFIX";
constexpr uint32_t kBlockedVersion = 4;
constexpr size_t kFieldHeaderSize = 24;  // u32 values | u32 blocks | u64 table offset | u32 table size | u32 0
constexpr size_t kBlockEntryFixed = 50;  // 2 x (u64 offset | u32 stored | u32 raw | u64 xxh3) | u16 first length
constexpr uint32_t kMaxRawBlock = 1u << 30;

bool GetVarint32(const char*& p, const char* end, uint32_t* v) {
  uint64_t wide;
  if (!GetVarint64(p, end, &wide) || wide > UINT32_MAX) return false;
  *v = static_cast<uint32_t>(wide);
  return true;
}

// One dictionary entry: u16 len | value | varint events | varint postings length.
bool NextEntry(const char*& p, const char* end, std::string_view* value, uint32_t* events, uint32_t* postings_len) {
  if (end - p < 2) return false;
  const uint16_t len = GetU16(p);
  p += 2;
  if (end - p < len) return false;
  *value = std::string_view(p, len);
  p += len;
  return GetVarint32(p, end, events) && GetVarint32(p, end, postings_len);
}

}  // namespace

Result<std::string> BlockSegmentIndex(const SegmentIndex& v2, const BlockedIndexOptions& options) {
  std::string out(kMagic);
  AppendU32(&out, kBlockedVersion);
  AppendU32(&out, v2.frame_count());
  out.resize(BlockedIndexReader::kHeaderSize);  // fields and checksum, filled in at the end
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string tables[kIndexedFieldCount];
  uint32_t blocks[kIndexedFieldCount] = {};
  std::string dict, post, packed;
  Status status;
  // Appends raw compressed; where it went into `at`.
  auto compress = [&](const std::string& raw, BlockExtent* at) {
    packed.resize(ZSTD_compressBound(raw.size()));
    const size_t n = ZSTD_compressCCtx(cctx, packed.data(), packed.size(), raw.data(), raw.size(), options.zstd_level);
    if (ZSTD_isError(n)) return false;
    *at = {out.size(), static_cast<uint32_t>(n), static_cast<uint32_t>(raw.size()), Checksum(packed.data(), n)};
    out.append(packed.data(), n);
    return true;
  };
  for (int f = 0; f < kIndexedFieldCount && status.ok(); ++f) {
    // A field's dictionary blocks, then its postings blocks, so that a
    // count by field reads one contiguous run.
    struct Pending {
      std::string dict, post, first;
      BlockExtent dict_at, post_at;
    };
    std::vector<Pending> cut;
    Pending cur;
    v2.ForEachPostingsRecord(static_cast<IndexedField>(f),
                             [&](std::string_view value, uint32_t events, std::string_view postings) {
                               if (cur.dict.empty()) cur.first = value;
                               AppendU16(&cur.dict, static_cast<uint16_t>(value.size()));
                               cur.dict.append(value);
                               PutVarint64(&cur.dict, events);
                               PutVarint64(&cur.dict, postings.size());
                               cur.post.append(postings);
                               if (cur.dict.size() >= options.dictionary_block || cur.post.size() >= options.postings_block) {
                                 cut.push_back(std::move(cur));
                                 cur = Pending{};
                               }
                             });
    if (!cur.dict.empty()) cut.push_back(std::move(cur));
    for (Pending& p : cut) {
      if (status.ok() && !compress(p.dict, &p.dict_at)) status = Status::IOError("segment index: zstd could not compress a block");
    }
    for (Pending& p : cut) {
      if (status.ok() && !compress(p.post, &p.post_at)) status = Status::IOError("segment index: zstd could not compress a block");
    }
    std::string& t = tables[f];
    for (const Pending& p : cut) {
      for (const BlockExtent& at : {p.dict_at, p.post_at}) {
        AppendU64(&t, at.offset);
        AppendU32(&t, at.stored);
        AppendU32(&t, at.raw);
        AppendU64(&t, at.checksum);
      }
      AppendU16(&t, static_cast<uint16_t>(p.first.size()));
      t.append(p.first);
    }
    AppendU64(&t, Checksum(t));
    blocks[f] = static_cast<uint32_t>(cut.size());
  }
  ZSTD_freeCCtx(cctx);
  if (!status.ok()) return status;
  for (int f = 0; f < kIndexedFieldCount; ++f) {
    char* h = out.data() + 16 + kFieldHeaderSize * f;
    PutU32(h, v2.value_count(static_cast<IndexedField>(f)));
    PutU32(h + 4, blocks[f]);
    PutU64(h + 8, out.size());
    PutU32(h + 16, static_cast<uint32_t>(tables[f].size()));
    PutU32(h + 20, 0);
    out.append(tables[f]);
  }
  PutU64(out.data() + BlockedIndexReader::kHeaderSize - 8, Checksum(out.data(), BlockedIndexReader::kHeaderSize - 8));
  return out;
}

Result<std::shared_ptr<const BlockedIndexReader>> BlockedIndexReader::Open(std::unique_ptr<RandomAccessFile> file) {
  auto r = std::shared_ptr<BlockedIndexReader>(new BlockedIndexReader());
  auto size = file->Size();
  if (!size.ok()) return size.status();
  r->size_ = *size;
  r->file_ = std::move(file);
  return OpenWith(std::move(r));
}

Result<std::shared_ptr<const BlockedIndexReader>> BlockedIndexReader::Open(std::string bytes) {
  auto r = std::shared_ptr<BlockedIndexReader>(new BlockedIndexReader());
  r->size_ = bytes.size();
  r->bytes_ = std::move(bytes);
  return OpenWith(std::move(r));
}

Result<std::shared_ptr<const BlockedIndexReader>> BlockedIndexReader::OpenWith(std::shared_ptr<BlockedIndexReader> r) {
  std::string head;
  STELE_RETURN_IF_ERROR(r->ReadAt(0, kHeaderSize, &head));
  if (head.compare(0, kMagic.size(), kMagic) != 0 || GetU32(head.data() + 8) != kBlockedVersion) {
    return Status::Corruption("segment index: not a version 4 file");
  }
  if (GetU64(head.data() + kHeaderSize - 8) != Checksum(head.data(), kHeaderSize - 8)) {
    return Status::Corruption("segment index: header checksum mismatch");
  }
  r->frame_count_ = GetU32(head.data() + 12);
  std::string table;
  for (int f = 0; f < kIndexedFieldCount; ++f) {
    const char* h = head.data() + 16 + kFieldHeaderSize * f;
    Field& field = r->fields_[f];
    field.value_count = GetU32(h);
    const uint32_t n_blocks = GetU32(h + 4);
    const uint64_t table_offset = GetU64(h + 8);
    const uint32_t table_size = GetU32(h + 16);
    if (table_size < 8 || table_offset < kHeaderSize || table_offset + table_size > r->size_ ||
        uint64_t{n_blocks} * kBlockEntryFixed > table_size) {
      return Status::Corruption("segment index: block table out of bounds");
    }
    STELE_RETURN_IF_ERROR(r->ReadAt(table_offset, table_size, &table));
    if (GetU64(table.data() + table_size - 8) != Checksum(table.data(), table_size - 8)) {
      return Status::Corruption("segment index: block table checksum mismatch");
    }
    const char* p = table.data();
    const char* end = table.data() + table_size - 8;
    field.blocks.resize(n_blocks);
    for (Block& b : field.blocks) {
      if (end - p < static_cast<ptrdiff_t>(kBlockEntryFixed)) return Status::Corruption("segment index: short block table");
      for (BlockExtent* at : {&b.dict, &b.post}) {
        *at = {GetU64(p), GetU32(p + 8), GetU32(p + 12), GetU64(p + 16)};
        p += 24;
        if (at->offset + at->stored > table_offset || at->raw > kMaxRawBlock) {
          return Status::Corruption("segment index: block out of bounds");
        }
      }
      const uint16_t first_len = GetU16(p);
      p += 2;
      if (end - p < first_len) return Status::Corruption("segment index: short block table");
      b.first_value.assign(p, first_len);
      p += first_len;
    }
    if (p != end) return Status::Corruption("segment index: block table size mismatch");
  }
  return std::shared_ptr<const BlockedIndexReader>(std::move(r));
}

size_t BlockedIndexReader::memory_bytes() const {
  size_t n = sizeof(*this) + bytes_.size() + kBlockCacheBytes;
  for (const Field& f : fields_) {
    for (const Block& b : f.blocks) n += sizeof(Block) + b.first_value.capacity();
  }
  return n;
}

Status BlockedIndexReader::ReadAt(uint64_t offset, size_t n, std::string* out) const {
  if (offset + n > size_) return Status::Corruption("segment index: read past the end");
  if (!file_) {
    out->assign(bytes_, offset, n);
    return Status::Ok();
  }
  out->resize(n);
  size_t got = 0;
  STELE_RETURN_IF_ERROR(file_->Read(offset, n, out->data(), &got));
  if (got != n) return Status::Corruption("segment index: short read");
  return Status::Ok();
}

Status BlockedIndexReader::Inflate(std::string_view stored, const BlockExtent& at, std::string* out) {
  if (Checksum(stored.data(), stored.size()) != at.checksum) {
    return Status::Corruption("segment index: block checksum mismatch");
  }
  out->resize(at.raw);
  const size_t n = ZSTD_decompress(out->data(), at.raw, stored.data(), stored.size());
  if (ZSTD_isError(n) || n != at.raw) return Status::Corruption("segment index: bad block");
  return Status::Ok();
}

Result<std::shared_ptr<const std::string>> BlockedIndexReader::ReadBlock(const BlockExtent& at) const {
  const std::string key = std::to_string(at.offset);
  if (auto cached = blocks_.Get(key)) return cached;
  std::string bytes, block;
  STELE_RETURN_IF_ERROR(ReadAt(at.offset, at.stored, &bytes));
  STELE_RETURN_IF_ERROR(Inflate(bytes, at, &block));
  return blocks_.Insert(key, std::make_shared<const std::string>(std::move(block)));
}

Status BlockedIndexReader::Scan(IndexedField f, std::string_view from, const PostingsFn& fn) const {
  const std::vector<Block>& blocks = fields_[static_cast<int>(f)].blocks;
  // The last block whose first value is <= from: values >= from start there.
  auto it = std::upper_bound(blocks.begin(), blocks.end(), from,
                             [](std::string_view v, const Block& b) { return v < b.first_value; });
  size_t b = it == blocks.begin() ? 0 : static_cast<size_t>(it - blocks.begin()) - 1;
  for (; b < blocks.size(); ++b) {
    const Block& block = blocks[b];
    auto dict = ReadBlock(block.dict);
    if (!dict.ok()) return dict.status();
    std::shared_ptr<const std::string> post;
    uint64_t post_pos = 0;
    const char* p = (*dict)->data();
    const char* end = p + (*dict)->size();
    while (p < end) {
      std::string_view value;
      uint32_t events = 0, len = 0;
      if (!NextEntry(p, end, &value, &events, &len)) return Status::Corruption("segment index: bad dictionary entry");
      if (value >= from) {
        if (!post) {
          auto read = ReadBlock(block.post);
          if (!read.ok()) return read.status();
          post = std::move(read).value();
        }
        if (post_pos + len > post->size()) return Status::Corruption("segment index: postings out of bounds");
        if (!fn(value, events, std::string_view(post->data() + post_pos, len))) return Status::Ok();
      }
      post_pos += len;
    }
  }
  return Status::Ok();
}

Status BlockedIndexReader::ForEachValue(IndexedField f, const std::function<void(std::string_view, uint64_t)>& fn) const {
  const std::vector<Block>& blocks = fields_[static_cast<int>(f)].blocks;
  if (blocks.empty()) return Status::Ok();
  // The dictionary blocks lie back to back: one read, every block checked
  // and inflated before the first value is handed out.
  const uint64_t start = blocks.front().dict.offset;
  const uint64_t stop = blocks.back().dict.offset + blocks.back().dict.stored;
  if (stop < start) return Status::Corruption("segment index: dictionary blocks out of order");
  std::string stored;
  STELE_RETURN_IF_ERROR(ReadAt(start, stop - start, &stored));
  std::vector<std::string> dicts(blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    const BlockExtent& at = blocks[b].dict;
    if (at.offset < start || at.offset + at.stored > stop) {
      return Status::Corruption("segment index: dictionary blocks out of order");
    }
    STELE_RETURN_IF_ERROR(Inflate(std::string_view(stored).substr(at.offset - start, at.stored), at, &dicts[b]));
    const char* p = dicts[b].data();
    const char* end = p + dicts[b].size();
    std::string_view value;
    uint32_t events = 0, len = 0;
    while (p < end) {
      if (!NextEntry(p, end, &value, &events, &len)) return Status::Corruption("segment index: bad dictionary entry");
    }
  }
  stored.clear();
  stored.shrink_to_fit();
  for (const std::string& d : dicts) {
    const char* p = d.data();
    const char* end = p + d.size();
    std::string_view value;
    uint32_t events = 0, len = 0;
    while (p < end && NextEntry(p, end, &value, &events, &len)) fn(value, events);
  }
  return Status::Ok();
}

}  // namespace stele
