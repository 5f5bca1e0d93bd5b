#include "index/segment_index.h"

#include <algorithm>
#include <iterator>
#include <span>

#include <zstd.h>

#include "event/record.h"
#include "index/blocked_index.h"
#include "storage/format.h"
#include "util/coding.h"
#include "util/find_bytes.h"
#include "util/hash.h"

namespace stele {
namespace {

constexpr std::string_view kMagic = "STELEFIX";
// Version 2 adds each frame's event count to the postings; version 1 files
// (without them) are still read.
constexpr uint32_t kVersion = 2;
constexpr uint32_t kCompressedVersion = 3;
constexpr uint32_t kBlockedVersion = 4;  // index/blocked_index.h

void PutVarint(std::string* out, uint32_t v) { PutVarint64(out, v); }

bool GetVarint(const char*& p, const char* end, uint32_t* v) {
  uint64_t wide;
  if (!GetVarint64(p, end, &wide) || wide > UINT32_MAX) return false;
  *v = static_cast<uint32_t>(wide);
  return true;
}

uint64_t ValueHash(std::string_view v) { return XXH3_64bits(v.data(), v.size()) | 1; }  // 0 marks an empty slot

}  // namespace

std::string_view FieldOf(const EventView& e, IndexedField f) {
  switch (f) {
    case IndexedField::kType: return e.type;
    case IndexedField::kActor: return e.actor;
    case IndexedField::kSource: return e.source;
    case IndexedField::kLeadId: return e.lead_id;
    case IndexedField::kWorkflowId: return e.workflow_id;
  }
  return {};
}

// A segment's lead table outgrows the caches (1M leads: 16 MiB of slots,
// 16 MiB of values), and adding a lead seen before missed three times in a
// row: its slot, its value record, and its bytes in the arena (then its
// last entry).  So the frame's values are decoded first and added in a
// pipeline that prefetches each of those a few values ahead, one stage per
// dependent load, and the misses overlap instead of queueing.
void SegmentIndexBuilder::AddFrame(uint32_t ordinal, std::string_view raw) {
  struct Lead {
    std::string_view value;
    uint64_t hash;
  };
  thread_local std::vector<Lead> leads;
  leads.clear();
  EventView e;
  constexpr int kLead = static_cast<int>(IndexedField::kLeadId);
  for (size_t pos = 0; pos + 4 <= raw.size();) {
    const uint32_t len = GetU32(raw.data() + pos);
    if (!DecodeRecord(raw.substr(pos + 4, len), &e)) break;  // the writer produced it: cannot happen
    for (int f = 0; f < kIndexedFieldCount; ++f) {
      const std::string_view v = FieldOf(e, static_cast<IndexedField>(f));
      if (v.empty()) continue;
      if (f == kLead) {
        leads.push_back({v, ValueHash(v)});
        values_[f].PrefetchSlot(leads.back().hash);
      } else {
        values_[f].Add(ValueHash(v), v, ordinal);  // few values: their tables stay in the cache
      }
    }
    pos += 4 + len;
  }
  constexpr size_t kValueAhead = 16, kBytesAhead = 8;
  FieldPostings& p = values_[kLead];
  const size_t n = leads.size();
  for (size_t k = 0; k < n; ++k) {
    if (k + kValueAhead < n) p.PrefetchValue(leads[k + kValueAhead].hash);
    if (k + kBytesAhead < n) p.PrefetchBytes(leads[k + kBytesAhead].hash);
    p.Add(leads[k].hash, leads[k].value, ordinal);
  }
  frame_count_ = ordinal + 1;
}

// A table slot holds a value id (high half) and the top half of its hash
// (low half), so a probe that meets another value rejects it without
// touching values_ or the arena.
namespace {
constexpr uint64_t kEmptySlot = UINT64_MAX;
uint64_t SlotOf(uint32_t id, uint64_t hash) { return uint64_t{id} << 32 | (hash >> 32); }
}  // namespace

// The id in the first slot `hash` probes, if that slot holds a value with
// its hash's top half: the id a lookup will most likely find (prefetching
// only; Insert() decides).
uint32_t SegmentIndexBuilder::FieldPostings::LikelyId(uint64_t hash) const {
  if (table_.empty()) return kNone;
  const uint64_t slot = table_[hash & (table_.size() - 1)];
  if (slot == kEmptySlot || static_cast<uint32_t>(slot) != static_cast<uint32_t>(hash >> 32)) return kNone;
  return static_cast<uint32_t>(slot >> 32);
}

void SegmentIndexBuilder::FieldPostings::PrefetchSlot(uint64_t hash) const {
  if (!table_.empty()) __builtin_prefetch(&table_[hash & (table_.size() - 1)]);
}

void SegmentIndexBuilder::FieldPostings::PrefetchValue(uint64_t hash) const {
  if (const uint32_t id = LikelyId(hash); id != kNone) __builtin_prefetch(&values_[id]);
}

void SegmentIndexBuilder::FieldPostings::PrefetchBytes(uint64_t hash) const {
  const uint32_t id = LikelyId(hash);
  if (id == kNone) return;
  __builtin_prefetch(arena_.data() + values_[id].offset);
  if (values_[id].last != kNone) __builtin_prefetch(&entries_[values_[id].last]);
}

uint32_t SegmentIndexBuilder::FieldPostings::Find(std::string_view value) const {
  if (table_.empty()) return kNone;
  const uint64_t h = ValueHash(value);
  const size_t mask = table_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t slot = table_[i];
    if (slot == kEmptySlot) return kNone;
    const uint32_t id = static_cast<uint32_t>(slot >> 32);
    if (static_cast<uint32_t>(slot) == static_cast<uint32_t>(h >> 32) && BytesEqual(ValueOf(id), value)) return id;
  }
}

