#include "ingest/log_impl.h"

#include <cstdio>
#include <optional>

#include "event/record.h"
#include "integrity/checkpoint.h"
#include "integrity/merkle_base.h"
#include "query/scan_iterator.h"
#include "storage/format.h"
#include "storage/recovery.h"
#include "storage/segment_list.h"
#include "util/coding.h"
#include "util/time.h"

#include "query/count.h"
#include "util/confined_env.h"

namespace stele {
namespace {

EventValidator& ThreadValidator() {
  thread_local EventValidator validator;
  return validator;
}

std::string& ThreadRecordBuffer() {
  thread_local std::string buffer;
  return buffer;
}

}  // namespace

LogImpl::LogImpl(const Options& options)
    : options_(options),
      own_env_(options.env != nullptr ? nullptr : std::make_unique<ConfinedEnv>(options.dir)),
      env_(options.env != nullptr ? options.env : own_env_.get()),
      segment_dir_(options.dir + "/" + std::string(format::kSegmentsDir)),
      cache_(options.query_cache_bytes) {
  limits_.max_event_bytes = options.max_event_bytes;
  limits_.max_depth = options.max_depth;
  limits_.max_object_keys = options.max_object_keys;
  limits_.max_string_bytes = options.max_string_bytes;
}

Result<std::unique_ptr<LogImpl>> LogImpl::Open(const Options& options) {
  if (options.dir.empty()) return Status::InvalidArgument("option \"dir\": must not be empty");
  if (options.queue_bytes == 0) return Status::InvalidArgument("option \"queue_bytes\": must be > 0");
  if (options.queue_bytes >= (1ull << 32)) {
    return Status::InvalidArgument("option \"queue_bytes\": must be under 4 GiB (the queue counts bytes in 32 bits)");
  }
  std::unique_ptr<LogImpl> log(new LogImpl(options));
  Env* env = log->env_;
  STELE_RETURN_IF_ERROR(env->CreateDir(options.dir));
  auto lock = env->LockFile(options.dir + "/" + std::string(format::kLockFile));
  if (!lock.ok()) return lock.status();
  log->lock_ = std::move(lock).value();
  STELE_RETURN_IF_ERROR(env->CreateDir(log->segment_dir_));

  auto recovered = RecoverSegments(env, log->segment_dir_, log->SegmentOptions(), options.lead_run_min_events);
  if (!recovered.ok()) return recovered.status();
  log->segment_ = std::move(recovered->active);
  log->recovery_ = recovered->info;
  if (options.integrity) {
    auto signer = LoadOrCreateSigner(env, options.dir, options.signing_key_path, true);
    if (!signer.ok()) return signer.status();
    log->signer_ = std::move(signer).value();
    auto hashes = HashStoreWriter::Open(env, options.dir, log->segment_->last_seq(), DirectoryLeafLoader(env, options.dir));
    if (!hashes.ok()) return hashes.status();
    log->hashes_ = std::move(hashes).value();
    auto checkpoints = ListCheckpoints(env, options.dir);
    if (!checkpoints.ok()) return checkpoints.status();
    if (!checkpoints->empty()) log->last_checkpoint_size_ = checkpoints->back();
    MutexLock l(&log->mu_);
    log->checkpointed_ = log->last_checkpoint_size_;
    log->last_checkpoint_ns_ = NowNanos();
  }
  {
    MutexLock l(&log->mu_);
    const uint64_t last = log->segment_->last_seq();
    log->queue_ = std::make_unique<WriteQueue>(options.queue_bytes, last + 1);
    log->opened_next_seq_ = last + 1;
    if (options.prefault_queue) log->queue_->Prefault();
    log->written_seq_ = last;
    log->durable_seq_ = last;
    log->durable_published_.store(last);
    log->stats_.written_seq = last;
    log->stats_.durable_seq = last;
    if (options.field_index) log->live_index_ = log->segment_->live_index();
  }
  log->recovery_.last_seq = log->segment_->last_seq();
  // Finish an interrupted removal, and apply the policy, before writing.
  STELE_RETURN_IF_ERROR(log->ApplyRetention(NowNanos()));
  log->last_retention_ns_ = NowNanos();
  {
    auto firsts = ListSegments(env, log->segment_dir_);
    if (!firsts.ok()) return firsts.status();
    MutexLock l(&log->mu_);
    log->stats_.first_seq = firsts->empty() ? 1 : firsts->front();
  }
  if (options.frame_cache_bytes > 0) log->frames_ = std::make_shared<FrameCache>(options.frame_cache_bytes);
  if (options.source_rate > 0) {
    log->source_limiter_ = std::make_unique<RateLimiter>(
        options.source_rate, options.source_burst > 0 ? options.source_burst : options.source_rate);
  }
  log->helper_ = std::make_unique<TaskThread>("stele-helper");
  log->indexer_ = std::make_unique<TaskThread>("stele-indexer");
  log->writer_ = std::thread([raw = log.get()] { raw->WriterLoop(); });
  log->monitor_ = std::make_unique<SecurityMonitor>(
      options.security_interval, options.security_max_groups, [raw = log.get()](std::string_view type, const std::string& data) {
        // Best effort: a security event that cannot be written (log closed
        // or read-only) must not take the monitor down.
        (void)raw->RecordSecurityEvent(type, data);
      });
  for (const auto& [removed, why] : log->deferred_retention_) {
    log->monitor_->Report("security.retention_applied", "seqs", removed, why);
  }
  log->deferred_retention_.clear();
  STELE_RETURN_IF_ERROR(log->DrainPendingSecurityEvents());
  return log;
}

LogImpl::~LogImpl() { (void)Shutdown(); }

Status LogImpl::RefusalLocked() const {
  if (!error_.ok()) return error_;
  if (closing_) return Status::Closed("the log is shut down");
  return Status::Ok();
}

void LogImpl::HaltLocked(Status why) {
  if (error_.ok()) error_ = std::move(why);
  queue_->Close();
  SignalProgressLocked();
  space_cv_.SignalAll();
  work_cv_.Signal();
}

void LogImpl::WakeWriter() {
  // Pairs with the writer's store of writer_idle_ before it checks the queue
  // (both sequentially consistent, the queue's compare-and-swap included):
  // either this sees the writer idle, or the writer sees the records.
  if (writer_idle_.load()) {
    MutexLock l(&mu_);
    work_cv_.Signal();
  }
}

Result<uint64_t> LogImpl::Enqueue(std::string* records, uint64_t n, bool wait) {
  if (records->size() >= (1ull << 32)) {
    return Status::InvalidArgument("batch: " + std::to_string(records->size()) +
                                   " bytes of records in one append; the limit is 4 GiB");
  }
  uint64_t first = 0;
  bool was_empty = false;
  WriteQueue::PushResult pushed = queue_->Push(records, n, &first, &was_empty);
  if (pushed == WriteQueue::PushResult::kOk) {
    if (was_empty) WakeWriter();
    return first;
  }
  // Full or closed: the slow path, under mu_.  The writer takes a batch
  // under mu_ and then signals space_cv_, so a push that fails here cannot
  // miss the space that batch frees.  The deadline is read from the clock
  // only now: a clock read per event was 1.5 % of ingest's CPU (perf, 2
  // producers).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  MutexLock l(&mu_);
  while (true) {
    STELE_RETURN_IF_ERROR(RefusalLocked());
    pushed = queue_->Push(records, n, &first, &was_empty);
    if (pushed == WriteQueue::PushResult::kOk) break;
    if (pushed == WriteQueue::PushResult::kClosed) return Status::Closed("the log is shut down");
    if (!wait) return Status::Busy("write queue full");  // TryAppend: the caller waits elsewhere
    if (!deadline) deadline = std::chrono::steady_clock::now() + options_.enqueue_deadline;
    if (!space_cv_.WaitUntil(&mu_, *deadline) && std::chrono::steady_clock::now() >= *deadline) {
      ++stats_.busy_rejects;
      return Status::Busy("write queue full (" + std::to_string(queue_->waiting_bytes()) + " of " +
                          std::to_string(options_.queue_bytes) + " bytes waiting) past the " +
                          std::to_string(options_.enqueue_deadline.count()) + " ms deadline; retry later");
    }
  }
  if (was_empty) work_cv_.Signal();
  return first;
}

Status LogImpl::WaitDurable(uint64_t seq) {
  // Without mu_, and woken only near its turn: under sync=always hundreds of
  // producers wait here, and waking all of them through one mutex and
  // condition variable after every group commit made a lock convoy
  // (`stele bench latency`: p99 13.7 ms at 50k events/s before; see
  // docs/performance.md).
  std::atomic<uint32_t>& bucket = wake_buckets_[seq % kWakeBuckets];
  while (true) {
    const uint32_t generation = bucket.load(std::memory_order_acquire);
    if (durable_published_.load(std::memory_order_acquire) >= seq) return Status::Ok();
    if (halted_.load(std::memory_order_acquire)) break;
    bucket.wait(generation, std::memory_order_acquire);
  }
  MutexLock l(&mu_);
  if (durable_seq_ >= seq) return Status::Ok();
  if (!error_.ok()) return error_;
  return Status::Closed("the log shut down before the event was durable");
}

void LogImpl::SignalProgressLocked() {
  const uint64_t before = durable_published_.exchange(durable_seq_, std::memory_order_release);
  const bool halted = !error_.ok() || writer_exited_;
  halted_.store(halted, std::memory_order_release);
  // Wake the buckets of the seqs that just became durable (all of them
  // once the log halts or a batch spans every bucket).
  const uint64_t to = halted || durable_seq_ - before >= kWakeBuckets ? before + kWakeBuckets : durable_seq_;
  for (uint64_t seq = before + 1; seq <= to; ++seq) {
    std::atomic<uint32_t>& bucket = wake_buckets_[seq % kWakeBuckets];
    bucket.fetch_add(1, std::memory_order_release);
    bucket.notify_all();
  }
  done_cv_.SignalAll();
}

Status LogImpl::WaitWritten(uint64_t seq) {
  MutexLock l(&mu_);
  while (written_seq_ < seq) {
    if (!error_.ok()) return error_;
    if (writer_exited_) return Status::Closed("the log shut down before the event was written");
    done_cv_.Wait(&mu_);
  }
  return Status::Ok();
}

Result<uint64_t> LogImpl::EnqueueValidated(std::string_view json, const ValidationLimits& limits, bool wait) {
  EventView event;
  STELE_RETURN_IF_ERROR(Admit(json, NowNanos(), limits, &event));
  std::string& buf = ThreadRecordBuffer();
  buf.clear();
  AppendFramedRecord(event, &buf);
  return Enqueue(&buf, 1, wait);
}

Result<uint64_t> LogImpl::AppendValidated(std::string_view json, const ValidationLimits& limits, bool wait) {
  auto seq = EnqueueValidated(json, limits, wait);
  if (!seq.ok()) return seq;
  if (options_.sync == SyncMode::kAlways) STELE_RETURN_IF_ERROR(WaitDurable(*seq));
  return seq;
}

Result<uint64_t> LogImpl::Append(std::string_view json) { return AppendValidated(json, limits_, true); }

Result<uint64_t> LogImpl::AppendQueued(std::string_view json) { return EnqueueValidated(json, limits_, true); }

Result<uint64_t> LogImpl::TryAppendQueued(std::string_view json) { return EnqueueValidated(json, limits_, false); }

Status LogImpl::AwaitDurable(uint64_t seq) {
  if (seq >= queue_->next_seq()) {
    return Status::InvalidArgument("seq: " + std::to_string(seq) + " is not appended yet (the next is " +
                                   std::to_string(queue_->next_seq()) + ")");
  }
  // Under kAlways every batch is synced anyway, and the wait takes no lock.
  // Otherwise ask for the sync, as Flush() does: kNone would never make the
  // event durable, and kBatch's commit window would hold it back.
  if (options_.sync != SyncMode::kAlways) {
    MutexLock l(&mu_);
    if (durable_seq_ < seq && error_.ok()) {
      sync_wanted_seq_ = std::max(sync_wanted_seq_, seq);
      work_cv_.Signal();
    }
  }
  return WaitDurable(seq);
}

Result<uint64_t> LogImpl::TryAppend(std::string_view json) {
  if (options_.sync == SyncMode::kAlways) return Status::Busy("sync=always waits for the disk");
  return AppendValidated(json, limits_, false);
}

Status LogImpl::Admit(std::string_view json, int64_t now_ns, const ValidationLimits& limits, EventView* event) {
  Status s = ThreadValidator().Validate(json, now_ns, limits, event);
  if (!s.ok()) {
    {
      MutexLock l(&mu_);
      ++stats_.invalid_rejects;
    }
    // The reason up to the field's name keeps groups few ("field \"ts\"").
    std::string_view reason = s.message();
    if (size_t colon = reason.find(':'); colon != std::string_view::npos) reason = reason.substr(0, colon);
    if (monitor_) monitor_->Report("security.validation_failed", "error", reason.substr(0, 96), "invalid event");
    return s;
  }
  if (source_limiter_ && !limits.allow_reserved_types) {
    double retry = 0;
    if (!source_limiter_->Allow(event->source, 1, now_ns, &retry)) {
      {
        MutexLock l(&mu_);
        ++stats_.rate_limited_rejects;
      }
      if (monitor_) monitor_->Report("security.rate_limited", "source", event->source, "source rate");
      return Status::RateLimited("field \"source\": \"" + std::string(event->source.substr(0, 64)) + "\" is over " +
                                 std::to_string(static_cast<uint64_t>(source_limiter_->rate())) +
                                 " events/s; retry in " + std::to_string(static_cast<int>(retry * 1000) + 1) + " ms");
    }
  }
  return Status::Ok();
}

void LogImpl::ReportSecurityIncident(std::string_view type, std::string_view subject_kind, std::string_view subject,
                                     std::string_view reason, std::string_view reason_kind) {
  if (monitor_) monitor_->Report(type, subject_kind, subject, reason, reason_kind);
}

Status LogImpl::SyncSegment() {
  const auto start = std::chrono::steady_clock::now();
  Status s = segment_->Sync();
  const uint64_t ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  MutexLock l(&mu_);
  ++stats_.fsyncs;
  stats_.fsync_total_ns += ns;
  size_t b = 0;
  while (b < std::size(LogStats::kFsyncBucketsUs) && ns > LogStats::kFsyncBucketsUs[b] * 1000) ++b;
  ++stats_.fsync_buckets[b];
  return s;
}

namespace {
constexpr std::string_view kPendingSecurityFile = "pending-security.ndjson";
}  // namespace

Status LogImpl::QueueSecurityEvent(const std::string& dir, std::string_view type, std::string_view data_json) {
  if (!type.starts_with("security.")) {
    return Status::InvalidArgument("field \"type\": security events must use the security. prefix");
  }
  std::string line = "{\"type\":\"" + std::string(type) + "\",\"ts\":" + std::to_string(NowNanos()) +
                     ",\"source\":\"stele\",\"data\":" + std::string(data_json) + "}\n";
  ConfinedEnv env(dir);
  auto f = env.OpenAppendable(dir + "/" + std::string(kPendingSecurityFile));
  if (!f.ok()) return f.status();
  STELE_RETURN_IF_ERROR((*f)->Append(line));  // one O_APPEND write: lines never interleave
  STELE_RETURN_IF_ERROR((*f)->Sync());
  return (*f)->Close();
}

Status LogImpl::DrainPendingSecurityEvents() {
  const std::string path = options_.dir + "/" + std::string(kPendingSecurityFile);
  if (!env_->Exists(path)) return Status::Ok();
  auto read = ReadFileToString(env_, path, 64u << 20);
  if (!read.ok()) return read.status();
  const std::string& text = *read;
  ValidationLimits limits = limits_;
  limits.allow_reserved_types = true;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.empty()) continue;
    // Only security events belong here; anything else is dropped, loudly.
    if (line.find("\"type\":\"security.") == std::string_view::npos) {
      std::fprintf(stderr, "stele: ignoring a non-security line in %s\n", path.c_str());
      continue;
    }
    auto seq = AppendValidated(line, limits);
    if (!seq.ok()) std::fprintf(stderr, "stele: pending security event rejected: %s\n", seq.status().ToString().c_str());
  }
  STELE_RETURN_IF_ERROR(Flush());
  return env_->Remove(path);
}

