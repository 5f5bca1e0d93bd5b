#include "server/api.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "storage/segment_list.h"
#include "stele/integrity.h"
#include "stele/stats.h"
#include "util/json_escape.h"
#include "util/time.h"
#include "util/units.h"

namespace stele {
namespace {

constexpr uint64_t kDefaultPage = 100;

// Removes the parameter `name` from params; its value, or nullopt.
std::optional<std::string> TakeParam(QueryParams* params, std::string_view name) {
  std::optional<std::string> value;
  for (auto it = params->begin(); it != params->end();) {
    if (it->first == name) {
      value = it->second;
      it = params->erase(it);
    } else {
      ++it;
    }
  }
  return value;
}

// "invalid argument" -> "invalid_argument": API error codes are identifiers.
std::string StatusCodeText(StatusCode code) {
  std::string s(StatusCodeName(code));
  std::replace(s.begin(), s.end(), ' ', '_');
  return s;
}


// The seq of an output line ({"seq":N,...}).
uint64_t SeqOfLine(std::string_view line) {
  constexpr std::string_view kPrefix = "{\"seq\":";
  if (line.substr(0, kPrefix.size()) != kPrefix) return 0;
  uint64_t seq = 0;
  std::from_chars(line.data() + kPrefix.size(), line.data() + line.size(), seq);
  return seq;
}

}  // namespace

Api::Api(Log* log, std::string dir, KeyStore* keys, const ServerConfig& config)
    : log_(log), dir_(std::move(dir)), keys_(keys), config_(config), loopback_(IsLoopback(config.host)) {
  if (config.key_rate > 0) {
    key_limiter_ = std::make_unique<RateLimiter>(config.key_rate, config.key_burst > 0 ? config.key_burst : config.key_rate);
  }
}

void Api::CountStatus(int status) {
  std::lock_guard<std::mutex> g(counters_mu_);
  ++responses_[status];
}

void Api::OnRefused(const std::string& peer, int status, std::string_view reason) {
  CountStatus(status);
  // The reason up to its first digit keeps the groups few ("request body is over").
  std::string_view r = reason.substr(0, std::min(reason.find_first_of("0123456789:"), reason.size()));
  log_->ReportSecurityIncident("security.request_refused", "peer", peer, r);
}

HttpResponse Api::FromStatus(const Status& s) {
  HttpResponse r;
  switch (s.code()) {
    case StatusCode::kInvalidArgument: r = JsonError(400, "invalid_argument", s.message()); break;
    case StatusCode::kNotFound: r = JsonError(404, "not_found", s.message()); break;
    case StatusCode::kPermissionDenied: r = JsonError(403, "permission_denied", s.message()); break;
    case StatusCode::kRateLimited:
      r = JsonError(429, "rate_limited", s.message());
      r.headers.emplace_back("Retry-After", "1");
      break;
    case StatusCode::kBusy:
      r = JsonError(503, "busy", s.message());
      r.headers.emplace_back("Retry-After", "1");
      break;
    case StatusCode::kReadOnly:
    case StatusCode::kClosed:
    case StatusCode::kLocked: r = JsonError(503, StatusCodeText(s.code()), s.message()); break;
    default: r = JsonError(500, StatusCodeText(s.code()), s.message()); break;
  }
  return r;
}

std::optional<Api::Principal> Api::Authorize(const HttpRequest& req, Scope need, HttpResponse* refusal) {
  const int64_t now = NowNanos();
  if (now - keys_checked_ns_.load() > 1'000'000'000) {
    keys_checked_ns_ = now;
    (void)keys_->Reload();  // a damaged file keeps the keys loaded before
  }
  std::string_view secret = req.Header("x-api-key");
  if (std::string_view auth = req.Header("authorization"); secret.empty() && !auth.empty()) {
    if (auth.size() > 7 && strncasecmp(auth.data(), "Bearer ", 7) == 0) secret = auth.substr(7);
    else secret = "\x01";  // present but not a bearer token: never a key
  }
  auto deny = [&](int status, std::string_view code, const std::string& message, std::string_view subject_kind,
                  std::string_view subject, std::string_view reason) {
    *refusal = JsonError(status, code, message);
    if (status == 401) refusal->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"stele\"");
    log_->ReportSecurityIncident("security.auth_failed", subject_kind, subject, reason);
    std::lock_guard<std::mutex> g(counters_mu_);
    ++refusals_[std::string(reason)];
    return std::optional<Principal>();
  };
  Principal who;
  if (secret.empty()) {
    if (!(loopback_ && !keys_->HasActiveKeys())) {
      return deny(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)", "peer", req.peer,
                  "missing key");
    }
    who = {"anonymous", kScopeAppend | kScopeRead | kScopeAdmin};
  } else {
    auto key = keys_->Find(secret);
    if (!key) return deny(401, "unauthorized", "unknown API key", "peer", req.peer, "unknown key");
    if (key->revoked) return deny(401, "unauthorized", "API key \"" + key->name + "\" was revoked", "key", key->name, "revoked key");
    if (!key->Allows(need)) {
      const std::string scope = ScopesToString(need);
      return deny(403, "forbidden", "API key \"" + key->name + "\" lacks the " + scope + " scope", "key", key->name,
                  "missing scope " + scope);
    }
    who = {key->name, key->scopes};
  }
  double retry = 0;
  if (key_limiter_ && !key_limiter_->Allow(who.name, 1, now, &retry)) {
    *refusal = JsonError(429, "rate_limited",
                         "API key \"" + who.name + "\" is over " + std::to_string(static_cast<uint64_t>(config_.key_rate)) +
                             " requests/s");
    refusal->headers.emplace_back("Retry-After", std::to_string(static_cast<int64_t>(std::ceil(retry))));
    log_->ReportSecurityIncident("security.rate_limited", "key", who.name, "key rate");
    std::lock_guard<std::mutex> g(counters_mu_);
    ++refusals_["key rate"];
    return std::nullopt;
  }
  return who;
}

