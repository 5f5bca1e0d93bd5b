#include "alerts/alert_dispatcher.h"

#include "util/json_escape.h"

namespace stele {

AlertDispatcher::AlertDispatcher(Log* log, AlertConfig config, Resolver* resolver)
    : log_(log),
      config_(std::move(config)),
      guard_(config_.allow, resolver),
      sender_(&guard_, config_.webhook),
      state_(config_.rules.size()) {}

AlertDispatcher::~AlertDispatcher() { Stop(); }

Status AlertDispatcher::Start() {
  for (size_t i = 0; i < config_.rules.size(); ++i) {
    const AlertRule& r = config_.rules[i];
    const std::string where = "alerts[" + std::to_string(i) + "]";
    if (r.type.empty()) return Status::InvalidArgument(where + ".type: required");
    if (r.threshold == 0) return Status::InvalidArgument(where + ".threshold: must be at least 1");
    if (auto t = guard_.Check(r.url); !t.ok()) {
      if (t.status().code() == StatusCode::kPermissionDenied) {
        log_->ReportSecurityIncident("security.ssrf_blocked", "rule", r.name, t.status().message(), "reason");
      }
      return Status::InvalidArgument(where + ".url: " + t.status().message());
    }
  }
  if (config_.rules.empty()) return Status::Ok();
  const uint64_t now = log_->stats().written_seq;
  for (RuleState& s : state_) s.cursor = now;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void AlertDispatcher::Stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

AlertDispatcher::Counters AlertDispatcher::counters() const {
  std::lock_guard<std::mutex> g(mu_);
  return counters_;
}

void AlertDispatcher::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, config_.poll, [this] { return stop_; })) return;
    }
    for (size_t i = 0; i < config_.rules.size(); ++i) Poll(i);
  }
}

void AlertDispatcher::Poll(size_t i) {
  const AlertRule& rule = config_.rules[i];
  RuleState& s = state_[i];
  const auto now = std::chrono::steady_clock::now();
  Query q;
  if (rule.type != "*") q.type = rule.type;
  q.after = s.cursor;
  auto it = log_->Query(q);
  if (!it.ok()) return;  // the log is shutting down; the next poll tries again
  EventView e;
  uint64_t matched = 0;
  while ((*it)->Next(&e)) {
    s.cursor = e.seq;
    if (e.type.starts_with("security.alert_")) continue;  // our own audit trail
    ++matched;
    if (s.count++ == 0) s.first_seq = e.seq;
    s.last_seq = e.seq;
    if (s.sampled < rule.max_events) {
      std::string line;
      AppendEventJson(e, &line);
      s.events += (s.sampled++ ? "," : "") + line;
    }
  }
  // The matches of each poll share its time; those older than the window
  // no longer count towards the threshold.
  if (matched > 0) {
    s.polls.emplace_back(now, matched);
    s.in_window += matched;
  }
  while (!s.polls.empty() && now - s.polls.front().first > rule.window) {
    s.in_window -= s.polls.front().second;
    s.polls.pop_front();
  }
  if (s.in_window >= rule.threshold) {
    Fire(i);
  } else if (s.polls.empty()) {
    s = RuleState{s.cursor};
  }
}

void AlertDispatcher::Fire(size_t i) {
  const AlertRule& rule = config_.rules[i];
  RuleState& s = state_[i];
  const std::string body = "{\"alert\":" + JsonString(rule.name) + ",\"type\":" + JsonString(rule.type) +
                           ",\"count\":" + std::to_string(s.count) + ",\"threshold\":" + std::to_string(rule.threshold) +
                           ",\"window_seconds\":" + std::to_string(rule.window.count() / 1000.0) +
                           ",\"first_seq\":" + std::to_string(s.first_seq) + ",\"last_seq\":" +
                           std::to_string(s.last_seq) + ",\"events\":[" + s.events + "]}";
  s = RuleState{s.cursor};
  auto result = sender_.Send(rule.url, body);
  std::lock_guard<std::mutex> g(mu_);
  if (!result.ok()) {
    const bool blocked = result.status().code() == StatusCode::kPermissionDenied;
    ++(blocked ? counters_.blocked : counters_.failed);
    log_->ReportSecurityIncident(blocked ? "security.ssrf_blocked" : "security.alert_failed", "rule", rule.name,
                                 result.status().message(), "reason");
  } else if (result->delivered) {
    ++counters_.sent;
    log_->ReportSecurityIncident("security.alert_sent", "rule", rule.name, result->address, "address");
  } else {
    ++counters_.failed;
    log_->ReportSecurityIncident("security.alert_failed", "rule", rule.name, result->error, "reason");
  }
}

}  // namespace stele
