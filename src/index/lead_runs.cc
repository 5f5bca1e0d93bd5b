#include "index/lead_runs.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "event/record.h"
#include "storage/format.h"
#include "storage/frame_columns.h"
#include "storage/segment_reader.h"
#include "util/coding.h"
#include "util/hash.h"

namespace stele {
namespace {

constexpr std::string_view kMagic = "STELELRN";
constexpr std::string_view kTrailerMagic = "LRUNEND!";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 16;
constexpr size_t kBlockEntrySize = 64;
constexpr size_t kTrailerSize = 48;
constexpr uint32_t kMaxBlockRawBytes = 64u << 20;

void AppendBlockEntry(std::string* out, const LeadRunBlock& b) {
  AppendU64(out, b.offset);
  AppendU32(out, b.stored_len);
  AppendU32(out, b.raw_len);
  AppendU32(out, b.count);
  AppendU32(out, b.layout);
  AppendU64(out, b.first_seq);
  AppendU64(out, b.last_seq);
  AppendU64(out, static_cast<uint64_t>(b.min_ts));
  AppendU64(out, static_cast<uint64_t>(b.max_ts));
  AppendU64(out, b.checksum);
}

LeadRunBlock ParseBlockEntry(const char* p) {
  LeadRunBlock b;
  b.offset = GetU64(p);
  b.stored_len = GetU32(p + 8);
  b.raw_len = GetU32(p + 12);
  b.count = GetU32(p + 16);
  b.layout = GetU32(p + 20);
  b.first_seq = GetU64(p + 24);
  b.last_seq = GetU64(p + 32);
  b.min_ts = static_cast<int64_t>(GetU64(p + 40));
  b.max_ts = static_cast<int64_t>(GetU64(p + 48));
  b.checksum = GetU64(p + 56);
  return b;
}

// The lead of a canonical record, or empty if it cannot be parsed.
std::string_view LeadOf(std::string_view record) {
  EventView e;
  return DecodeRecord(record, &e) ? e.lead_id : std::string_view();
}

}  // namespace

std::string LeadRunsPath(const std::string& segment_path) {
  return segment_path.substr(0, segment_path.size() - format::kSegmentSuffix.size()) + ".lrun";
}

// ---- reading

Result<std::unique_ptr<LeadRuns>> LeadRuns::Load(Env* env, const std::string& segment_path, uint64_t first_seq) {
  const std::string path = LeadRunsPath(segment_path);
  auto file = env->OpenReadable(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  auto corrupt = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  if (*size < kHeaderSize + kTrailerSize) return corrupt("shorter than a header and a trailer");
  char trailer[kTrailerSize];
  size_t got = 0;
  STELE_RETURN_IF_ERROR((*file)->Read(*size - kTrailerSize, kTrailerSize, trailer, &got));
  if (got != kTrailerSize || std::string_view(trailer + 40, 8) != kTrailerMagic) return corrupt("bad trailer");
  const uint64_t table_offset = GetU64(trailer), directory_offset = GetU64(trailer + 8);
  const uint32_t n_blocks = GetU32(trailer + 16), n_leads = GetU32(trailer + 20);
  const uint64_t checksum = GetU64(trailer + 24), file_first_seq = GetU64(trailer + 32);
  if (file_first_seq != first_seq) return corrupt("written for another segment");
  const uint64_t end = *size - kTrailerSize;
  if (table_offset < kHeaderSize || table_offset > directory_offset || directory_offset > end ||
      directory_offset - table_offset != uint64_t{n_blocks} * kBlockEntrySize) {
    return corrupt("table or directory out of bounds");
  }
  auto runs = std::unique_ptr<LeadRuns>(new LeadRuns());
  runs->path_ = path;
  std::string meta(end - table_offset, '\0');
  STELE_RETURN_IF_ERROR((*file)->Read(table_offset, meta.size(), meta.data(), &got));
  if (got != meta.size() || Checksum(meta) != checksum) return corrupt("table or directory fails its checksum");
  runs->blocks_.reserve(n_blocks);
  for (uint32_t i = 0; i < n_blocks; ++i) {
    LeadRunBlock b = ParseBlockEntry(meta.data() + size_t{i} * kBlockEntrySize);
    if (b.layout == 0) b.layout = kRunBlockRecords;  // the first files wrote 0 there
    if (b.offset < kHeaderSize || b.offset + b.stored_len > table_offset || b.count == 0 ||
        b.raw_len > kMaxBlockRawBytes || b.first_seq > b.last_seq || b.first_seq < first_seq ||
        (b.layout != kRunBlockRecords && b.layout != kRunBlockColumns)) {
      return corrupt("block " + std::to_string(i) + " is malformed");
    }
    runs->blocks_.push_back(b);
  }
  runs->directory_ = meta.substr(directory_offset - table_offset);
  const char* p = runs->directory_.data();
  const char* const dir_end = p + runs->directory_.size();
  for (uint32_t i = 0; i < n_leads; ++i) {
    if (dir_end - p < 2) return corrupt("directory truncated");
    const uint16_t len = static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | static_cast<uint8_t>(p[1]) << 8);
    if (static_cast<size_t>(dir_end - p) < 2u + len + 16u) return corrupt("directory truncated");
    Lead lead{std::string_view(p + 2, len), GetU32(p + 2 + len), GetU32(p + 6 + len), GetU64(p + 10 + len)};
    p += 2 + len + 16;
    if (lead.n_blocks == 0 || uint64_t{lead.first_block} + lead.n_blocks > n_blocks ||
        (!runs->leads_.empty() && runs->leads_.back().name >= lead.name)) {
      return corrupt("directory entry " + std::to_string(i) + " is malformed");
    }
    runs->leads_.push_back(lead);
  }
  if (p != dir_end) return corrupt("bytes after the directory");
  runs->file_ = std::move(file).value();
  return runs;
}

std::span<const LeadRunBlock> LeadRuns::BlocksOf(std::string_view lead) const {
  auto it = std::lower_bound(leads_.begin(), leads_.end(), lead,
                             [](const Lead& l, std::string_view v) { return l.name < v; });
  if (it == leads_.end() || it->name != lead) return {};
  return blocks(static_cast<size_t>(it - leads_.begin()));
}

std::span<const LeadRunBlock> LeadRuns::blocks(size_t i) const {
  return std::span<const LeadRunBlock>(blocks_).subspan(leads_[i].first_block, leads_[i].n_blocks);
}

Status LeadRuns::ReadBlock(const LeadRunBlock& block, std::string* raw) const {
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption(path_ + ": block at offset " + std::to_string(block.offset) + " (seqs " +
                              std::to_string(block.first_seq) + ".." + std::to_string(block.last_seq) + ") " + why);
  };
  thread_local std::string stored;
  stored.resize(block.stored_len);
  size_t got = 0;
  STELE_RETURN_IF_ERROR(file_->Read(block.offset, block.stored_len, stored.data(), &got));
  if (got != block.stored_len) return corrupt("is truncated");
  if (Checksum(stored) != block.checksum) return corrupt("fails its checksum");
  if (block.layout == kRunBlockRecords) {
    raw->resize(block.raw_len);
    const size_t n = ZSTD_decompress(raw->data(), raw->size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != block.raw_len) return corrupt("does not decompress to its length");
    return Status::Ok();
  }
  // Columns: the seq deltas, then codec 3's columns of the records as if
  // their seqs ran on from first_seq; the real seqs are put back after.
  // Like a frame's, the bytes before the records are never longer than them.
  thread_local std::string columns;
  columns.resize(block.raw_len);
  const size_t n = ZSTD_decompress(columns.data(), columns.size(), stored.data(), stored.size());
  if (ZSTD_isError(n)) return corrupt("does not decompress");
  const char* p = columns.data();
  const char* const end = p + n;
  thread_local std::vector<uint64_t> seqs;
  seqs.resize(block.count);
  uint64_t seq = block.first_seq;
  for (uint32_t i = 0; i < block.count; ++i) {
    uint64_t delta;
    if (!GetVarint64(p, end, &delta)) return corrupt("has a truncated seq column");
    seq += delta;
    seqs[i] = seq;
  }
  if (seqs.back() != block.last_seq) return corrupt("has seqs that do not end at its last seq");
  const std::string_view rest(p, static_cast<size_t>(end - p));
  STELE_RETURN_IF_ERROR(DecodeFrameColumns(rest, block.count, block.first_seq, block.raw_len, raw, DataColumns::kByKey));
  for (size_t pos = 0, i = 0; pos < raw->size(); ++i) {  // well formed: DecodeFrameColumns checked the lengths
    std::memcpy(raw->data() + pos + 4 + kRecordSeqOffset, &seqs[i], 8);
    pos += 4 + GetU32(raw->data() + pos);
  }
  return Status::Ok();
}

