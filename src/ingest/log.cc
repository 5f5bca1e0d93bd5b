// stele::Log: the public handle; forwards to LogImpl.
#include "stele/log.h"

#include "ingest/log_impl.h"

namespace stele {

Result<std::unique_ptr<Log>> Log::Open(const Options& options) {
  auto impl = LogImpl::Open(options);
  if (!impl.ok()) return impl.status();
  return std::unique_ptr<Log>(new Log(std::move(impl).value()));
}

Log::Log(std::unique_ptr<LogImpl> impl) : impl_(std::move(impl)) {}
Log::~Log() = default;

Result<uint64_t> Log::Append(std::string_view json) { return impl_->Append(json); }
Result<uint64_t> Log::TryAppend(std::string_view json) { return impl_->TryAppend(json); }
Result<uint64_t> Log::AppendQueued(std::string_view json) { return impl_->AppendQueued(json); }
Result<uint64_t> Log::TryAppendQueued(std::string_view json) { return impl_->TryAppendQueued(json); }
Status Log::WaitDurable(uint64_t seq) { return impl_->AwaitDurable(seq); }
Result<uint64_t> Log::Count(const stele::Query& query) { return impl_->Count(query); }
Result<BatchResult> Log::AppendBatch(std::string_view ndjson, uint64_t first_line) {
  return impl_->AppendBatch(ndjson, first_line);
}
Result<uint64_t> Log::RecordSecurityEvent(std::string_view type, std::string_view data_json) {
  return impl_->RecordSecurityEvent(type, data_json);
}
Status Log::QueueSecurityEvent(const std::string& dir, std::string_view type, std::string_view data_json) {
  return LogImpl::QueueSecurityEvent(dir, type, data_json);
}
void Log::ReportSecurityIncident(std::string_view type, std::string_view subject_kind, std::string_view subject,
                                 std::string_view reason, std::string_view reason_kind) {
  impl_->ReportSecurityIncident(type, subject_kind, subject, reason, reason_kind);
}
Status Log::Flush() { return impl_->Flush(); }
Result<uint64_t> Log::Checkpoint() { return impl_->Checkpoint(); }
Status Log::Shutdown() { return impl_->Shutdown(); }
Result<std::unique_ptr<EventIterator>> Log::Query(const stele::Query& query) { return impl_->Query(query); }
Result<std::string> Log::QueryPage(const stele::Query& query) { return impl_->QueryPage(query); }
const RecoveryInfo& Log::recovery() const { return impl_->recovery(); }
LogStats Log::stats() const { return impl_->stats(); }
Status Log::health() const { return impl_->health(); }

}  // namespace stele