uint32_t SegmentIndexBuilder::FieldPostings::Insert(uint64_t hash, std::string_view value) {
  if (2 * (values_.size() + 1) > table_.size()) Grow();
  const size_t mask = table_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint64_t slot = table_[i];
    if (slot == kEmptySlot) {
      const auto id = static_cast<uint32_t>(values_.size());
      table_[i] = SlotOf(id, hash);
      values_.push_back({static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(value.size())});
      arena_.append(value);
      return id;
    }
    const uint32_t id = static_cast<uint32_t>(slot >> 32);
    if (static_cast<uint32_t>(slot) == static_cast<uint32_t>(hash >> 32) && BytesEqual(ValueOf(id), value)) return id;
  }
}

void SegmentIndexBuilder::FieldPostings::Grow() {
  table_.assign(std::max<size_t>(1024, 2 * table_.size()), kEmptySlot);
  const size_t mask = table_.size() - 1;
  for (uint32_t id = 0; id < values_.size(); ++id) {
    // Rehashed from the arena rather than kept: 8 bytes less a value, paid
    // for only at each doubling of the table.
    const uint64_t hash = ValueHash(ValueOf(id));
    size_t i = hash & mask;
    while (table_[i] != kEmptySlot) i = (i + 1) & mask;
    table_[i] = SlotOf(id, hash);
  }
}

void SegmentIndexBuilder::FieldPostings::Add(uint64_t hash, std::string_view value, uint32_t frame) {
  Value& v = values_[Insert(hash, value)];
  if (v.events != UINT32_MAX) ++v.events;
  if (v.last != kNone && entries_[v.last].frame == frame) {  // seen earlier in this frame
    ++entries_[v.last].count;
    return;
  }
  entries_.push_back({frame, 1, v.last});
  v.last = static_cast<uint32_t>(entries_.size() - 1);
}

void SegmentIndexBuilder::FieldPostings::AppendEntries(uint32_t id, std::vector<FrameCount>* out) const {
  const size_t begin = out->size();
  for (uint32_t e = values_[id].last; e != kNone; e = entries_[e].prev) out->push_back({entries_[e].frame, entries_[e].count});
  std::reverse(out->begin() + static_cast<ptrdiff_t>(begin), out->end());
}