size_t LeadRuns::memory_bytes() const {
  return sizeof(*this) + directory_.size() + leads_.size() * sizeof(Lead) + blocks_.size() * sizeof(LeadRunBlock);
}

std::shared_ptr<const LeadRuns> LeadRunsCache::Get(Env* env, const std::string& segment_path, uint64_t first_seq) {
  if (auto cached = lru_.Get(segment_path)) return cached;
  if (remember_missing_) {
    std::lock_guard<std::mutex> g(mu_);
    if (missing_.contains(segment_path)) return nullptr;
  }
  auto loaded = LeadRuns::Load(env, segment_path, first_seq);  // outside the cache's lock: it reads a file
  if (!loaded.ok()) {
    if (remember_missing_ && loaded.status().code() == StatusCode::kNotFound) {
      std::lock_guard<std::mutex> g(mu_);
      missing_.insert(segment_path);
    }
    return nullptr;
  }
  return lru_.Insert(segment_path, std::shared_ptr<const LeadRuns>(std::move(loaded).value()));
}

void LeadRunsCache::Erase(const std::string& segment_path) {
  lru_.Erase(segment_path);
  std::lock_guard<std::mutex> g(mu_);
  missing_.erase(segment_path);
}

// ---- writing

Result<std::vector<std::string>> BusiestLeads(const SegmentIndex& index, const LeadRunOptions& options) {
  // Copies: a version 4 index's values live only during the call.
  std::vector<std::pair<uint64_t, std::string>> busy;
  STELE_RETURN_IF_ERROR(index.ForEachValue(IndexedField::kLeadId, [&](std::string_view v, uint64_t events) {
    if (events >= options.min_events) busy.emplace_back(events, v);
  }));
  if (busy.size() > options.max_leads) {
    std::nth_element(busy.begin(), busy.begin() + static_cast<std::ptrdiff_t>(options.max_leads), busy.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    busy.resize(options.max_leads);
  }
  std::vector<std::string> leads;
  leads.reserve(busy.size());
  for (auto& [events, v] : busy) leads.push_back(std::move(v));
  std::sort(leads.begin(), leads.end());
  return leads;
}

LeadRunsBuilder::LeadRunsBuilder(std::unique_ptr<WritableFile> file, uint64_t first_seq,
                                 std::vector<std::string> leads, const LeadRunOptions& options)
    : file_(std::move(file)),
      first_seq_(first_seq),
      leads_(std::move(leads)),
      by_name_(std::vector<std::string_view>(leads_.begin(), leads_.end())),
      pending_(leads_.size()),
      options_(options),
      cctx_(ZSTD_createCCtx()) {}

LeadRunsBuilder::~LeadRunsBuilder() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

int LeadRunsBuilder::LeadIndex(std::string_view lead) const {
  return by_name_.Find(lead);
}

Status LeadRunsBuilder::WriteHeaderOnce() {
  if (file_->Size() != 0) return Status::Ok();
  std::string header(kMagic);
  AppendU32(&header, kVersion);
  AppendU32(&header, 0);
  return file_->Append(header);
}

Status LeadRunsBuilder::Add(int lead, std::string_view record, uint64_t seq, int64_t ts) {
  Pending& p = pending_[static_cast<size_t>(lead)];
  if (p.count == 0) {
    STELE_RETURN_IF_ERROR(WriteHeaderOnce());  // before the first block
    p.block = LeadRunBlock{};
    p.block.first_seq = seq;
    p.block.min_ts = ts;
    p.block.max_ts = ts;
  }
  AppendU32(&p.raw, static_cast<uint32_t>(record.size()));
  p.raw.append(record);
  pending_bytes_ += 4 + record.size();
  ++p.count;
  ++p.events;
  p.block.last_seq = seq;
  p.block.min_ts = std::min(p.block.min_ts, ts);
  p.block.max_ts = std::max(p.block.max_ts, ts);
  if (p.raw.size() >= options_.block_bytes) return Flush(&p);
  if (pending_bytes_ > options_.pending_budget_bytes && p.raw.size() >= options_.block_bytes / 8) return Flush(&p);
  return Status::Ok();
}

Status LeadRunsBuilder::Flush(Pending* p) {
  if (p->count == 0) return Status::Ok();
  // The column layout (see ReadBlock), unless the records do not fit it or
  // it comes out longer than they are.
  columns_.clear();
  renumbered_ = p->raw;
  uint64_t prev = p->block.first_seq;
  for (size_t pos = 0, i = 0; pos < renumbered_.size(); ++i) {
    char* seq_at = renumbered_.data() + pos + 4 + kRecordSeqOffset;
    const uint64_t seq = GetU64(seq_at), as_if = p->block.first_seq + i;
    PutVarint64(&columns_, seq - prev);
    prev = seq;
    std::memcpy(seq_at, &as_if, 8);
    pos += 4 + GetU32(renumbered_.data() + pos);
  }
  const bool columns = EncodeFrameColumns(renumbered_, p->count, p->block.first_seq, &columns_, DataColumns::kByKey) &&
                       columns_.size() <= p->raw.size();
  const std::string& input = columns ? columns_ : p->raw;
  p->block.layout = columns ? kRunBlockColumns : kRunBlockRecords;
  compressed_.resize(ZSTD_compressBound(input.size()));
  const size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), compressed_.data(), compressed_.size(),
                                     input.data(), input.size(), options_.zstd_level);
  if (ZSTD_isError(n)) return Status::IOError(std::string("lead runs: zstd: ") + ZSTD_getErrorName(n));
  compressed_.resize(n);
  p->block.offset = file_->Size();
  p->block.stored_len = static_cast<uint32_t>(n);
  p->block.raw_len = static_cast<uint32_t>(p->raw.size());
  p->block.count = p->count;
  p->block.checksum = Checksum(compressed_);
  STELE_RETURN_IF_ERROR(file_->Append(compressed_));
  p->written.push_back(p->block);
  pending_bytes_ -= p->raw.size();
  p->raw.clear();
  p->count = 0;
  return Status::Ok();
}