bool Api::Quick(const HttpRequest& req) const {
  if (req.path == "/healthz") return true;
  if (req.method != "POST" || req.path != "/v1/events" || req.body.size() > (64u << 10)) return false;
  for (const auto& [k, v] : req.params) {
    if (k == "wait") return false;  // waits for an fsync
  }
  return true;
}

HttpResponse Api::Handle(HttpRequest& req) {
  struct Route {
    const char* method;
    const char* path;  // ending in '/': a prefix followed by a file name
    Scope scope;
  };
  static constexpr Route kRoutes[] = {
      {"POST", "/v1/events", kScopeAppend},        {"GET", "/v1/events", kScopeRead},
      {"GET", "/v1/stats", kScopeRead},            {"GET", "/v1/tail", kScopeRead},
      {"GET", "/v1/checkpoint", kScopeRead},       {"GET", "/v1/proof/inclusion", kScopeRead},
      {"GET", "/v1/proof/consistency", kScopeRead}, {"GET", "/v1/verify", kScopeAdmin},
      {"GET", "/metrics", kScopeRead},             {"GET", "/v1/segments", kScopeAdmin},
      {"GET", "/v1/segments/", kScopeAdmin},       {"GET", "/v1/checkpoints", kScopeRead},
      {"GET", "/v1/checkpoints/", kScopeRead},
  };
  HttpResponse res;
  const Route* route = nullptr;
  std::string allow;
  for (const Route& r : kRoutes) {
    const std::string_view rp = r.path;
    if (rp.ends_with('/') ? !req.path.starts_with(rp) : req.path != rp) continue;
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
    if (req.method == r.method) route = &r;
  }
  if (HasTraversal(req.path)) {
    res = RejectPath(req, "peer", req.peer, "the path has a \".\" or \"..\" segment, a backslash or a NUL");
  } else if (req.path == "/healthz") {
    res = req.method == "GET" ? Health() : JsonError(405, "method_not_allowed", "use GET");
  } else if (allow.empty()) {
    res = JsonError(404, "not_found", "no endpoint " + req.path.substr(0, 128));
  } else if (route == nullptr) {
    res = JsonError(405, "method_not_allowed", "use " + allow);
    res.headers.emplace_back("Allow", allow);
  } else if (auto who = Authorize(req, route->scope, &res)) {
    const std::string_view p = route->path;
    if (p == "/v1/events") res = req.method == "POST" ? PostEvents(req) : GetEvents(req, *who);
    else if (p == "/v1/stats") res = GetStats(req, *who);
    else if (p == "/v1/tail") res = GetTail(req, *who);
    else if (p == "/v1/checkpoint") res = GetCheckpoint();
    else if (p == "/v1/proof/inclusion") res = GetProof(req, true);
    else if (p == "/v1/proof/consistency") res = GetProof(req, false);
    else if (p == "/v1/verify") res = GetVerify();
    else if (p == "/v1/segments" || p == "/v1/checkpoints") res = ListDataFiles(p == "/v1/segments");
    else if (p.ends_with('/')) res = GetDataFile(req, who->name, p == "/v1/segments/");
    else {
      res.status = 200;
      res.body = MetricsText();
      res.content_type = "text/plain; version=0.0.4";
    }
  }
  CountStatus(res.status);
  return res;
}