// Walking each value's chain is a dependent load per entry: for a 64 MiB
// index that took 300+ ms of a 500 ms Finish().  Here each entry learns its
// value from its successor in one pass from the newest entry down (the head
// of every chain knows its value), and a counting sort groups them; every
// load is independent.
void SegmentIndexBuilder::FieldPostings::GroupEntries(std::vector<uint32_t>* starts,
                                                      std::vector<FrameCount>* grouped) const {
  const size_t n = entries_.size();
  std::vector<uint32_t> owner(n);
  for (uint32_t id = 0; id < values_.size(); ++id) owner[values_[id].last] = id;  // a value has >= 1 entry
  for (size_t e = n; e-- > 0;) {
    if (entries_[e].prev != kNone) owner[entries_[e].prev] = owner[e];
  }
  starts->assign(values_.size() + 1, 0);
  for (size_t e = 0; e < n; ++e) ++(*starts)[owner[e] + 1];
  for (size_t id = 0; id < values_.size(); ++id) (*starts)[id + 1] += (*starts)[id];
  std::vector<uint32_t> next(starts->begin(), starts->end() - 1);
  grouped->resize(n);
  for (size_t e = 0; e < n; ++e) (*grouped)[next[owner[e]]++] = {entries_[e].frame, entries_[e].count};
}

// Sorted by the first 8 bytes as a big-endian integer, then by the whole
// value on a tie: lead ids like "L0012345" are told apart by the key alone,
// so the sort rarely touches the arena (a plain string sort of 500k values
// was ~150 ms of cache misses).
std::vector<uint32_t> SegmentIndexBuilder::FieldPostings::SortedIds() const {
  struct Keyed {
    uint64_t key;
    uint32_t id;
  };
  std::vector<Keyed> keyed(values_.size());
  for (uint32_t id = 0; id < values_.size(); ++id) {
    const std::string_view v = ValueOf(id);
    uint64_t key = 0;
    for (size_t i = 0; i < 8; ++i) key = key << 8 | (i < v.size() ? static_cast<unsigned char>(v[i]) : 0u);
    keyed[id] = {key, id};
  }
  std::sort(keyed.begin(), keyed.end(), [this](const Keyed& a, const Keyed& b) {
    if (a.key != b.key) return a.key < b.key;
    return ValueOf(a.id) < ValueOf(b.id);
  });
  std::vector<uint32_t> ids(keyed.size());
  for (size_t i = 0; i < keyed.size(); ++i) ids[i] = keyed[i].id;
  return ids;
}

std::vector<uint32_t> SegmentIndexBuilder::Frames(IndexedField f, std::string_view value, bool prefix) const {
  std::vector<FrameCount> counts = FrameCounts(f, value, prefix);
  std::vector<uint32_t> out(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) out[i] = counts[i].frame;
  return out;
}