Status LeadRunsBuilder::Finish() {
  std::string table, directory;
  uint32_t n_blocks = 0, n_leads = 0;
  for (size_t i = 0; i < leads_.size(); ++i) {
    Pending& p = pending_[i];
    STELE_RETURN_IF_ERROR(Flush(&p));
    if (p.written.empty()) continue;
    AppendU16(&directory, static_cast<uint16_t>(leads_[i].size()));
    directory.append(leads_[i]);
    AppendU32(&directory, n_blocks);
    AppendU32(&directory, static_cast<uint32_t>(p.written.size()));
    AppendU64(&directory, p.events);
    for (const LeadRunBlock& b : p.written) AppendBlockEntry(&table, b);
    n_blocks += static_cast<uint32_t>(p.written.size());
    ++n_leads;
    p = Pending{};
  }
  STELE_RETURN_IF_ERROR(WriteHeaderOnce());  // a file with no runs still has one
  const uint64_t table_offset = file_->Size();
  std::string tail = table + directory;
  const uint64_t checksum = Checksum(tail);
  AppendU64(&tail, table_offset);
  AppendU64(&tail, table_offset + table.size());
  AppendU32(&tail, n_blocks);
  AppendU32(&tail, n_leads);
  AppendU64(&tail, checksum);
  AppendU64(&tail, first_seq_);
  tail.append(kTrailerMagic);
  STELE_RETURN_IF_ERROR(file_->Append(tail));
  STELE_RETURN_IF_ERROR(file_->Sync());
  return file_->Close();
}