Result<Query> Api::ParseQuery(const HttpRequest& req) const {
  auto q = QueryFromParams(req.params);
  if (!q.ok()) return q.status();
  q->max_regex_bytes = config_.max_regex_bytes;
  q->max_regex_program_bytes = static_cast<int64_t>(config_.max_regex_program_bytes);
  return q;
}

HttpResponse Api::Health() {
  const LogStats s = log_->stats();
  Status h = log_->health();
  std::string body = "{\"status\":" + JsonString(h.ok() ? "ok" : "read_only") +
                     ",\"last_seq\":" + std::to_string(s.written_seq) +
                     ",\"durable_seq\":" + std::to_string(s.durable_seq);
  if (!h.ok()) body += ",\"reason\":" + JsonString(h.message());
  return JsonResponse(h.ok() ? 200 : 503, body + "}");
}

HttpResponse Api::PostEvents(HttpRequest& req) {
  auto wait = TakeParam(&req.params, "wait");
  if (!req.params.empty()) {
    return JsonError(400, "invalid_argument", "parameter \"" + req.params[0].first.substr(0, 64) + "\": unknown parameter");
  }
  if (wait && *wait != "durable" && *wait != "none") {
    return JsonError(400, "invalid_argument", "parameter \"wait\": want durable");
  }
  const bool durable = wait && *wait == "durable";
  const std::string& body = req.body;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return JsonError(400, "invalid_argument", "the body holds no event");
  }
  const size_t lines = static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + (body.back() != '\n');
  if (lines > config_.max_lines_per_request) {
    return JsonError(413, "too_large", "the body has " + std::to_string(lines) + " lines; the limit is " +
                                           std::to_string(config_.max_lines_per_request) + " a request");
  }
  BatchResult result;
  const std::string_view type = req.Header("content-type");
  if (type.substr(0, 16) == "application/json") {
    // One event, which may span lines (pretty-printed).
    auto seq = log_->Append(body);
    if (seq.ok()) {
      result = {1, *seq, *seq, {}};
    } else if (seq.status().code() == StatusCode::kInvalidArgument || seq.status().code() == StatusCode::kRateLimited) {
      result.rejected.push_back({1, seq.status()});
    } else {
      return FromStatus(seq.status());
    }
  } else {
    auto r = log_->AppendBatch(body);
    if (!r.ok()) return FromStatus(r.status());
    result = std::move(r).value();
  }
  if (durable && result.appended > 0) {
    // This request's events only: a Flush() would also wait for what other
    // clients appended meanwhile.
    Status s = log_->WaitDurable(result.last_seq);
    if (!s.ok()) return FromStatus(s);
  }
  std::string out = "{\"appended\":" + std::to_string(result.appended) + ",\"first_seq\":" +
                    std::to_string(result.first_seq) + ",\"last_seq\":" + std::to_string(result.last_seq) +
                    ",\"rejected\":" + std::to_string(result.rejected.size()) +
                    ",\"durable\":" + (durable && result.appended > 0 ? "true" : "false") + ",\"errors\":[";
  bool all_rate_limited = !result.rejected.empty();
  for (size_t i = 0; i < result.rejected.size(); ++i) {
    const LineError& e = result.rejected[i];
    if (i > 0) out += ",";
    out += "{\"line\":" + std::to_string(e.line) + ",\"code\":" + JsonString(StatusCodeText(e.status.code())) +
           ",\"error\":" + JsonString(e.status.message()) + "}";
    all_rate_limited = all_rate_limited && e.status.code() == StatusCode::kRateLimited;
  }
  out += "]";
  if (result.appended == 0) {
    const int status = all_rate_limited ? 429 : 400;
    out += ",\"error\":{\"code\":" + JsonString(all_rate_limited ? "rate_limited" : "invalid_argument") +
           ",\"message\":" + JsonString("all " + std::to_string(result.rejected.size()) + " events were rejected") + "}";
    HttpResponse r = JsonResponse(status, out + "}");
    if (all_rate_limited) r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  return JsonResponse(200, out + "}");
}

