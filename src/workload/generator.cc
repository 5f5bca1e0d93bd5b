#include "workload/generator.h"

#include <algorithm>
#include <cmath>

#include "util/time.h"

namespace stele {
namespace {

const char* const kSteps[] = {"enrich_lead", "score_lead", "send_email", "sync_crm", "call_webhook", "wait_reply"};
const char* const kSources[] = {"n8n", "zapier", "temporal", "airflow", "hubspot-sync", "webhook-gw"};
const char* const kStatus[] = {"ok", "ok", "ok", "ok", "retry", "failed"};

}  // namespace

const std::vector<std::string>& WorkloadGenerator::Types() {
  static const std::vector<std::string> types = {"workflow.started", "step.started",   "step.completed",
                                                 "lead.created",     "lead.updated",   "email.sent",
                                                 "email.bounced",    "webhook.called", "error"};
  return types;
}

WorkloadGenerator::WorkloadGenerator(const Config& config) : config_(config) {
  cdf_.resize(config_.leads);
  double sum = 0;
  for (uint32_t r = 0; r < config_.leads; ++r) {
    sum += 1.0 / std::pow(static_cast<double>(r + 1), config_.zipf_s);
    cdf_[r] = sum;
  }
  for (double& c : cdf_) c /= sum;
}

uint32_t WorkloadGenerator::ZipfRank(Rng& rng) {
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return static_cast<uint32_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
}

uint32_t WorkloadGenerator::LeadOf(uint64_t i) {
  Rng rng{config_.seed * 0x9E3779B97F4A7C15ull + i};
  return ZipfRank(rng);
}

std::string WorkloadGenerator::Event(uint64_t i) {
  Rng rng{config_.seed * 0x9E3779B97F4A7C15ull + i};
  const uint32_t lead = ZipfRank(rng);
  const auto& types = Types();
  const uint64_t r = rng();
  const std::string& type = types[r % types.size()];
  const char* step = kSteps[(r >> 8) % 6];
  const char* source = kSources[(r >> 16) % 6];
  const char* status = kStatus[(r >> 24) % 6];
  const unsigned wf = static_cast<unsigned>((r >> 32) % 500);
  const unsigned worker = static_cast<unsigned>((r >> 41) % 16);
  const unsigned duration = static_cast<unsigned>((r >> 45) % 5000);
  const unsigned attempt = 1 + static_cast<unsigned>((r >> 58) % 3);

  char buf[512];
  std::string ts = FormatRfc3339(config_.start_ns + static_cast<int64_t>(i) * config_.step_ns);
  int n = std::snprintf(buf, sizeof buf,
                        "{\"type\":\"%s\",\"ts\":\"%s\",\"actor\":\"worker-%02u\",\"source\":\"%s\","
                        "\"lead_id\":\"L%07u\",\"workflow_id\":\"wf-%03u\",\"data\":{\"step\":\"%s\","
                        "\"status\":\"%s\",\"attempt\":%u,\"duration_ms\":%u,\"run_id\":\"run-%016llx\","
                        "\"campaign\":\"c-%02u\"}}",
                        type.c_str(), ts.c_str(), worker, source, lead, wf, step, status, attempt, duration,
                        static_cast<unsigned long long>(rng()), static_cast<unsigned>(wf % 37));
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace stele