// Calls fn(record, seq, ts) for each (u32 len | record) in `raw` (a frame's
// or a block's records); kCorruption "malformed record" if one does not fit.
template <typename Fn>
static Status ForEachFramedRecord(std::string_view raw, Fn fn) {
  for (size_t pos = 0; pos + 4 <= raw.size();) {
    const uint32_t len = GetU32(raw.data() + pos);
    if (len < kRecordFixedBytes || len > raw.size() - pos - 4) return Status::Corruption("malformed record");
    const std::string_view record(raw.data() + pos + 4, len);
    STELE_RETURN_IF_ERROR(fn(record, GetU64(record.data() + kRecordSeqOffset),
                             static_cast<int64_t>(GetU64(record.data() + kRecordTsOffset))));
    pos += 4 + len;
  }
  return Status::Ok();
}

// Calls fn(record, seq, ts) for every record of the segment, in seq order.
template <typename Fn>
static Status ForEachRecord(const SegmentReader& segment, Fn fn) {
  std::string raw;
  for (size_t i = 0; i < segment.frames().size(); ++i) {
    STELE_RETURN_IF_ERROR(segment.ReadFrame(i, &raw));
    if (Status s = ForEachFramedRecord(raw, fn); !s.ok()) {
      if (s.code() != StatusCode::kCorruption) return s;
      return Status::Corruption(segment.path() + ": frame " + std::to_string(i) + ": " + s.message());
    }
  }
  return Status::Ok();
}