HttpResponse Api::GetEvents(HttpRequest& req, const Principal& who) {
  auto format = TakeParam(&req.params, "format");
  bool page = req.Header("accept").find("application/json") != std::string_view::npos;
  if (format) {
    if (*format != "json" && *format != "ndjson" && *format != "count") {
      return JsonError(400, "invalid_argument", "parameter \"format\": want json, ndjson or count");
    }
    page = *format == "json";
  }
  auto q = ParseQuery(req);
  if (!q.ok()) return FromStatus(q.status());
  const uint64_t last = log_->stats().written_seq;
  if (q->after > last + 1) {
    return JsonError(400, "invalid_argument", "parameter \"after\": seq " + std::to_string(q->after) +
                                                  " does not exist (the log ends at " + std::to_string(last) + ")");
  }
  log_->ReportSecurityIncident("security.read", "key", who.name, req.target.substr(0, 256), "query");
  if (format && *format == "count") {
    auto n = log_->Count(*q);
    if (!n.ok()) return FromStatus(n.status());
    return JsonResponse(200, "{\"count\":" + std::to_string(*n) + "}");
  }
  if (page) {
    if (q->limit == 0) q->limit = kDefaultPage;
    if (q->limit > Log::kMaxPageEvents) {
      return JsonError(400, "invalid_argument", "parameter \"limit\": at most " + std::to_string(Log::kMaxPageEvents) + " a page");
    }
    auto answer = log_->QueryPage(*q);
    if (!answer.ok()) return FromStatus(answer.status());
    std::string body = "{\"events\":[";
    uint64_t n = 0, last_seq = 0;
    for (std::string_view rest = *answer; !rest.empty();) {
      const size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (line.empty()) continue;
      if (n++ > 0) body += ",";
      body.append(line);
      last_seq = SeqOfLine(line);
    }
    body += "],\"next\":";
    body += n == q->limit ? "\"" + std::to_string(last_seq) + "\"" : "null";
    return JsonResponse(200, body + "}");
  }
  auto it = log_->Query(*q);
  if (!it.ok()) return FromStatus(it.status());
  std::shared_ptr<EventIterator> iter(std::move(it).value());
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [iter](std::string* out, bool) {
    EventView e;
    while (out->size() < (64u << 10)) {
      if (!iter->Next(&e)) {
        if (!iter->status().ok()) {
          // Headers are gone: end with an error line the client can see.
          *out += "{\"error\":{\"code\":\"" + StatusCodeText(iter->status().code()) +
                  "\",\"message\":" + JsonString(iter->status().message()) + "}}\n";
        }
        return StreamStep::kEnd;
      }
      AppendEventJson(e, out);
      out->push_back('\n');
    }
    return StreamStep::kData;
  };
  return r;
}