std::vector<FrameCount> MergeFrameCounts(std::vector<FrameCount> all) {
  std::sort(all.begin(), all.end(), [](const FrameCount& a, const FrameCount& b) { return a.frame < b.frame; });
  std::vector<FrameCount> out;
  for (const FrameCount& c : all) {
    if (!out.empty() && out.back().frame == c.frame) {
      out.back().events += c.events;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<FrameCount> SegmentIndexBuilder::FrameCounts(IndexedField f, std::string_view value, bool prefix) const {
  std::vector<FrameCount> out;
  const FieldPostings& p = values_[static_cast<int>(f)];
  if (!prefix) {
    if (const uint32_t id = p.Find(value); id != FieldPostings::kNone) p.AppendEntries(id, &out);
    return out;
  }
  for (uint32_t id = 0; id < p.size(); ++id) {
    if (p.ValueOf(id).starts_with(value)) p.AppendEntries(id, &out);
  }
  return MergeFrameCounts(std::move(out));
}

bool HasIndexedFilter(const Query& q) {
  return (q.type && *q.type != "*") || q.actor || q.source || q.lead_id || q.workflow_id;
}

std::optional<std::vector<uint32_t>> PlanCandidates(const Query& q, const PostingsLookup& postings) {
  std::optional<std::vector<uint32_t>> candidates;
  auto narrow = [&](std::vector<uint32_t> list) {
    if (!candidates) {
      candidates = std::move(list);
      return;
    }
    std::vector<uint32_t> both;
    std::set_intersection(candidates->begin(), candidates->end(), list.begin(), list.end(), std::back_inserter(both));
    candidates = std::move(both);
  };
  if (q.type && q.type->ends_with(".*")) {
    narrow(postings(IndexedField::kType, std::string_view(*q.type).substr(0, q.type->size() - 1), true));
  } else if (q.type && *q.type != "*") {
    narrow(postings(IndexedField::kType, *q.type, false));
  }
  if (q.actor) narrow(postings(IndexedField::kActor, *q.actor, false));
  if (q.source) narrow(postings(IndexedField::kSource, *q.source, false));
  if (q.lead_id) narrow(postings(IndexedField::kLeadId, *q.lead_id, false));
  if (q.workflow_id) narrow(postings(IndexedField::kWorkflowId, *q.workflow_id, false));
  return candidates;
}

void SegmentIndexBuilder::Clear() {
  for (auto& p : values_) p = FieldPostings();
  frame_count_ = 0;
}

size_t SegmentIndexBuilder::FieldPostings::memory_bytes() const {
  // Capacities, not sizes: a seal serializes the index while its arrays are
  // still held, and measured by sizes (so segments twice as long) the
  // writer's peak RSS was 1.8x higher (docs/performance.md, "Memory").
  return arena_.capacity() + values_.capacity() * sizeof(Value) +
         entries_.capacity() * sizeof(Entry) + table_.capacity() * sizeof(uint64_t);
}

size_t SegmentIndexBuilder::memory_bytes() const {
  size_t n = 0;
  for (const auto& p : values_) n += p.memory_bytes();
  return n;
}

size_t SegmentIndexBuilder::distinct_values() const {
  size_t n = 0;
  for (const auto& p : values_) n += p.size();
  return n;
}

// Layout (little-endian):
//   "STELEFIX" u32 version u32 frame_count
//   5 x field: u32 count, u32 directory_offset
//   per field: directory of count x (u32 value_offset, u32 postings_offset), sorted by value
//   value heap: u16 len | bytes;
//   postings heap: varint n_frames | varint events | n x (varint frame delta | varint frame's events)
//   u64 XXH3-64 of all the bytes before it
//
// IndexFileEncoder writes that layout from values given in ascending order,
// field after field: what both the builder and a merge of chunks produce.
// Directory entries are kept relative to the heap until the end, when the
// directories' total size (and so the heap's offset) is known.
namespace {
class IndexFileEncoder {
 public:
  explicit IndexFileEncoder(uint32_t frame_count) {
    head_.append(kMagic);
    AppendU32(&head_, kVersion);
    AppendU32(&head_, frame_count);
  }
  void BeginField() {
    counts_.push_back(0);
    dir_starts_.push_back(dirs_.size());
  }
  // One value of the current field, ascending, with its (frame, events)
  // entries in ascending frame order.
  void AddValue(std::string_view value, uint32_t events, std::span<const FrameCount> entries) {
    ++counts_.back();
    dirs_.push_back(static_cast<uint32_t>(heap_.size()));
    AppendU16(&heap_, static_cast<uint16_t>(value.size()));
    heap_.append(value);
    dirs_.push_back(static_cast<uint32_t>(heap_.size()));
    PutVarint(&heap_, static_cast<uint32_t>(entries.size()));
    PutVarint(&heap_, events);
    uint32_t prev = 0;
    for (const FrameCount& e : entries) {
      PutVarint(&heap_, e.frame - prev);
      PutVarint(&heap_, e.events);
      prev = e.frame;
    }
  }
  std::string Finish() {
    const size_t fixed = head_.size() + kIndexedFieldCount * 8;
    const auto heap_base = static_cast<uint32_t>(fixed + dirs_.size() * 4);
    std::string out;
    out.reserve(fixed + dirs_.size() * 4 + heap_.size() + 8);
    out.append(head_);
    for (size_t f = 0; f < counts_.size(); ++f) {
      AppendU32(&out, counts_[f]);
      AppendU32(&out, static_cast<uint32_t>(fixed + dir_starts_[f] * 4));
    }
    for (const uint32_t off : dirs_) AppendU32(&out, heap_base + off);
    out.append(heap_);
    AppendU64(&out, Checksum(out));
    return out;
  }

 private:
  std::string head_, heap_;
  std::vector<uint32_t> dirs_;  // (value, postings) offsets into heap_, field after field
  std::vector<uint32_t> counts_;
  std::vector<size_t> dir_starts_;  // each field's first entry in dirs_
};
}  // namespace

std::string SegmentIndexBuilder::Finish() const {
  IndexFileEncoder enc(frame_count_);
  std::vector<uint32_t> starts;
  std::vector<FrameCount> grouped;
  for (const FieldPostings& p : values_) {
    enc.BeginField();
    const std::vector<uint32_t> sorted = p.SortedIds();
    p.GroupEntries(&starts, &grouped);
    for (const uint32_t id : sorted) {
      enc.AddValue(p.ValueOf(id), p.value(id).events,
                   std::span<const FrameCount>(grouped.data() + starts[id], starts[id + 1] - starts[id]));
    }
  }
  return enc.Finish();
}

// A k-way merge of each field's sorted values (a heap of one cursor per
// part).  Parts cover ascending, disjoint frame ranges, so a value's entries
// are its parts' entries concatenated in part order.
Result<std::string> MergeSegmentIndexes(std::span<const SegmentIndex* const> parts) {
  uint32_t frame_count = 0;
  for (const SegmentIndex* part : parts) {
    if (part->version_ != kVersion) return Status::InvalidArgument("segment index merge: a part is not version 2");
    if (part->frame_count_ < frame_count) return Status::InvalidArgument("segment index merge: parts out of order");
    frame_count = part->frame_count_;
  }
  IndexFileEncoder enc(frame_count);
  struct Cursor {
    std::string_view value;
    uint32_t part, i;
  };
  // Greater-than, so the heap's top is the least value, and of equal values
  // the earliest part.
  auto later = [](const Cursor& a, const Cursor& b) { return a.value != b.value ? a.value > b.value : a.part > b.part; };
  std::vector<Cursor> heap;
  std::vector<FrameCount> entries;
  for (int f = 0; f < kIndexedFieldCount; ++f) {
    enc.BeginField();
    heap.clear();
    for (uint32_t k = 0; k < parts.size(); ++k) {
      const SegmentIndex::FieldTable& t = parts[k]->fields_[f];
      if (t.count > 0) heap.push_back({parts[k]->ValueAt(t, 0), k, 0});
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
      const std::string_view value = heap.front().value;
      uint64_t events = 0;
      entries.clear();
      while (!heap.empty() && heap.front().value == value) {
        std::pop_heap(heap.begin(), heap.end(), later);
        Cursor& c = heap.back();
        const SegmentIndex& part = *parts[c.part];
        const SegmentIndex::FieldTable& t = part.fields_[f];
        events += part.EventsAt(t, c.i);
        part.AppendPostings(t, c.i, nullptr, &entries);
        if (++c.i < t.count) {
          c.value = part.ValueAt(t, c.i);
          std::push_heap(heap.begin(), heap.end(), later);
        } else {
          heap.pop_back();
        }
      }
      enc.AddValue(value, static_cast<uint32_t>(std::min<uint64_t>(events, UINT32_MAX)), entries);
    }
  }
  return enc.Finish();
}

// Version 3 is a version 2 file compressed whole with zstd (sorted values
// share long prefixes: 2.1x smaller on the reference workload), in a
// wrapper of its own:
//   "STELEFIX" | u32 version (3) | u32 inner size | zstd frame | u64 XXH3-64 of everything before
std::string CompressSegmentIndex(std::string_view inner, int level) {
  std::string out(kMagic);
  AppendU32(&out, kCompressedVersion);
  AppendU32(&out, static_cast<uint32_t>(inner.size()));
  const size_t head = out.size();
  out.resize(head + ZSTD_compressBound(inner.size()));
  const size_t n = ZSTD_compress(out.data() + head, out.size() - head, inner.data(), inner.size(), level);
  if (ZSTD_isError(n)) return std::string(inner);  // cannot happen with a bound-sized buffer; v2 is still valid
  out.resize(head + n);
  AppendU64(&out, Checksum(out));
  return out;
}

Result<SegmentIndex> SegmentIndex::Parse(std::string bytes) {
  if (bytes.size() >= 12 && bytes.compare(0, kMagic.size(), kMagic) == 0 && GetU32(bytes.data() + 8) == kBlockedVersion) {
    return FromBlocked(BlockedIndexReader::Open(std::move(bytes)));
  }
  if (bytes.size() >= kMagic.size() + 16 && bytes.compare(0, kMagic.size(), kMagic) == 0 &&
      GetU32(bytes.data() + 8) == kCompressedVersion) {
    if (GetU64(bytes.data() + bytes.size() - 8) != Checksum(bytes.data(), bytes.size() - 8)) {
      return Status::Corruption("segment index: checksum mismatch");
    }
    const uint32_t inner_size = GetU32(bytes.data() + 12);
    if (inner_size > (1u << 30)) return Status::Corruption("segment index: inner size over 1 GiB");
    std::string inner(inner_size, '\0');
    const size_t n = ZSTD_decompress(inner.data(), inner.size(), bytes.data() + 16, bytes.size() - 24);
    if (ZSTD_isError(n) || n != inner_size) return Status::Corruption("segment index: bad compressed body");
    if (inner.size() >= 12 && GetU32(inner.data() + 8) == kCompressedVersion) {
      return Status::Corruption("segment index: nested compression");
    }
    return Parse(std::move(inner));
  }
  const size_t fixed = kMagic.size() + 8 + kIndexedFieldCount * 8;
  if (bytes.size() < fixed + 8 || bytes.compare(0, kMagic.size(), kMagic) != 0) {
    return Status::Corruption("segment index: bad magic");
  }
  if (GetU64(bytes.data() + bytes.size() - 8) != Checksum(bytes.data(), bytes.size() - 8)) {
    return Status::Corruption("segment index: checksum mismatch");
  }
  SegmentIndex idx;
  idx.version_ = GetU32(bytes.data() + 8);
  if (idx.version_ != 1 && idx.version_ != kVersion) return Status::Corruption("segment index: unknown version");
  idx.frame_count_ = GetU32(bytes.data() + 12);
  const size_t body_end = bytes.size() - 8;
  for (int f = 0; f < kIndexedFieldCount; ++f) {
    idx.fields_[f].count = GetU32(bytes.data() + 16 + 8 * f);
    idx.fields_[f].directory = GetU32(bytes.data() + 20 + 8 * f);
    if (idx.fields_[f].directory + uint64_t{idx.fields_[f].count} * 8 > body_end) {
      return Status::Corruption("segment index: directory out of bounds");
    }
    for (uint32_t i = 0; i < idx.fields_[f].count; ++i) {
      const char* d = bytes.data() + idx.fields_[f].directory + 8 * i;
      if (GetU32(d) + 2 > body_end || GetU32(d + 4) > body_end) return Status::Corruption("segment index: bad entry");
      if (GetU32(d) + 2 + GetU16(bytes.data() + GetU32(d)) > body_end) {
        return Status::Corruption("segment index: bad value");
      }
    }
  }
  idx.bytes_ = std::move(bytes);
  return idx;
}

Result<SegmentIndex> SegmentIndex::Load(Env* env, const std::string& segment_path) {
  const std::string path = SegmentIndexPath(segment_path);
  auto file = env->OpenReadable(path);
  if (!file.ok()) return file.status();
  char head[12];
  size_t got = 0;
  STELE_RETURN_IF_ERROR((*file)->Read(0, sizeof(head), head, &got));
  if (got == sizeof(head) && std::string_view(head, 8) == kMagic && GetU32(head + 8) == kBlockedVersion) {
    return FromBlocked(BlockedIndexReader::Open(std::move(file).value()));
  }
  auto bytes = ReadFileToString(env, path, size_t{1} << 31);
  if (!bytes.ok()) return bytes.status();
  return Parse(std::move(bytes).value());
}

Result<SegmentIndex> SegmentIndex::FromBlocked(Result<std::shared_ptr<const BlockedIndexReader>> reader) {
  if (!reader.ok()) return reader.status();
  SegmentIndex idx;
  idx.version_ = kBlockedVersion;
  idx.frame_count_ = (*reader)->frame_count();
  idx.blocked_ = std::move(reader).value();
  return idx;
}

size_t SegmentIndex::value_count(IndexedField f) const {
  return blocked_ ? blocked_->value_count(f) : fields_[static_cast<int>(f)].count;
}

// A version 4 index is charged its tables and its block cache (1 MiB), so
// the Log's 256 MiB index cache also keeps fewer than 256 files open.
size_t SegmentIndex::byte_size() const { return blocked_ ? blocked_->memory_bytes() : bytes_.size(); }

std::vector<uint32_t> SegmentIndex::AllFrames() const {
  std::vector<uint32_t> all(frame_count_);
  for (uint32_t i = 0; i < frame_count_; ++i) all[i] = i;
  return all;
}

std::string_view SegmentIndex::ValueAt(const FieldTable& t, uint32_t i) const {
  const uint32_t off = GetU32(bytes_.data() + t.directory + 8 * i);
  return std::string_view(bytes_.data() + off + 2, GetU16(bytes_.data() + off));
}

uint32_t SegmentIndex::EventsAt(const FieldTable& t, uint32_t i) const {
  const char* p = bytes_.data() + GetU32(bytes_.data() + t.directory + 8 * i + 4);
  const char* end = bytes_.data() + bytes_.size() - 8;
  uint32_t n = 0, events = 0;
  return GetVarint(p, end, &n) && GetVarint(p, end, &events) ? events : 0;
}

namespace {

// A postings record (varint frames | varint events | (varint delta
// [| varint count])*); returns where it ends, or null if malformed.
const char* DecodePostings(const char* p, const char* end, uint32_t version, std::vector<uint32_t>* out,
                           std::vector<FrameCount>* counts, uint32_t* events_out = nullptr) {
  uint32_t n = 0, events = 0, o = 0, delta = 0, count = 0;
  if (!GetVarint(p, end, &n) || !GetVarint(p, end, &events)) return nullptr;
  if (events_out != nullptr) *events_out = events;
  for (uint32_t k = 0; k < n; ++k) {
    if (!GetVarint(p, end, &delta)) return nullptr;
    o += delta;
    if (version >= 2 && !GetVarint(p, end, &count)) return nullptr;
    if (out != nullptr) out->push_back(o);
    if (counts != nullptr) counts->push_back({o, count});
  }
  return p;
}

}  // namespace

void SegmentIndex::AppendPostings(const FieldTable& t, uint32_t i, std::vector<uint32_t>* out,
                                  std::vector<FrameCount>* counts) const {
  const char* p = bytes_.data() + GetU32(bytes_.data() + t.directory + 8 * i + 4);
  DecodePostings(p, bytes_.data() + bytes_.size() - 8, version_, out, counts);
}

void SegmentIndex::ForEachPostingsRecord(
    IndexedField f, const std::function<void(std::string_view, uint32_t, std::string_view)>& fn) const {
  if (blocked_) return;
  const FieldTable& t = fields_[static_cast<int>(f)];
  const char* end = bytes_.data() + bytes_.size() - 8;
  for (uint32_t i = 0; i < t.count; ++i) {
    const char* p = bytes_.data() + GetU32(bytes_.data() + t.directory + 8 * i + 4);
    uint32_t events = 0;
    const char* q = DecodePostings(p, end, version_, nullptr, nullptr, &events);
    if (q != nullptr) fn(ValueAt(t, i), events, std::string_view(p, static_cast<size_t>(q - p)));
  }
}

std::optional<std::vector<FrameCount>> SegmentIndex::FrameCounts(IndexedField f, std::string_view value,
                                                                 bool prefix) const {
  if (version_ < 2) return std::nullopt;
  std::vector<FrameCount> out;
  if (blocked_) {
    Status s = blocked_->Scan(f, value, [&](std::string_view v, uint32_t, std::string_view postings) {
      if (prefix ? !v.starts_with(value) : v != value) return false;
      DecodePostings(postings.data(), postings.data() + postings.size(), version_, nullptr, &out);
      return prefix;
    });
    if (!s.ok()) return std::nullopt;
    return prefix ? MergeFrameCounts(std::move(out)) : out;
  }
  const FieldTable& t = fields_[static_cast<int>(f)];
  if (!prefix) {
    const uint32_t i = LowerBound(t, value);
    if (i < t.count && ValueAt(t, i) == value) AppendPostings(t, i, nullptr, &out);
    return out;
  }
  for (uint32_t i = LowerBound(t, value); i < t.count && ValueAt(t, i).starts_with(value); ++i) {
    AppendPostings(t, i, nullptr, &out);
  }
  return MergeFrameCounts(std::move(out));
}

Status SegmentIndex::ForEachValue(IndexedField f, const std::function<void(std::string_view, uint64_t)>& fn) const {
  if (blocked_) return blocked_->ForEachValue(f, fn);
  const FieldTable& t = fields_[static_cast<int>(f)];
  const char* end = bytes_.data() + bytes_.size() - 8;
  for (uint32_t i = 0; i < t.count; ++i) {
    const char* p = bytes_.data() + GetU32(bytes_.data() + t.directory + 8 * i + 4);
    uint32_t n = 0, events = 0;
    if (GetVarint(p, end, &n) && GetVarint(p, end, &events)) fn(ValueAt(t, i), events);
  }
  return Status::Ok();
}

uint32_t SegmentIndex::LowerBound(const FieldTable& t, std::string_view v) const {
  uint32_t lo = 0, hi = t.count;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (ValueAt(t, mid) < v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::vector<uint32_t> SegmentIndex::Frames(IndexedField f, std::string_view value) const {
  std::vector<uint32_t> out;
  if (blocked_) {
    Status s = blocked_->Scan(f, value, [&](std::string_view v, uint32_t, std::string_view postings) {
      if (v == value) DecodePostings(postings.data(), postings.data() + postings.size(), version_, &out, nullptr);
      return false;
    });
    return s.ok() ? out : AllFrames();
  }
  const FieldTable& t = fields_[static_cast<int>(f)];
  const uint32_t i = LowerBound(t, value);
  if (i < t.count && ValueAt(t, i) == value) AppendPostings(t, i, &out);
  return out;
}

std::optional<std::vector<uint32_t>> SegmentIndex::Candidates(const Query& q) const {
  return PlanCandidates(q, [this](IndexedField f, std::string_view v, bool prefix) {
    return prefix ? FramesWithPrefix(f, v) : Frames(f, v);
  });
}

std::vector<uint32_t> SegmentIndex::FramesWithPrefix(IndexedField f, std::string_view prefix) const {
  std::vector<uint32_t> out;
  if (blocked_) {
    Status s = blocked_->Scan(f, prefix, [&](std::string_view v, uint32_t, std::string_view postings) {
      if (!v.starts_with(prefix)) return false;
      DecodePostings(postings.data(), postings.data() + postings.size(), version_, &out, nullptr);
      return true;
    });
    if (!s.ok()) return AllFrames();
  } else {
    const FieldTable& t = fields_[static_cast<int>(f)];
    for (uint32_t i = LowerBound(t, prefix); i < t.count && ValueAt(t, i).starts_with(prefix); ++i) {
      AppendPostings(t, i, &out);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::shared_ptr<const SegmentIndex>> SegmentIndexCache::Get(Env* env, const std::string& segment_path) {
  if (auto cached = lru_.Get(segment_path)) return cached;
  auto loaded = SegmentIndex::Load(env, segment_path);  // outside the cache's lock: it reads a file
  if (!loaded.ok()) return loaded.status();
  return lru_.Insert(segment_path, std::make_shared<const SegmentIndex>(std::move(loaded).value()));
}

void SegmentIndexCache::Erase(const std::string& segment_path) {
  lru_.Erase(segment_path);
}

std::shared_ptr<const SegmentIndex> SealedIndexOf(Env* env, const std::string& segment_path, SegmentIndexCache* cache) {
  if (cache) {
    auto cached = cache->Get(env, segment_path);
    return cached.ok() ? *cached : nullptr;
  }
  auto loaded = SegmentIndex::Load(env, segment_path);
  return loaded.ok() ? std::make_shared<const SegmentIndex>(std::move(loaded).value()) : nullptr;
}

std::string SegmentIndexPath(const std::string& segment_path) {
  return segment_path.substr(0, segment_path.size() - format::kSegmentSuffix.size()) + ".fidx";
}

Status WriteSegmentIndex(Env* env, const std::string& segment_path, const std::string& bytes) {
  auto v2 = SegmentIndex::Parse(bytes);
  if (!v2.ok()) return v2.status();
  auto blocked = BlockSegmentIndex(*v2);
  if (!blocked.ok()) return blocked.status();
  return WriteFileAtomically(env, SegmentIndexPath(segment_path), *blocked);
}

}  // namespace stele