Status WriteLeadRuns(Env* env, const std::string& segment_path, uint64_t first_seq, const SegmentIndex& index,
                     const LeadRunOptions& options) {
  auto busiest = BusiestLeads(index, options);
  if (!busiest.ok()) return busiest.status();
  std::vector<std::string> leads = std::move(busiest).value();
  if (leads.empty()) return Status::Ok();
  auto segment = SegmentReader::Open(env, segment_path, first_seq);
  if (!segment.ok()) return segment.status();
  const std::string path = LeadRunsPath(segment_path), tmp = path + ".tmp";
  if (env->Exists(tmp)) STELE_RETURN_IF_ERROR(env->Remove(tmp));
  auto file = env->OpenAppendable(tmp);
  if (!file.ok()) return file.status();
  LeadRunsBuilder builder(std::move(file).value(), first_seq, std::move(leads), options);
  STELE_RETURN_IF_ERROR(ForEachRecord(**segment, [&](std::string_view record, uint64_t seq, int64_t ts) {
    const int lead = builder.LeadIndex(LeadOf(record));
    return lead < 0 ? Status::Ok() : builder.Add(lead, record, seq, ts);
  }));
  STELE_RETURN_IF_ERROR(builder.Finish());
  return env->Rename(tmp, path);
}

// ---- verifying

Result<std::unique_ptr<LeadRunsCheck>> LeadRunsCheck::Open(Env* env, const std::string& segment_path,
                                                           uint64_t first_seq) {
  auto runs = LeadRuns::Load(env, segment_path, first_seq);
  if (!runs.ok()) {
    if (runs.status().code() == StatusCode::kNotFound) return std::unique_ptr<LeadRunsCheck>();
    return runs.status();
  }
  return std::unique_ptr<LeadRunsCheck>(new LeadRunsCheck(std::move(runs).value()));
}