HttpResponse Api::GetStats(HttpRequest& req, const Principal& who) {
  auto by_text = TakeParam(&req.params, "by");
  auto top_text = TakeParam(&req.params, "top");
  StatsBy by;
  if (!by_text || !ParseStatsBy(*by_text, &by)) {
    return JsonError(400, "invalid_argument", "parameter \"by\": want type, actor, source, workflow, lead, minute, hour or day");
  }
  uint64_t top = 20;
  if (top_text && (!ParseU64(*top_text, &top) || top == 0 || top > 100'000)) {
    return JsonError(400, "invalid_argument", "parameter \"top\": want 1..100000");
  }
  auto q = ParseQuery(req);
  if (!q.ok()) return FromStatus(q.status());
  log_->ReportSecurityIncident("security.read", "key", who.name, req.target.substr(0, 256), "query");
  auto stats = StatsDirectory(dir_, *q, by, top);
  if (!stats.ok()) return FromStatus(stats.status());
  return JsonResponse(200, StatsToJson(*by_text, *stats));
}

HttpResponse Api::GetTail(HttpRequest& req, const Principal& who) {
  auto q = ParseQuery(req);
  if (!q.ok()) return FromStatus(q.status());
  if (q->descending) return JsonError(400, "invalid_argument", "parameter \"desc\": a tail follows in seq order");
  uint64_t start = log_->stats().written_seq;
  bool has_after = false;
  for (const auto& [k, v] : req.params) has_after = has_after || k == "after";
  if (has_after) {
    start = q->after;
  } else if (std::string_view id = req.Header("last-event-id"); !id.empty()) {
    if (!ParseU64(id, &start)) return JsonError(400, "invalid_argument", "header \"Last-Event-ID\": want a seq");
  }
  log_->ReportSecurityIncident("security.read", "key", who.name, req.target.substr(0, 256), "query");
  struct TailState {
    Log* log;
    Query query;
    uint64_t last;
    std::atomic<uint64_t>* open;
    ~TailState() { --*open; }
  };
  ++tails_open_;
  auto state = std::make_shared<TailState>(TailState{log_, *q, start, &tails_open_});
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.heartbeat = ":\n\n";
  r.stream = [state](std::string* out, bool stopping) {
    if (stopping) return StreamStep::kEnd;
    Query q = state->query;
    q.after = state->last;
    q.limit = 1000;
    auto it = state->log->Query(q);
    if (!it.ok()) {
      *out += "event: error\ndata: " + JsonString(it.status().message()) + "\n\n";
      return StreamStep::kEnd;
    }
    EventView e;
    bool any = false;
    while ((*it)->Next(&e)) {
      *out += "id: " + std::to_string(e.seq) + "\nevent: event\ndata: ";
      AppendEventJson(e, out);
      *out += "\n\n";
      state->last = e.seq;
      any = true;
    }
    return any ? StreamStep::kData : StreamStep::kWait;
  };
  return r;
}

HttpResponse Api::GetCheckpoint() {
  // Sign what has been written, at most once a second whatever the request
  // rate (each checkpoint is a file and an fsync).
  const int64_t now = NowNanos();
  int64_t last = fresh_checkpoint_ns_.load();
  if (now - last > 1'000'000'000 && fresh_checkpoint_ns_.compare_exchange_strong(last, now)) {
    if (auto c = log_->Checkpoint(); !c.ok()) return FromStatus(c.status());
  }
  auto note = LatestCheckpointNote(dir_);
  if (!note.ok()) return FromStatus(note.status());
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = *note;
  return r;
}

HttpResponse Api::GetProof(HttpRequest& req, bool inclusion) {
  auto get = [&](std::string_view name, bool required, uint64_t* out) -> std::optional<HttpResponse> {
    auto v = TakeParam(&req.params, name);
    if (!v) {
      if (required) return JsonError(400, "invalid_argument", "parameter \"" + std::string(name) + "\": required");
      return std::nullopt;
    }
    if (!ParseU64(*v, out)) return JsonError(400, "invalid_argument", "parameter \"" + std::string(name) + "\": want an integer");
    return std::nullopt;
  };
  uint64_t a = 0, b = 0;
  if (auto e = get(inclusion ? "seq" : "old", true, &a)) return *e;
  if (auto e = get(inclusion ? "size" : "new", !inclusion, &b)) return *e;
  if (!req.params.empty()) {
    return JsonError(400, "invalid_argument", "parameter \"" + req.params[0].first.substr(0, 64) + "\": unknown parameter");
  }
  auto proof = inclusion ? ProveInclusionJson(dir_, a, b) : ProveConsistencyJson(dir_, a, b);
  if (!proof.ok()) return FromStatus(proof.status());
  return JsonResponse(200, *proof);
}

HttpResponse Api::GetVerify() {
  auto report = VerifyLog(dir_, VerifyOptions{});
  if (!report.ok()) return FromStatus(report.status());
  const VerifyReport& r = *report;
  if (!r.ok) {
    (void)log_->RecordSecurityEvent("security.integrity_failed",
                                    "{\"first_bad_seq\":" + std::to_string(r.first_bad_seq) +
                                        ",\"reason\":" + JsonString(r.reason) + ",\"by\":\"GET /v1/verify\"}");
    return JsonResponse(200, "{\"ok\":false,\"first_bad_seq\":" + std::to_string(r.first_bad_seq) +
                         ",\"reason\":" + JsonString(r.reason) + "}");
  }
  return JsonResponse(200, "{\"ok\":true,\"first_seq\":" + std::to_string(r.first_seq) + ",\"events\":" +
                       std::to_string(r.events) + ",\"checkpoints\":" + std::to_string(r.checkpoints) +
                       ",\"root\":\"" + r.root_hex + "\",\"raw_bytes\":" + std::to_string(r.raw_bytes) +
                       ",\"seconds\":" + std::to_string(r.seconds) + "}");
}

void Api::SampleIngestRate() {
  const auto now = std::chrono::steady_clock::now();
  const uint64_t appended = log_->stats().appended;
  if (last_sample_ != std::chrono::steady_clock::time_point{}) {
    const double secs = std::chrono::duration<double>(now - last_sample_).count();
    if (secs > 0) ingest_rate_ = static_cast<uint64_t>(static_cast<double>(appended - last_appended_) / secs);
  }
  last_appended_ = appended;
  last_sample_ = now;
}

std::string Api::StatusJson(const std::string& address) {
  const LogStats s = log_->stats();
  uint64_t key_rate_hits = 0, auth_failures = 0;
  {
    std::lock_guard<std::mutex> g(counters_mu_);
    for (const auto& [reason, n] : refusals_) (reason == "key rate" ? key_rate_hits : auth_failures) += n;
  }
  auto field = [](const char* name, uint64_t v) { return ",\"" + std::string(name) + "\":" + std::to_string(v); };
  return "{\"pid\":" + std::to_string(::getpid()) + ",\"listening\":" + JsonString(address) + ",\"updated\":\"" +
         FormatRfc3339(NowNanos()) + "\"" + field("appended", s.appended) + field("written_seq", s.written_seq) +
         field("durable_seq", s.durable_seq) + field("ingest_events_per_second", ingest_rate_.load()) +
         field("queue_bytes", s.queue_bytes) + field("cache_hits", s.cache_hits) +
         field("cache_extends", s.cache_extends) + field("cache_misses", s.cache_misses) +
         field("cache_bytes", s.cache_bytes) + field("rate_limited_events", s.rate_limited_rejects) +
         field("rate_limited_requests", key_rate_hits) + field("auth_failures", auth_failures) +
         field("invalid_events", s.invalid_rejects) + field("busy_rejects", s.busy_rejects) +
         field("security_events", s.security_events) + field("segments_removed", s.segments_removed) +
         field("http_requests", server_ ? server_->requests() : 0) + "}";
}

std::string Api::MetricsText() {
  const LogStats s = log_->stats();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, const std::string& samples) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
  };
  auto sample = [](const std::string& name, uint64_t v) { return name + " " + std::to_string(v) + "\n"; };
  metric("stele_events_appended_total", "counter", "Events accepted into the write queue.",
         sample("stele_events_appended_total", s.appended));
  metric("stele_ingest_events_per_second", "gauge", "Events appended over the last second.",
         sample("stele_ingest_events_per_second", ingest_rate_.load()));
  metric("stele_events_rejected_total", "counter", "Events refused, by reason.",
         sample("stele_events_rejected_total{reason=\"invalid\"}", s.invalid_rejects) +
             sample("stele_events_rejected_total{reason=\"rate_limited\"}", s.rate_limited_rejects) +
             sample("stele_events_rejected_total{reason=\"busy\"}", s.busy_rejects));
  if (alerts_ != nullptr) {
    const AlertDispatcher::Counters a = alerts_->counters();
    metric("stele_alerts_total", "counter", "Webhook alerts, by outcome.",
           sample("stele_alerts_total{outcome=\"sent\"}", a.sent) +
               sample("stele_alerts_total{outcome=\"failed\"}", a.failed) +
               sample("stele_alerts_total{outcome=\"blocked\"}", a.blocked));
  }
  metric("stele_queue_bytes", "gauge", "Bytes waiting in the write queue or in flight.", sample("stele_queue_bytes", s.queue_bytes));
  metric("stele_queue_events", "gauge", "Events appended but not yet written (queue depth).",
         sample("stele_queue_events", s.queue_events));
  metric("stele_queue_peak_bytes", "gauge", "High-water mark of the write queue.", sample("stele_queue_peak_bytes", s.queue_peak_bytes));
  metric("stele_written_seq", "gauge", "Highest seq handed to the OS.", sample("stele_written_seq", s.written_seq));
  metric("stele_durable_seq", "gauge", "Highest seq fdatasync'd.", sample("stele_durable_seq", s.durable_seq));
  {
    std::string h;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < std::size(LogStats::kFsyncBucketsUs); ++i) {
      cumulative += s.fsync_buckets[i];
      char le[32];
      std::snprintf(le, sizeof le, "%g", static_cast<double>(LogStats::kFsyncBucketsUs[i]) / 1e6);
      h += "stele_fsync_seconds_bucket{le=\"" + std::string(le) + "\"} " + std::to_string(cumulative) + "\n";
    }
    cumulative += s.fsync_buckets[std::size(LogStats::kFsyncBucketsUs)];
    h += "stele_fsync_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.9f", static_cast<double>(s.fsync_total_ns) / 1e9);
    h += "stele_fsync_seconds_sum " + std::string(sum) + "\n" + sample("stele_fsync_seconds_count", s.fsyncs);
    metric("stele_fsync_seconds", "histogram", "fdatasync latency of the active segment.", h);
  }
  std::string refusals, responses;
  uint64_t key_rate_hits = 0;
  {
    std::lock_guard<std::mutex> g(counters_mu_);
    for (const auto& [reason, n] : refusals_) {
      if (reason == "key rate") key_rate_hits = n;
      else refusals += sample("stele_auth_failures_total{reason=" + JsonString(reason) + "}", n);
    }
    for (const auto& [code, n] : responses_) responses += sample("stele_http_responses_total{code=\"" + std::to_string(code) + "\"}", n);
  }
  metric("stele_rate_limit_hits_total", "counter", "Requests or events refused by a token bucket.",
         sample("stele_rate_limit_hits_total{scope=\"key\"}", key_rate_hits) +
             sample("stele_rate_limit_hits_total{scope=\"source\"}", s.rate_limited_rejects));
  metric("stele_auth_failures_total", "counter", "Requests refused by authentication or scope.", refusals);
  metric("stele_http_responses_total", "counter", "HTTP responses by status code.", responses);
  metric("stele_http_requests_total", "counter", "HTTP requests read.", sample("stele_http_requests_total", server_ ? server_->requests() : 0));
  metric("stele_http_connections", "gauge", "Open client connections.", sample("stele_http_connections", server_ ? server_->connections() : 0));
  metric("stele_tail_streams", "gauge", "Open /v1/tail streams.", sample("stele_tail_streams", tails_open_.load()));
  metric("stele_cache_hits_total", "counter", "Query pages answered from the cache.", sample("stele_cache_hits_total", s.cache_hits));
  metric("stele_cache_extends_total", "counter", "... of which extended with newer events.", sample("stele_cache_extends_total", s.cache_extends));
  metric("stele_cache_misses_total", "counter", "Query pages computed afresh.", sample("stele_cache_misses_total", s.cache_misses));
  metric("stele_cache_bytes", "gauge", "Bytes held by the query cache.", sample("stele_cache_bytes", s.cache_bytes));
  metric("stele_security_incidents_total", "counter", "Security incidents reported.", sample("stele_security_incidents_total", s.security_incidents));
  metric("stele_security_events_total", "counter", "Aggregated security.* events written.", sample("stele_security_events_total", s.security_events));
  metric("stele_segments_sealed_total", "counter", "Segments sealed since start.", sample("stele_segments_sealed_total", s.segments_sealed));
  metric("stele_segments_removed_total", "counter", "Segments removed by retention since start.", sample("stele_segments_removed_total", s.segments_removed));
  uint64_t segments = 0, bytes = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_, ec)) {
    if (!std::filesystem::is_regular_file(e.symlink_status(ec))) continue;  // never stat through a planted symlink
    bytes += e.file_size(ec);
    if (e.path().extension() == ".seg") ++segments;
  }
  metric("stele_segments", "gauge", "Segment files in the data directory.", sample("stele_segments", segments));
  metric("stele_disk_bytes", "gauge", "Bytes of every file in the data directory.", sample("stele_disk_bytes", bytes));
  return out;
}

}  // namespace stele