Result<uint64_t> LogImpl::RecordSecurityEvent(std::string_view type, std::string_view data_json) {
  if (!type.starts_with("security.")) {
    return Status::InvalidArgument("field \"type\": security events must use the security. prefix");
  }
  ValidationLimits limits = limits_;
  limits.allow_reserved_types = true;
  return AppendValidated("{\"type\":\"" + std::string(type) + "\",\"source\":\"stele\",\"data\":" +
                             std::string(data_json) + "}",
                         limits);
}

Result<BatchResult> LogImpl::AppendBatch(std::string_view ndjson, uint64_t first_line) {
  BatchResult result;
  std::string& buf = ThreadRecordBuffer();
  buf.clear();
  const int64_t now = NowNanos();
  uint64_t line_no = first_line;
  uint64_t good = 0;
  while (!ndjson.empty()) {
    const size_t nl = ndjson.find('\n');
    std::string_view line = ndjson.substr(0, nl);
    ndjson.remove_prefix(nl == std::string_view::npos ? ndjson.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const uint64_t this_line = line_no++;
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    EventView event;
    Status s = Admit(line, now, limits_, &event);
    if (!s.ok()) {
      result.rejected.push_back({this_line, std::move(s)});
      continue;
    }
    AppendFramedRecord(event, &buf);
    ++good;
  }
  if (good == 0) return result;
  auto first = Enqueue(&buf, good);
  if (!first.ok()) return first.status();
  result.appended = good;
  result.first_seq = *first;
  result.last_seq = *first + good - 1;
  if (options_.sync == SyncMode::kAlways) STELE_RETURN_IF_ERROR(WaitDurable(result.last_seq));
  return result;
}

Result<uint64_t> LogImpl::Checkpoint() {
  if (!options_.integrity) return Status::InvalidArgument("option \"integrity\" is off: there is no tree to sign");
  MutexLock l(&mu_);
  const uint64_t target = queue_->next_seq() - 1;
  if (target > checkpoint_wanted_) checkpoint_wanted_ = target;
  work_cv_.Signal();
  while (checkpointed_ < target) {
    if (!error_.ok()) return error_;
    if (writer_exited_) return Status::Closed("the log shut down");
    done_cv_.Wait(&mu_);
  }
  return checkpointed_;
}

Status LogImpl::Flush() {
  {
    MutexLock l(&mu_);
    if (!error_.ok()) return error_;
  }
  return AwaitDurable(queue_->next_seq() - 1);
}

Status LogImpl::PrepareRead(uint64_t* size, ScanIterator::Context* context) {
  context->sealed_indexes = sealed_indexes_;
  context->frames = frames_;
  context->readers = sealed_readers_;
  context->lead_runs = lead_runs_;
  uint64_t target;
  {
    MutexLock l(&mu_);
    target = queue_->next_seq() - 1;
    context->live = live_index_;
    context->sealing = sealing_index_;
    if (target > written_seq_) {  // a reader cuts the group-commit window short
      read_wanted_seq_ = std::max(read_wanted_seq_, target);
      work_cv_.Signal();
    }
  }
  Status s = WaitWritten(target);
  // A read-only or closed log still serves what it has.
  if (!s.ok() && s.code() != StatusCode::kReadOnly && s.code() != StatusCode::kClosed) return s;
  MutexLock l(&mu_);
  *size = std::min(target, written_seq_);
  return Status::Ok();
}

Result<std::unique_ptr<EventIterator>> LogImpl::Query(const stele::Query& query) {
  uint64_t size;
  ScanIterator::Context context;
  STELE_RETURN_IF_ERROR(PrepareRead(&size, &context));
  auto it = ScanIterator::Open(env_, options_.dir, query, std::move(context));
  if (!it.ok()) return it.status();
  return std::unique_ptr<EventIterator>(std::move(it).value());
}

Result<uint64_t> LogImpl::Count(const stele::Query& query) {
  uint64_t size;
  ScanIterator::Context context;
  STELE_RETURN_IF_ERROR(PrepareRead(&size, &context));
  return CountEvents(env_, options_.dir, query, std::move(context));
}

Result<std::string> LogImpl::QueryPage(const stele::Query& query) {
  if (query.limit == 0 || query.limit > Log::kMaxPageEvents) {
    return Status::InvalidArgument("limit: QueryPage needs 1.." + std::to_string(Log::kMaxPageEvents) +
                                   " events; stream larger answers with Query()");
  }
  uint64_t size;
  ScanIterator::Context context;
  STELE_RETURN_IF_ERROR(PrepareRead(&size, &context));
  const std::string key = QueryCache::Key(query);
  CachedAnswer answer;
  const bool cached = cache_.Get(key, &answer);
  if (cached && answer.covered_size >= size) {
    cache_.CountHit(false);
    return std::move(answer.ndjson);
  }
  // Read only what the cached answer does not cover (everything on a miss),
  // pinned to `size` so the entry says exactly what it covers.
  stele::Query part = query;
  const uint64_t from = cached ? answer.covered_size + 1 : 1;
  part.seq_from = std::max<uint64_t>(query.seq_from.value_or(1), from);
  part.seq_to = std::min<uint64_t>(query.seq_to.value_or(UINT64_MAX), size);
  CachedAnswer fresh;
  fresh.covered_size = size;
  if (!cached || !(!query.descending && answer.seqs.size() == query.limit)) {  // a full ascending page never changes
    if (*part.seq_from <= *part.seq_to) {
      auto it = ScanIterator::Open(env_, options_.dir, part, context);
      if (!it.ok()) return it.status();
      EventView e;
      while ((*it)->Next(&e)) {
        AppendEventJson(e, &fresh.ndjson);
        fresh.ndjson.push_back('\n');
        fresh.seqs.push_back(e.seq);
        fresh.line_ends.push_back(static_cast<uint32_t>(fresh.ndjson.size()));
      }
      STELE_RETURN_IF_ERROR((*it)->status());
    }
  }
  if (cached) {
    // Every new event has a larger seq than every cached one.
    CachedAnswer& first = query.descending ? fresh : answer;
    CachedAnswer& second = query.descending ? answer : fresh;
    CachedAnswer merged;
    merged.covered_size = size;
    for (const CachedAnswer* part_answer : {&first, &second}) {
      uint32_t begin = 0;
      for (size_t i = 0; i < part_answer->seqs.size() && merged.seqs.size() < query.limit; ++i) {
        const uint32_t end = part_answer->line_ends[i];
        merged.ndjson.append(part_answer->ndjson, begin, end - begin);
        merged.seqs.push_back(part_answer->seqs[i]);
        merged.line_ends.push_back(static_cast<uint32_t>(merged.ndjson.size()));
        begin = end;
      }
    }
    fresh = std::move(merged);
    cache_.CountHit(true);
  } else {
    cache_.CountMiss();
  }
  std::string out = fresh.ndjson;
  cache_.Put(key, std::move(fresh));
  return out;
}

Status LogImpl::Shutdown() {
  std::lock_guard<std::mutex> g(shutdown_mu_);
  if (shut_down_) return shutdown_status_;
  if (monitor_) monitor_->Stop();  // writes the pending security events first
  {
    MutexLock l(&mu_);
    closing_ = true;
    // Every push that succeeded before this is in the writer's next batch.
    // (A log whose Open() failed has no queue.)
    if (queue_) queue_->Close();
    work_cv_.Signal();
    space_cv_.SignalAll();
  }
  if (writer_.joinable()) writer_.join();
  Status s;
  {
    MutexLock l(&mu_);
    s = error_;
  }
  segment_.reset();
  lock_.reset();
  shut_down_ = true;
  shutdown_status_ = s;
  return s;
}

LogStats LogImpl::stats() const {
  MutexLock l(&mu_);
  LogStats s = stats_;
  s.written_seq = written_seq_;
  s.durable_seq = durable_seq_;
  const uint64_t next_seq = queue_->next_seq();
  s.appended = next_seq - opened_next_seq_;
  s.queue_bytes = queue_->waiting_bytes() + in_flight_bytes_;
  s.queue_events = next_seq - 1 - written_seq_;
  s.cache_hits = cache_.hits();
  s.cache_extends = cache_.extends();
  s.cache_misses = cache_.misses();
  s.cache_bytes = cache_.bytes();
  s.frame_cache_bytes = frames_ ? frames_->bytes() : 0;
  if (monitor_) {
    s.security_incidents = monitor_->incidents();
    s.security_events = monitor_->events_written();
  }
  return s;
}

Status LogImpl::health() const {
  MutexLock l(&mu_);
  return error_;
}

bool LogImpl::CheckpointDue(int64_t now_ns) const {
  if (!hashes_ || hashes_->size() <= last_checkpoint_size_) return false;
  return checkpoint_target_ > last_checkpoint_size_ ||
         hashes_->size() - last_checkpoint_size_ >= options_.checkpoint_every_events ||
         now_ns - last_checkpoint_ns_ >=
             std::chrono::duration_cast<std::chrono::nanoseconds>(options_.checkpoint_interval).count();
}

// Signs the current root.  Callers have synced the segment, so the
// checkpoint never covers an event a crash could take back.
Status LogImpl::WriteCheckpoint() {
  Status s = SignCheckpoint();
  MutexLock l(&mu_);
  checkpointed_ = last_checkpoint_size_;
  SignalProgressLocked();
  return s;
}

Status LogImpl::SignCheckpoint() {
  if (!hashes_ || hashes_->size() == last_checkpoint_size_) return Status::Ok();
  STELE_RETURN_IF_ERROR(hashes_->Sync());
  stele::Checkpoint c{signer_.name, hashes_->size(), hashes_->Root(), NowNanos()};
  auto note = SignNote(FormatCheckpointBody(c), signer_);
  if (!note.ok()) return note.status();
  STELE_RETURN_IF_ERROR(WriteCheckpointFile(env_, options_.dir, c.size, *note));
  last_checkpoint_size_ = c.size;
  last_checkpoint_ns_ = c.time_ns;
  return Status::Ok();
}

Status LogImpl::WriteSealedLeadRuns(const std::string& segment_path, uint64_t first_seq, std::string index_bytes) {
  auto index = SegmentIndex::Parse(std::move(index_bytes));
  if (!index.ok()) return index.status();
  LeadRunOptions o;
  o.min_events = options_.lead_run_min_events;
  return WriteLeadRuns(env_, segment_path, first_seq, *index, o);
}

Status LogImpl::FinishIndexFile() {
  if (!index_file_pending_) return Status::Ok();
  index_file_pending_ = false;
  return indexer_->Wait();
}

Status LogImpl::MaybePersistIndexChunk() {
  if (!options_.field_index) return Status::Ok();
  if (index_file_pending_) {
    if (indexer_->Busy()) return Status::Ok();  // the chunk waits and grows
    STELE_RETURN_IF_ERROR(FinishIndexFile());
  }
  const std::shared_ptr<LiveSegmentIndex> index = segment_->live_index();
  if (!index->ChunkDue()) return Status::Ok();
  index->CutChunk();
  indexer_->Run([index] {
    index->PersistCut();
    return Status::Ok();
  });
  index_file_pending_ = true;
  return Status::Ok();
}

Status LogImpl::MaybeRotate(int64_t now_ns) {
  if (segment_->frame_count() == 0) return Status::Ok();
  const bool full = segment_->size() >= options_.segment_max_bytes ||
                    (options_.segment_max_index_bytes > 0 &&
                     segment_->index_memory_bytes() >= options_.segment_max_index_bytes);
  const bool old = now_ns - segment_->created_ns() >=
                   std::chrono::duration_cast<std::chrono::nanoseconds>(options_.segment_max_age).count();
  if (!full && !old) return Status::Ok();
  const uint64_t next_first = segment_->last_seq() + 1;
  STELE_RETURN_IF_ERROR(FinishIndexFile());
  STELE_RETURN_IF_ERROR(segment_->Seal());  // syncs: everything in it is durable
  const std::string sealed_path = segment_->path();
  const uint64_t sealed_first = segment_->first_seq();
  std::shared_ptr<LiveSegmentIndex> sealed_index = options_.field_index ? segment_->live_index() : nullptr;
  segment_.reset();
  STELE_RETURN_IF_ERROR(WriteCheckpoint());
  auto w = SegmentWriter::Create(env_, segment_dir_, next_first, now_ns, SegmentOptions());
  if (!w.ok()) return w.status();
  segment_ = std::move(w).value();
  {
    MutexLock l(&mu_);
    ++stats_.segments_sealed;
    live_index_ = options_.field_index ? segment_->live_index() : nullptr;
    sealing_index_ = sealed_index;
  }
  if (sealed_index) {
    // Serializing, compressing and syncing a 64 MiB index stalled the writer
    // 0.2-0.7 s a seal (docs/performance.md, "Memory"); now the writer goes
    // on while queries use the index in memory, and a crash before the file
    // is written leaves it to recovery (RecoverSegments rebuilds it).
    indexer_->Run([this, sealed_path, sealed_first, sealed_index] {
      auto bytes = sealed_index->Finish();  // merges the chunks of its live index
      if (!bytes.ok()) return bytes.status();
      Status s = WriteSegmentIndex(env_, sealed_path, *bytes);
      {
        MutexLock l(&mu_);
        if (s.ok()) sealing_index_ = nullptr;  // queries load the file from now on
      }
      if (!s.ok()) return s;
      sealed_index->RemoveFile();  // the .fidx replaces the .lidx
      if (options_.lead_run_min_events > 0) s = WriteSealedLeadRuns(sealed_path, sealed_first, std::move(bytes).value());
      return s;
    });
    index_file_pending_ = true;
  }
  RetainBestEffort(now_ns);
  return Status::Ok();
}

void LogImpl::RetainBestEffort(int64_t now_ns) {
  last_retention_ns_ = now_ns;
  if (Status s = ApplyRetention(now_ns); !s.ok()) {
    MutexLock l(&mu_);
    ++stats_.retention_failures;
  }
}

Status LogImpl::ApplyRetention(int64_t now_ns) {
  const RetentionPolicy policy{options_.retention_max_age, options_.retention_max_bytes};
  auto base = ReadMerkleBase(env_, options_.dir);
  if (!base.ok()) return base.status();
  const uint64_t covered = *base ? (*base)->size() : 0;
  if (!policy.enabled() && covered == 0) return Status::Ok();
  uint64_t active_bytes = 0;
  auto sealed = ListSealedSegments(env_, segment_dir_, &active_bytes);
  if (!sealed.ok()) return sealed.status();
  const size_t n = SegmentsToRemove(*sealed, active_bytes, policy, now_ns, covered);
  if (n == 0) return Status::Ok();
  // The segment sealed last may be among them: its index file is finished
  // first, so it is not written after the segment is gone.
  STELE_RETURN_IF_ERROR(FinishIndexFile());
  const uint64_t through = (*sealed)[n - 1].last_seq;
  // The base is written before anything is removed.  Without integrity there
  // is no tree to continue, and nothing to write.
  if (hashes_ && through > covered) {
    STELE_RETURN_IF_ERROR(hashes_->Flush());
    auto next = ComputeMerkleBase(env_, options_.dir, through, *base);
    if (!next.ok()) return next.status();
    STELE_RETURN_IF_ERROR(WriteMerkleBase(env_, options_.dir, *next));
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string path = segment_dir_ + "/" + format::SegmentFileName((*sealed)[i].first_seq);
    sealed_indexes_->Erase(path);
    sealed_readers_->Erase(path);
    lead_runs_->Erase(path);
    if (frames_) {
      frames_->EraseSegment(path);
      frames_->EraseSegment(LeadRunsPath(path));
    }
    STELE_RETURN_IF_ERROR(RemoveSegmentFiles(env_, segment_dir_, (*sealed)[i].first_seq));
  }
  STELE_RETURN_IF_ERROR(env_->SyncDir(segment_dir_));
  // Cached answers may hold removed events: the only invalidation there is.
  cache_.Clear();
  // The log records its own deletions (as an aggregated security event, so
  // the writer thread never waits on its own queue).
  const std::string removed = std::to_string((*sealed)[0].first_seq) + ".." + std::to_string(through);
  const std::string why = std::to_string(n) + " segment(s) by retention" +
                          (covered >= through ? std::string(" (finishing an interrupted run)") : std::string());
  if (monitor_) {
    monitor_->Report("security.retention_applied", "seqs", removed, why);
  } else {
    deferred_retention_.emplace_back(removed, why);  // reported once Open() has started the monitor
  }
  MutexLock l(&mu_);
  stats_.segments_removed += n;
  stats_.first_seq = through + 1;
  return Status::Ok();
}

Status LogImpl::WriteBatch(bool sync, bool* synced) {
  *synced = false;
  const std::string_view batch = batch_.bytes;
  if (!batch.empty()) {
    // The frames, their field index and the Merkle leaves depend only on
    // the batch's bytes: a large batch is indexed and hashed on the helper
    // thread while this one compresses and writes it.
    const std::vector<FrameCut> cuts = segment_->CutFrames(batch, options_.frame_target_bytes);
    auto index_and_hash = [this, batch, &cuts] {
      segment_->IndexFrames(batch, cuts);
      return hashes_ ? HashBatch() : Status::Ok();
    };
    const bool overlap = batch.size() >= kOverlapBytes;
    if (overlap) helper_->Run(index_and_hash);
    const Status written = segment_->AppendFrames(batch, cuts);
    const Status hashed = overlap ? helper_->Wait() : index_and_hash();
    STELE_RETURN_IF_ERROR(written);
    STELE_RETURN_IF_ERROR(hashed);
  }
  const int64_t now = NowNanos();
  const bool checkpoint = CheckpointDue(now);
  if (sync || checkpoint) {
    STELE_RETURN_IF_ERROR(SyncSegment());
    *synced = true;
  }
  if (checkpoint) STELE_RETURN_IF_ERROR(WriteCheckpoint());
  STELE_RETURN_IF_ERROR(MaybeRotate(now));
  return MaybePersistIndexChunk();
}

Status LogImpl::HashBatch() {
  // A chunk of leaves at a time, so both the leaves and the nodes above
  // them hash two at a time (Sha256::LeafHashes, CompactRange::AppendAll).
  constexpr size_t kChunk = 4096;
  Sha256& sha = ThreadSha256();
  const std::string_view batch = batch_.bytes;
  leaf_records_.clear();
  for (const char* p = batch.data(); p < batch.data() + batch.size();) {
    const uint32_t len = GetU32(p);
    leaf_records_.emplace_back(p + 4, len);
    p += 4 + len;
    if (leaf_records_.size() == kChunk || p >= batch.data() + batch.size()) {
      leaf_hashes_.resize(leaf_records_.size());
      sha.LeafHashes(leaf_records_, leaf_hashes_.data());
      hashes_->AddLeaves(leaf_hashes_);
      leaf_records_.clear();
    }
  }
  return hashes_->Flush();
}

Status LogImpl::IdleWork(bool* synced) {
  *synced = false;
  const int64_t now = NowNanos();
  // Age limits expire without any rotation; look once a minute.
  if (options_.retention_max_age.count() > 0 && now - last_retention_ns_ > 60'000'000'000) RetainBestEffort(now);
  if (CheckpointDue(now)) {
    STELE_RETURN_IF_ERROR(SyncSegment());
    *synced = true;
    STELE_RETURN_IF_ERROR(WriteCheckpoint());
  }
  return MaybeRotate(now);
}

void LogImpl::WriterLoop() {
  SetThreadName("stele-writer");
  // Wake at least this often to rotate a segment by age while idle.
  const auto age_tick = std::chrono::milliseconds(
      std::min<int64_t>(1000, std::chrono::duration_cast<std::chrono::milliseconds>(options_.segment_max_age).count()));
  MutexLock l(&mu_);
  while (true) {
    // writer_idle_ is set before the queue is looked at: see WakeWriter().
    writer_idle_.store(true);
    while (queue_->waiting_bytes() == 0 && !closing_ && sync_wanted_seq_ <= durable_seq_ &&
           checkpoint_wanted_ <= checkpointed_) {
      if (!work_cv_.WaitUntil(&mu_, std::chrono::steady_clock::now() + age_tick) && error_.ok()) {
        const uint64_t written = written_seq_;
        bool synced = false;
        mu_.Unlock();
        Status s = IdleWork(&synced);
        mu_.Lock();
        if (!s.ok()) {
          HaltLocked(Status::ReadOnly("log is read-only after a failed write: " + s.message()));
        } else if (synced) {
          durable_seq_ = std::max(durable_seq_, written);
          SignalProgressLocked();
        }
      }
    }
    writer_idle_.store(false);
    if (!error_.ok()) {
      // Read-only: nothing more is written.  Drop what was queued before the
      // queue closed (those events were never acknowledged as durable) and
      // wait for Shutdown().
      (void)queue_->Take();
      SignalProgressLocked();
      space_cv_.SignalAll();
      if (closing_) break;
      work_cv_.Wait(&mu_);
      continue;
    }
    // Group-commit window (Options::batch_commit_delay).
    if (options_.sync == SyncMode::kBatch && options_.batch_commit_delay.count() > 0) {
      const auto due = last_sync_ + options_.batch_commit_delay;
      while (!closing_ && error_.ok() && queue_->waiting_bytes() < (1u << 20) && sync_wanted_seq_ <= durable_seq_ &&
             checkpoint_wanted_ <= checkpointed_ && read_wanted_seq_ <= written_seq_ &&
             std::chrono::steady_clock::now() < due) {
        work_cv_.WaitUntil(&mu_, due);
      }
    }
    const bool nothing_to_do = queue_->waiting_bytes() == 0 && sync_wanted_seq_ <= durable_seq_;
    if (closing_ && nothing_to_do && durable_seq_ == written_seq_) break;

    batch_ = queue_->Take();
    in_flight_bytes_ = batch_.bytes.size();
    // What waited for the writer peaks just before it takes a batch.
    stats_.queue_peak_bytes = std::max<uint64_t>(stats_.queue_peak_bytes, in_flight_bytes_);
    space_cv_.SignalAll();  // the queue is empty again
    checkpoint_target_ = checkpoint_wanted_;
    const uint64_t last = batch_.last_seq;
    const bool sync = options_.sync != SyncMode::kNone || sync_wanted_seq_ > durable_seq_ || closing_;
    mu_.Unlock();
    bool synced = false;
    Status s = WriteBatch(sync, &synced);
    mu_.Lock();
    in_flight_bytes_ = 0;
    batch_ = {};
    ++stats_.batches;
    if (s.ok()) {
      written_seq_ = last;
      if (synced) {
        durable_seq_ = last;
        ++stats_.syncs;
        last_sync_ = std::chrono::steady_clock::now();
      }
    } else {
      HaltLocked(Status::ReadOnly("log is read-only after a failed write: " + s.message()));
    }
    SignalProgressLocked();
  }
  mu_.Unlock();
  if (Status s = FinishIndexFile(); !s.ok()) {
    MutexLock l(&mu_);
    HaltLocked(Status::ReadOnly("log is read-only after a failed write: " + s.message()));
  }
  mu_.Lock();
  if (error_.ok()) {
    // Shutdown: everything is written and synced; sign the final root.
    mu_.Unlock();
    if (options_.field_index) {
      // A chunk that waited for a busy indexer is saved now, so the next
      // open and other readers read less than a chunk of frames.
      const std::shared_ptr<LiveSegmentIndex> index = segment_->live_index();
      if (index->ChunkDue()) {
        index->CutChunk();
        index->PersistCut();
      }
    }
    Status s = WriteCheckpoint();
    mu_.Lock();
    if (!s.ok()) HaltLocked(Status::ReadOnly("final checkpoint failed: " + s.message()));
  }
  writer_exited_ = true;
  SignalProgressLocked();
}

}  // namespace stele
