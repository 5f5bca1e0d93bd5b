#include "query/scan_iterator.h"
#include "query/count.h"
#include "util/confined_env.h"

#include <algorithm>
#include <iterator>

#include "event/record.h"
#include "index/segment_index.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "util/buffer_pool.h"
#include "util/coding.h"

namespace stele {

Result<std::unique_ptr<ScanIterator>> ScanIterator::Open(Env* env, const std::string& dir, const Query& query,
                                                         Context context) {
  auto filter = EventFilter::Create(query);
  if (!filter.ok()) return filter.status();
  const std::string segment_dir = SegmentDirOf(dir);
  auto segments = ListSegments(env, segment_dir);
  if (!segments.ok()) return segments.status();
  std::unique_ptr<ScanIterator> it(
      new ScanIterator(env, segment_dir, query, std::move(filter).value(), std::move(segments).value()));
  it->context_ = std::move(context);
  return it;
}

namespace {

// The records an equality on an indexed field keeps, as the frame decoder
// names its columns (the optional fields in mask bit order).
RecordSelector SelectorOf(IndexedField field, std::string_view value) {
  switch (field) {
    case IndexedField::kType: return {RecordSelector::kType, value};
    case IndexedField::kActor: return {0, value};
    case IndexedField::kSource: return {1, value};
    case IndexedField::kLeadId: return {2, value};
    case IndexedField::kWorkflowId: return {3, value};
  }
  return {RecordSelector::kType, value};  // unreachable: every field is listed
}

}  // namespace

Result<std::unique_ptr<ScanIterator>> ScanIterator::OpenDirectory(const std::string& dir, const Query& query) {
  auto env = std::make_unique<ConfinedEnv>(dir);
  auto it = Open(env.get(), dir, query);
  if (!it.ok()) return it.status();
  (*it)->own_env_ = std::move(env);
  return it;
}

ScanIterator::ScanIterator(Env* env, std::string segment_dir, const Query& query, std::unique_ptr<EventFilter> filter,
                           std::vector<uint64_t> segments)
    : env_(env),
      segment_dir_(std::move(segment_dir)),
      query_(query),
      filter_(std::move(filter)),
      segments_(std::move(segments)) {
  if (query_.lead_id) equality_.emplace(IndexedField::kLeadId, *query_.lead_id);
  else if (query_.workflow_id) equality_.emplace(IndexedField::kWorkflowId, *query_.workflow_id);
  else if (query_.actor) equality_.emplace(IndexedField::kActor, *query_.actor);
  else if (query_.source) equality_.emplace(IndexedField::kSource, *query_.source);
  else if (query_.type && !query_.type->ends_with(".*") && *query_.type != "*")  // "*" and "x.*" are prefixes
    equality_.emplace(IndexedField::kType, *query_.type);
  if (equality_) selector_ = SelectorOf(equality_->first, equality_->second);
  // Each --where on a top-level data key narrows the records rebuilt too.
  // (The keys are collected first: the selector's terms point into them.)
  std::vector<std::string_view> values;
  for (const auto& [pointer, value] : query_.where) {
    std::string key;
    if (!TopLevelKey(pointer, &key)) continue;
    selector_data_keys_.push_back(std::move(key));
    values.push_back(value);
  }
  if (!selector_data_keys_.empty() && !selector_) selector_.emplace();  // on the data terms alone
  for (size_t t = 0; t < selector_data_keys_.size(); ++t) selector_->data.push_back({selector_data_keys_[t], values[t]});
}

ScanIterator::~ScanIterator() { CancelReadAhead(); }  // its thread reads segment_ and the ring

bool ScanIterator::Fail(Status s) {
  CancelReadAhead();  // before segment_ goes
  status_ = std::move(s);
  done_ = true;
  segment_.reset();
  return false;
}

bool ScanIterator::OpenNextSegment() {
  CancelReadAhead();  // it reads segment_
  segment_.reset();
  while (segments_done_ < segments_.size()) {
    const size_t k = segments_done_++;
    const size_t i = query_.descending ? segments_.size() - 1 - k : k;
    const uint64_t first = segments_[i];
    const bool is_last = i + 1 == segments_.size();
    // Bounds from the names alone: segment i holds [first, next_first - 1].
    const uint64_t last_bound = is_last ? UINT64_MAX : segments_[i + 1] - 1;
    if (!filter_->MayMatchRange(first, last_bound, INT64_MIN, INT64_MAX)) continue;
    auto reader = SegmentReader::Open(env_, segment_dir_ + "/" + format::SegmentFileName(first), first);
    if (!reader.ok()) {
      // Removed by retention after we listed it: nothing to read.
      if (reader.status().code() == StatusCode::kNotFound) continue;
      // The newest segment may still be having its header written.
      if (is_last && reader.status().code() == StatusCode::kCorruption) {
        auto f = env_->OpenReadable(segment_dir_ + "/" + format::SegmentFileName(first));
        if (f.ok() && (*f)->Size().ok() && *(*f)->Size() < format::kSegmentHeaderSize) continue;
      }
      return Fail(reader.status());
    }
    if ((*reader)->frames().empty() && (*reader)->tail_error().ok()) continue;
    if (!filter_->MayMatchRange((*reader)->first_seq(), (*reader)->last_seq(), (*reader)->min_ts(),
                               (*reader)->max_ts())) {
      continue;
    }
    segment_ = std::move(reader).value();
    frames_done_ = 0;
    PlanFrames();
    return true;
  }
  done_ = true;
  return false;
}

const LiveSegmentIndex* ScanIterator::InMemoryIndex(const Context& context, uint64_t first_seq) {
  for (const auto* index : {context.live.get(), context.sealing.get()}) {
    if (index && index->first_seq() == first_seq) return index;
  }
  return nullptr;
}

std::shared_ptr<const LeadRuns> ScanIterator::LeadRunsOfSegment() const {
  if (context_.lead_runs) return context_.lead_runs->Get(env_, segment_->path(), segment_->first_seq());
  auto loaded = LeadRuns::Load(env_, segment_->path(), segment_->first_seq());
  return loaded.ok() ? std::shared_ptr<const LeadRuns>(std::move(loaded).value()) : nullptr;
}

void ScanIterator::PlanFrames() {
  const size_t n = segment_->frames().size();
  frame_order_.clear();
  runs_.reset();
  run_ = {};
  if (segment_->sealed() && query_.lead_id) {
    // A run holds every event of its lead in the segment, in seq order: read
    // it instead of the frames (derived data: none, or a damaged file, and
    // the frames are read as usual).
    if (auto runs = LeadRunsOfSegment()) {
      if (auto blocks = runs->BlocksOf(*query_.lead_id); !blocks.empty()) {
        runs_ = std::move(runs);
        run_ = blocks;
        frame_order_.resize(run_.size());
        for (size_t i = 0; i < run_.size(); ++i) frame_order_[i] = static_cast<uint32_t>(i);
        if (query_.descending) std::reverse(frame_order_.begin(), frame_order_.end());
        return;
      }
    }
  }
  std::optional<std::vector<uint32_t>> candidates;
  if (segment_->sealed()) {
    const auto index = SealedIndexOf(env_, segment_->path(), context_.sealed_indexes.get());
    // No index (crash before it was written) or a damaged one: it is derived
    // data, so the segment is scanned instead.
    if (index && index->frame_count() == n) {
      candidates = index->Candidates(query_);
    } else if (const LiveSegmentIndex* in_memory = InMemoryIndex(context_, segment_->first_seq())) {
      candidates = in_memory->Candidates(query_);  // sealed a moment ago; its file is being written
    }
  } else if (const LiveSegmentIndex* in_memory = InMemoryIndex(context_, segment_->first_seq())) {
    // The writer's index of this active segment may list frames newer than
    // this reader's snapshot; those ordinals are skipped below.
    candidates = in_memory->Candidates(query_);
  } else if (HasIndexedFilter(query_)) {
    // Another process writes this segment: its .lidx holds the index of all
    // but the newest frames, which are read.
    // Chunks cover ascending, disjoint frame ranges: each one's candidates
    // follow the previous one's.
    std::vector<uint32_t> listed;
    const uint32_t end = LiveSegmentIndex::ForEachChunk(
        env_, segment_->path(), static_cast<uint32_t>(n), [&](const SegmentIndex& chunk) {
          const auto part = chunk.Candidates(query_);
          listed.insert(listed.end(), part->begin(), part->end());
        });
    if (end > 0) {
      for (uint32_t i = end; i < n; ++i) listed.push_back(i);
      candidates = std::move(listed);
    }
  }
  // Frames an index picked are what lookups come back for; a long scan of
  // every frame only takes the cache's free room (see Admission()).
  scans_all_frames_ = !candidates;
  if (candidates) {
    frame_order_ = std::move(*candidates);
  } else {
    frame_order_.resize(n);
    for (size_t i = 0; i < n; ++i) frame_order_[i] = static_cast<uint32_t>(i);
  }
  if (query_.descending) std::reverse(frame_order_.begin(), frame_order_.end());
}

namespace {

// The frame cached under (path, key), else the records `read` decompresses
// (`count` of them), checked and cached; `what()` names them in an error
// (built only then: this runs for every frame a query visits).
// With `literals`, null when the frame's stored bytes lack a literal its
// regex requires: such a frame is neither rebuilt nor cached.
// With `select`, a frame the cache will not keep is rebuilt only as far as
// the caller looks: its selected records (`read` is handed the selector
// then, and says how many records it kept).
template <typename Read, typename What>
Result<std::shared_ptr<const CachedFrame>> LoadThroughCache(FrameCache* cache, FrameCache::Admit admit,
                                                            const std::string& path, size_t key, uint32_t count,
                                                            Read read, What what, EventFilter* literals, bool* hit,
                                                            const RecordSelector* select = nullptr) {
  std::shared_ptr<const CachedFrame> frame = cache ? cache->Get(path, key) : nullptr;
  *hit = frame != nullptr;
  if (frame) return literals && !literals->StoredBytesMayMatch(frame->raw()) ? nullptr : frame;
  // A recycled buffer: a scan drops each frame it is done with (util/buffer_pool.h).
  std::string raw = BufferPool::Frames().Take();
  bool passed = true;
  if (select != nullptr && cache != nullptr && cache->Keeps(admit)) select = nullptr;  // the whole frame, for later
  uint32_t kept = count;
  Status read_status = read(&raw, &passed, select, &kept);
  if (!read_status.ok() || !passed) {
    BufferPool::Frames().Give(std::move(raw));
    if (!read_status.ok()) return read_status;
    return std::shared_ptr<const CachedFrame>();
  }
  auto made = CachedFrame::Make(std::move(raw), kept);
  if (!made.ok()) return Status::Corruption(path + ": " + what() + " " + made.status().message());
  frame = *made;
  if (cache && kept == count) cache->Put(path, key, frame, admit);
  return frame;
}

}  // namespace

Result<std::shared_ptr<const CachedFrame>> LoadFrame(const SegmentReader& segment, size_t i, FrameCache* cache,
                                                     bool* hit, EventFilter* literals, FrameCache::Admit admit,
                                                     const RecordSelector* select) {
  SegmentReader::PayloadCheck check;
  // Without a literal to look for, the check would pass every frame, after
  // spelling out each one's packed ids to look in (DecodeFramePayload).
  if (literals && literals->ChecksStoredBytes()) {
    check = [literals](std::string_view bytes) { return literals->StoredBytesMayMatch(bytes); };
  }
  return LoadThroughCache(
      cache, admit, segment.path(), i, segment.frames()[i].count,
      [&](std::string* raw, bool* passed, const RecordSelector* selected, uint32_t* kept) {
        return segment.ReadFrameIf(i, check, raw, passed, selected, kept);
      },
      [i] { return "frame " + std::to_string(i); }, literals, hit, select);
}

// Whether the frame at frame_order_[pos] exists in this snapshot and may
// hold a match by its seq and time bounds.
bool ScanIterator::FrameMayMatch(size_t pos) const {
  const auto& frames = segment_->frames();
  const size_t i = frame_order_[pos];
  if (runs_) return filter_->MayMatchRange(run_[i].first_seq, run_[i].last_seq, run_[i].min_ts, run_[i].max_ts);
  if (i >= frames.size()) return false;
  const format::FrameIndexEntry& f = frames[i];
  return filter_->MayMatchRange(f.first_seq, f.last_seq(), f.min_ts, f.max_ts);
}

Result<std::shared_ptr<const CachedFrame>> ScanIterator::LoadPlanned(size_t i, EventFilter* literals,
                                                                      bool* hit) const {
  if (!runs_) {
    return LoadFrame(*segment_, i, context_.frames.get(), hit, literals, Admission(frames_visited_),
                     selector_ ? &*selector_ : nullptr);
  }
  const LeadRunBlock& block = run_[i];
  return LoadThroughCache(
      context_.frames.get(), FrameCache::Admit::kHot, runs_->path(), runs_->BlockOrdinal(block), block.count,
      [&](std::string* raw, bool* passed, const RecordSelector*, uint32_t*) {  // every record holds the lead
        STELE_RETURN_IF_ERROR(runs_->ReadBlock(block, raw));
        *passed = literals == nullptr || literals->StoredBytesMayMatch(*raw);
        return Status::Ok();
      },
      [&block] { return "block of seqs " + std::to_string(block.first_seq) + ".." + std::to_string(block.last_seq); },
      literals, hit);
}

Status ScanIterator::DecodeAt(const CachedFrame& frame, uint32_t offset, EventView* event) const {
  const char* rec = frame.raw().data() + offset;
  if (!DecodeRecord(std::string_view(rec + 4, GetU32(rec)), event)) return MalformedRecord();
  return Status::Ok();
}

Status ScanIterator::MalformedRecord() const {
  return Status::Corruption(segment_->path() + ": malformed record in a frame that passed its checksum");
}

// The records of `frame` to visit, in frame order: with a frame-cache hit
// and an equality filter only those holding the value, else all of them.
void ScanIterator::CandidateRecords(const CachedFrame& frame, bool hit, std::vector<uint32_t>* out) const {
  if (hit && equality_) {
    out->clear();
    for (uint32_t k : frame.RecordsWith(equality_->first, equality_->second)) out->push_back(frame.offsets()[k]);
  } else {
    *out = frame.offsets();
  }
}

FrameCache::Admit ScanIterator::Admission(uint64_t visited) const {
  if (scans_all_frames_ && visited >= kHotScanFrames) return FrameCache::Admit::kIfRoom;
  // A lookup that visits more frames than a share of the cache holds (a
  // popular lead is in every frame) would cycle through the whole cache and
  // find none of its frames there the next time: past that share it only
  // takes free room, and decodes just its own records from the rest.
  if (context_.frames && visited >= std::max<uint64_t>(kHotScanFrames, context_.frames->capacity() /
                                                                            kHotLookupShare / kTypicalFrameBytes)) {
    return FrameCache::Admit::kIfRoom;
  }
  return FrameCache::Admit::kHot;
}

size_t ScanIterator::NextFrameToVisit(size_t pos) const {
  while (pos < frame_order_.size() && !FrameMayMatch(pos)) ++pos;
  return pos;
}

void ScanIterator::LoadAndFilter(size_t pos, size_t entry, EventFilter* filter, std::vector<uint32_t>* scratch,
                                 LoadedFrame* out) const {
  const FrameCache::Admit admit = Admission(ra_visited_before_ + entry);
  out->matches.clear();
  out->frame.reset();
  auto loaded = LoadFrame(*segment_, frame_order_[pos], context_.frames.get(), &out->hit, filter, admit,
                          selector_ ? &*selector_ : nullptr);
  if (!loaded.ok()) {
    out->status = loaded.status();
    return;
  }
  out->frame = std::move(loaded).value();
  out->status = Status::Ok();
  if (!out->frame) return;  // lacks a literal the regex requires
  CandidateRecords(*out->frame, out->hit, scratch);
  if (!filter->MatchRecords(out->frame->raw(), *scratch, &out->matches)) out->status = MalformedRecord();
}

void ScanIterator::StartReadAhead(size_t from) {
  if (runs_) return;  // a run's blocks are small, and read in a few microseconds
  ra_plan_.clear();
  for (size_t pos = NextFrameToVisit(from); pos < frame_order_.size(); pos = NextFrameToVisit(pos + 1)) {
    ra_plan_.push_back(pos);
  }
  // A small frame decompresses faster than a hand-off to another thread,
  // and so does a cached frame an equality filter visits through its value
  // map (a lead lookup touches only that lead's records): this thread
  // loads those.
  auto helper_may = [this](size_t k) {
    const size_t i = frame_order_[ra_plan_[k]];
    return segment_->frames()[i].stored_len >= kReadAheadMinStoredBytes &&
           !(equality_ && context_.frames && context_.frames->Get(segment_->path(), i));
  };
  if (!read_ahead_thread_) {
    auto filter = EventFilter::Create(query_);
    if (!filter.ok()) return;  // cannot happen: filter_ was made from the same query
    read_ahead_filter_ = std::move(filter).value();
    read_ahead_thread_ = std::make_unique<TaskThread>("stele-readahead");
  }
  // frames_visited_ is this thread's to change: entries count from here.
  ra_visited_before_ = frames_visited_;
  ra_next_ = 0;
  ahead_ = std::make_unique<OrderedReadAhead<LoadedFrame>>(
      read_ahead_thread_.get(), ra_plan_.size(), helper_may, [this](size_t k, bool on_helper, LoadedFrame* out) {
        LoadAndFilter(ra_plan_[k], k, on_helper ? read_ahead_filter_.get() : filter_.get(),
                      on_helper ? &candidates_ra_ : &candidates_, out);
        out->by_read_ahead = on_helper;
      });
}

void ScanIterator::CancelReadAhead() { ahead_.reset(); }

bool ScanIterator::TakeReadAhead() {
  LoadedFrame* const slot = ahead_->Next();
  if (!slot) return false;
  frames_done_ = ra_plan_[ra_next_++] + 1;
  if (!slot->status.ok()) return Fail(slot->status);
  frame_ = std::move(slot->frame);
  offsets_.swap(slot->matches);
  if (!slot->hit) ++frames_read_;
  if (slot->by_read_ahead) ++frames_read_ahead_;
  if (!frame_) ++frames_without_literal_;
  ++frames_visited_;
  prefiltered_ = true;
  return true;
}

bool ScanIterator::LoadNextFrame() {
  if (ahead_) {
    if (TakeReadAhead()) {
      if (query_.descending) std::reverse(offsets_.begin(), offsets_.end());
      next_record_ = 0;
      return true;
    }
    if (done_) return false;  // failed
    frames_done_ = frame_order_.size();  // the plan listed every frame left to visit
  }
  while (frames_done_ < frame_order_.size()) {
    const size_t pos = frames_done_++;
    if (!FrameMayMatch(pos)) continue;
    const size_t i = frame_order_[pos];
    // Value maps pay off only for frames read again: build them on a hit,
    // never on a miss (a cache smaller than the working set then costs
    // nothing over a plain scan).
    bool hit = false;
    auto loaded = LoadPlanned(i, filter_.get(), &hit);
    if (!loaded.ok()) return Fail(loaded.status());
    frame_ = std::move(loaded).value();
    if (!hit) ++frames_read_;
    if (runs_) ++run_blocks_visited_;
    if (frame_) {
      // Every record of a run's block holds the lead: no value map needed.
      CandidateRecords(*frame_, hit && !runs_, &offsets_);
    } else {
      offsets_.clear();  // lacks a literal the regex requires
      ++frames_without_literal_;
    }
    prefiltered_ = false;
    // A long scan (two frames visited already, read or cached) loads and
    // filters the rest of the segment's frames on two threads: on two
    // cores a regex scan runs up to twice as fast.
    if (++frames_visited_ > kReadAheadAfterFrames) StartReadAhead(frames_done_);
    // Filtered whole (after the read-ahead started, to run beside it).
    if (frame_ && filter_->MatchesFramesAtOnce()) {
      candidates_.swap(offsets_);
      offsets_.clear();
      if (!filter_->MatchRecords(frame_->raw(), candidates_, &offsets_)) return Fail(MalformedRecord());
      prefiltered_ = true;
    }
    if (query_.descending) std::reverse(offsets_.begin(), offsets_.end());
    next_record_ = 0;
    return true;
  }
  if (!segment_->tail_error().ok()) return Fail(segment_->tail_error());
  return false;
}

bool ScanIterator::Next(EventView* event) {
  if (done_) return false;
  if (query_.limit != 0 && emitted_ >= query_.limit) {
    done_ = true;
    return false;
  }
  while (true) {
    while (next_record_ < offsets_.size()) {
      if (Status s = DecodeAt(*frame_, offsets_[next_record_++], event); !s.ok()) return Fail(std::move(s));
      if (prefiltered_ || filter_->Matches(*event)) {
        ++emitted_;
        return true;
      }
    }
    offsets_.clear();
    next_record_ = 0;
    if (segment_ && LoadNextFrame()) continue;
    if (done_) return false;
    if (!OpenNextSegment()) return false;
  }
}

Result<uint64_t> CountDirectory(const std::string& dir, const Query& query) {
  ConfinedEnv env(dir);
  return CountEvents(&env, dir, query, {});
}

Result<std::unique_ptr<EventIterator>> QueryDirectory(const std::string& dir, const Query& query) {
  auto it = ScanIterator::OpenDirectory(dir, query);
  if (!it.ok()) return it.status();
  return std::unique_ptr<EventIterator>(std::move(it).value());
}

}  // namespace stele