LeadRunsCheck::LeadRunsCheck(std::unique_ptr<LeadRuns> runs)
    : runs_(std::move(runs)), from_segment_(runs_->lead_count()), segment_events_(runs_->lead_count()) {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < runs_->lead_count(); ++i) names.push_back(runs_->lead(i));
  by_name_ = NameTable(std::move(names));
}

LeadRunsCheck::~LeadRunsCheck() = default;

int LeadRunsCheck::LeadIndex(std::string_view lead) const {
  return by_name_.Find(lead);
}

void LeadRunsCheck::AddSegmentLeaf(int lead, const Hash& leaf) {
  from_segment_[lead].Update(AsBytes(leaf));
  ++segment_events_[lead];
}

Status LeadRunsCheck::CheckRuns() {
  Sha256& sha = ThreadSha256();
  std::string raw;
  std::vector<std::string_view> records;  // of the block in `raw`
  std::vector<Hash> leaves;
  for (size_t i = 0; i < runs_->lead_count(); ++i) {
    const std::string lead(runs_->lead(i));
    auto differs = [&](uint64_t seq, const std::string& why) {
      return Status::Corruption(runs_->path() + ": the run of lead " + lead + " " + why +
                                (seq ? " (seq " + std::to_string(seq) + ")" : ""));
    };
    Sha256Stream from_run;
    uint64_t events = 0, last = 0;  // records read, and the last one's seq
    for (const LeadRunBlock& b : runs_->blocks(i)) {
      STELE_RETURN_IF_ERROR(runs_->ReadBlock(b, &raw));
      uint32_t count = 0;
      Status mismatch;
      Status s = ForEachFramedRecord(raw, [&](std::string_view record, uint64_t seq, int64_t) {
        if (LeadOf(record) != lead) mismatch = differs(seq, "holds an event of another lead");
        else if (seq <= last || seq < b.first_seq || seq > b.last_seq) mismatch = differs(seq, "is out of seq order");
        if (!mismatch.ok()) return mismatch;
        last = seq;
        records.push_back(record);
        ++count;
        return Status::Ok();
      });
      if (!mismatch.ok()) return mismatch;
      if (!s.ok()) return differs(0, "holds a malformed record");
      if (count != b.count) return differs(b.first_seq, "has a block whose count is wrong");
      // The block's leaves together, two at a time (Sha256::LeafHashes).
      leaves.resize(records.size());
      sha.LeafHashes(records, leaves.data());
      for (const Hash& leaf : leaves) from_run.Update(AsBytes(leaf));
      records.clear();
      events += count;
    }
    if (events != runs_->events(i) || events != segment_events_[i]) {
      return differs(0, "holds " + std::to_string(events) + " events where the segment holds " +
                            std::to_string(segment_events_[i]));
    }
    if (from_run.Final() != from_segment_[i].Final()) return differs(0, "differs from the segment's events");
  }
  return Status::Ok();
}

Status VerifyLeadRuns(Env* env, const std::string& segment_path, uint64_t first_seq) {
  auto check = LeadRunsCheck::Open(env, segment_path, first_seq);
  if (!check.ok() || *check == nullptr) return check.status();
  auto segment = SegmentReader::Open(env, segment_path, first_seq);
  if (!segment.ok()) return segment.status();
  Sha256& sha = ThreadSha256();
  STELE_RETURN_IF_ERROR(ForEachRecord(**segment, [&](std::string_view record, uint64_t, int64_t) {
    if (const int lead = (*check)->LeadIndex(LeadOf(record)); lead >= 0) (*check)->AddSegmentLeaf(lead, sha.LeafHash(record));
    return Status::Ok();
  }));
  return (*check)->CheckRuns();
}

}  // namespace stele
