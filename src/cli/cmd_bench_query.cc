// stele bench query: the same events in stele and in SQLite (WAL, 1,000-row
// transactions, indexes on lead_id and (type, ts)), then the same lookups
// against both in the same run, printed with the ratio.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "event/validator.h"
#include "query/scan_iterator.h"
#include "stele/log.h"
#include "util/time.h"
#include "workload/generator.h"

namespace stele::cli {
namespace {

struct BenchQueryFlags {
  uint64_t events = 1'000'000;
  unsigned lookups = 200;
  std::string work_dir = "./stele-bench-query";
  bool keep = false;
};

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class Sqlite {
 public:
  explicit Sqlite(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
  ~Sqlite() { sqlite3_close(db_); }
  void Exec(const char* sql) { sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    return s;
  }

 private:
  sqlite3* db_ = nullptr;
};

void BindText(sqlite3_stmt* s, int i, std::string_view v) {
  if (v.empty()) {
    sqlite3_bind_null(s, i);
  } else {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
}

// Runs fn for each probe and returns the mean seconds per probe.
template <typename Fn>
double MeanSeconds(size_t probes, Fn fn) {
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < probes; ++i) fn(i);
  return Since(t0) / static_cast<double>(probes);
}

// One comparison row; `higher_is_better` says which way the ratio reads.
void Row(const char* what, double stele, double sqlite, double scale, bool higher_is_better) {
  const double ratio = higher_is_better ? stele / sqlite : sqlite / stele;
  std::printf("%-38s %12.2f %12.2f   stele %.2fx %s\n", what, stele * scale, sqlite * scale,
              ratio >= 1 ? ratio : 1 / ratio, ratio >= 1 ? "faster" : "slower");
}

int RunBenchQuery(const BenchQueryFlags& f) {
  std::filesystem::remove_all(f.work_dir);
  std::filesystem::create_directories(f.work_dir);
  std::fprintf(stderr, "generating %llu reference events...\n", static_cast<unsigned long long>(f.events));
  WorkloadGenerator gen({});
  std::vector<std::string> lines(f.events);
  uint64_t raw_bytes = 0;
  for (uint64_t i = 0; i < f.events; ++i) {
    lines[i] = gen.Event(i);
    raw_bytes += lines[i].size() + 1;
  }

  // The events into a stele log at `dir` with `profile` (empty: the
  // defaults); the seconds it took.
  auto ingest = [&](const std::string& dir, const std::string& profile) -> Result<double> {
    Options o;
    o.dir = dir;
    o.segment_max_bytes = 16ull << 20;  // several sealed, indexed segments plus the active one
    if (!profile.empty()) STELE_RETURN_IF_ERROR(ApplyProfile(profile, &o));
    const auto t0 = std::chrono::steady_clock::now();
    auto log = Log::Open(o);
    if (!log.ok()) return log.status();
    std::string batch;
    for (size_t i = 0; i < lines.size(); ++i) {
      batch += lines[i];
      batch += '\n';
      if (batch.size() > (1u << 20) || i + 1 == lines.size()) {
        auto r = (*log)->AppendBatch(batch);
        if (!r.ok()) return r.status();
        batch.clear();
      }
    }
    STELE_RETURN_IF_ERROR((*log)->Shutdown());
    return Since(t0);
  };
  std::fprintf(stderr, "ingest into stele...\n");
  const std::string dir = f.work_dir + "/stele";
  auto ingested = ingest(dir, "");
  if (!ingested.ok()) return ReportError(ingested.status());
  const double stele_ingest = *ingested;
  std::fprintf(stderr, "ingest into stele, --profile lookup-optimized...\n");
  const std::string lookup_dir = f.work_dir + "/stele-lookup-optimized";
  auto lookup_ingested = ingest(lookup_dir, "lookup-optimized");
  if (!lookup_ingested.ok()) return ReportError(lookup_ingested.status());

  std::fprintf(stderr, "ingest into SQLite (WAL, 1,000-row transactions, two indexes)...\n");
  Sqlite db(f.work_dir + "/events.db");
  db.Exec("PRAGMA journal_mode=WAL");
  db.Exec("CREATE TABLE events(seq INTEGER PRIMARY KEY, ts INTEGER, type TEXT, actor TEXT, source TEXT, "
          "lead_id TEXT, workflow_id TEXT, data TEXT)");
  db.Exec("CREATE INDEX by_lead ON events(lead_id)");
  db.Exec("CREATE INDEX by_type_ts ON events(type, ts)");
  sqlite3_stmt* ins = db.Prepare("INSERT INTO events VALUES(?,?,?,?,?,?,?,?)");
  EventValidator validator;
  ValidationLimits limits;
  auto t0 = std::chrono::steady_clock::now();
  const int64_t now = NowNanos();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i % 1000 == 0) db.Exec("BEGIN");
    EventView e;
    if (!validator.Validate(lines[i], now, limits, &e).ok()) return kExitIOError;
    sqlite3_bind_int64(ins, 1, static_cast<int64_t>(i + 1));
    sqlite3_bind_int64(ins, 2, e.ts_ns);
    BindText(ins, 3, e.type);
    BindText(ins, 4, e.actor);
    BindText(ins, 5, e.source);
    BindText(ins, 6, e.lead_id);
    BindText(ins, 7, e.workflow_id);
    BindText(ins, 8, e.data);
    sqlite3_step(ins);
    sqlite3_reset(ins);
    if (i % 1000 == 999 || i + 1 == lines.size()) db.Exec("COMMIT");
  }
  sqlite3_finalize(ins);
  const double sqlite_ingest = Since(t0);
  db.Exec("PRAGMA wal_checkpoint(TRUNCATE)");

  // Probes drawn from the events themselves (Zipf: mostly the hot leads).
  std::vector<std::string> leads, types;
  std::vector<int64_t> since;
  uint64_t rng = 7;
  const auto& type_names = WorkloadGenerator::Types();
  const int64_t start_ns = 1'767'225'600'000'000'000, span = static_cast<int64_t>(f.events) * 1'000'000;
  for (unsigned i = 0; i < f.lookups; ++i) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    char lead[16];
    std::snprintf(lead, sizeof lead, "L%07u", gen.LeadOf((rng >> 20) % f.events));
    leads.emplace_back(lead);
    types.push_back(type_names[(rng >> 40) % type_names.size()]);
    since.push_back(start_ns + static_cast<int64_t>((rng >> 8) % static_cast<uint64_t>(span * 9 / 10)));
  }
  const int64_t window = span / 10;

  // stele answers through an open Log, as a server does (the active
  // segment's live index included); SQLite through its open connection.
  Options reopen;
  reopen.dir = dir;
  auto served = Log::Open(reopen);
  if (!served.ok()) return ReportError(served.status());
  uint64_t stele_rows = 0, sqlite_rows = 0, lookup_rows = 0;
  const double stele_lead = MeanSeconds(leads.size(), [&](size_t i) {
    Query q;
    q.lead_id = leads[i];
    auto it = (*served)->Query(q);
    EventView e;
    while ((*it)->Next(&e)) ++stele_rows;
  });
  double lookup_lead = 0;
  {
    Options o;
    o.dir = lookup_dir;
    auto log = Log::Open(o);
    if (!log.ok()) return ReportError(log.status());
    lookup_lead = MeanSeconds(leads.size(), [&](size_t i) {
      Query q;
      q.lead_id = leads[i];
      auto it = (*log)->Query(q);
      EventView e;
      while ((*it)->Next(&e)) ++lookup_rows;
    });
    if (Status s = (*log)->Shutdown(); !s.ok()) return ReportError(s);
  }
  sqlite3_stmt* by_lead = db.Prepare("SELECT seq, ts, type, data FROM events WHERE lead_id = ? ORDER BY seq");
  const double sqlite_lead = MeanSeconds(leads.size(), [&](size_t i) {
    BindText(by_lead, 1, leads[i]);
    while (sqlite3_step(by_lead) == SQLITE_ROW) ++sqlite_rows;
    sqlite3_reset(by_lead);
  });
  sqlite3_finalize(by_lead);

  uint64_t stele_count = 0, sqlite_count = 0;
  const double stele_range = MeanSeconds(types.size(), [&](size_t i) {
    Query q;
    q.type = types[i];
    q.since_ns = since[i];
    q.until_ns = since[i] + window;
    auto n = (*served)->Count(q);
    if (n.ok()) stele_count += *n;
  });
  sqlite3_stmt* count = db.Prepare("SELECT count(*) FROM events WHERE type = ? AND ts >= ? AND ts < ?");
  const double sqlite_range = MeanSeconds(types.size(), [&](size_t i) {
    BindText(count, 1, types[i]);
    sqlite3_bind_int64(count, 2, since[i]);
    sqlite3_bind_int64(count, 3, since[i] + window);
    if (sqlite3_step(count) == SQLITE_ROW) sqlite_count += static_cast<uint64_t>(sqlite3_column_int64(count, 0));
    sqlite3_reset(count);
  });
  sqlite3_finalize(count);

  // Seconds to run a regex over the whole log; its hits in *hits.
  auto time_regex = [&](const char* pattern, uint64_t* hits) -> Result<double> {
    Query rx;
    rx.regex = pattern;
    const auto start = std::chrono::steady_clock::now();
    auto it = (*served)->Query(rx);
    if (!it.ok()) return it.status();
    EventView e;
    while ((*it)->Next(&e)) ++*hits;
    if (!(*it)->status().ok()) return (*it)->status();
    return Since(start);
  };
  uint64_t rx_hits = 0, rx_all_hits = 0;
  auto regex_s = time_regex("run-00000[0-9a-f]{3}", &rx_hits);
  if (!regex_s.ok()) return ReportError(regex_s.status());
  // A regex whose literal no frame can be skipped by (the quote: codec 3
  // stores keys and values apart), so every event is matched.
  auto regex_all_s = time_regex("worker-0[37]\"", &rx_all_hits);
  if (!regex_all_s.ok()) return ReportError(regex_all_s.status());
  if (Status s = (*served)->Shutdown(); !s.ok()) return ReportError(s);
  served->reset();

  // Cached repeat: a page through the in-process cache, asked again.
  double cached_us = 0;
  {
    Options o;
    o.dir = dir;
    auto log = Log::Open(o);
    if (!log.ok()) return ReportError(log.status());
    Query page;
    page.lead_id = leads[0];
    page.descending = true;
    page.limit = 100;
    auto first = (*log)->QueryPage(page);
    if (!first.ok()) return ReportError(first.status());
    constexpr int kRepeats = 10'000;
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kRepeats; ++i) {
      auto again = (*log)->QueryPage(page);
      if (!again.ok() || again->size() != first->size()) return kExitIOError;
    }
    cached_us = Since(t0) / kRepeats * 1e6;
    Status s = (*log)->Shutdown();
    if (!s.ok()) return ReportError(s);
  }

  std::printf("workload: %llu events, %.1f MB raw NDJSON; %u probes each (leads and types drawn from the events)\n",
              static_cast<unsigned long long>(f.events), static_cast<double>(raw_bytes) / 1e6, f.lookups);
  std::printf("%-38s %12s %12s\n", "", "stele", "sqlite");
  Row("ingest (events/s)", f.events / stele_ingest, f.events / sqlite_ingest, 1.0, true);
  Row("lead lookup, all its rows (ms)", stele_lead, sqlite_lead, 1e3, false);
  Row("lead lookup, lookup-optimized (ms)", lookup_lead, sqlite_lead, 1e3, false);
  Row("type + 10% time range count (ms)", stele_range, sqlite_range, 1e3, false);
  std::printf("%-38s %12.1f MB/s of raw events (%llu hits)\n", "regex scan, whole log", raw_bytes / 1e6 / *regex_s,
              static_cast<unsigned long long>(rx_hits));
  std::printf("%-38s %12.1f MB/s of raw events (%llu hits)\n", "regex scan, every event matched", raw_bytes / 1e6 / *regex_all_s,
              static_cast<unsigned long long>(rx_all_hits));
  std::printf("%-38s %12.2f us (100-event page, Log::QueryPage)\n", "cached repeat", cached_us);
  std::printf("%-38s %12.3f %12.3f bytes per raw byte\n", "disk", static_cast<double>(DiskBytes(dir)) / raw_bytes,
              static_cast<double>(DiskBytes(f.work_dir + "/events.db")) / raw_bytes);
  std::printf("%-38s %12.3f %12.3f bytes per raw byte (ingest %.0f events/s)\n", "disk, lookup-optimized",
              static_cast<double>(DiskBytes(lookup_dir)) / raw_bytes,
              static_cast<double>(DiskBytes(f.work_dir + "/events.db")) / raw_bytes, f.events / *lookup_ingested);
  if (stele_rows != sqlite_rows || lookup_rows != sqlite_rows || stele_count != sqlite_count) {
    std::fprintf(stderr, "stele: bench query: answers differ (rows %llu, lookup-optimized %llu vs %llu, counts %llu vs %llu)\n",
                 static_cast<unsigned long long>(stele_rows), static_cast<unsigned long long>(lookup_rows),
                 static_cast<unsigned long long>(sqlite_rows),
                 static_cast<unsigned long long>(stele_count), static_cast<unsigned long long>(sqlite_count));
    return kExitIOError;
  }
  std::printf("answers agree: %llu lead rows, %llu counted events\n", static_cast<unsigned long long>(stele_rows),
              static_cast<unsigned long long>(stele_count));
  std::printf(
      "{\"events\":%llu,\"raw_bytes\":%.0f,\"stele_ingest\":%.0f,\"sqlite_ingest\":%.0f,\"stele_lead_ms\":%.3f,"
      "\"sqlite_lead_ms\":%.3f,\"stele_count_ms\":%.3f,\"sqlite_count_ms\":%.3f,\"regex_mb_s\":%.1f,\"regex_all_mb_s\":%.1f,"
      "\"cached_us\":%.2f,\"stele_disk\":%.4f,\"sqlite_disk\":%.4f,\"lookup_lead_ms\":%.3f,\"lookup_disk\":%.4f}\n",
      static_cast<unsigned long long>(f.events), static_cast<double>(raw_bytes), f.events / stele_ingest, f.events / sqlite_ingest,
      stele_lead * 1e3, sqlite_lead * 1e3, stele_range * 1e3, sqlite_range * 1e3, raw_bytes / 1e6 / *regex_s,
      raw_bytes / 1e6 / *regex_all_s, cached_us, static_cast<double>(DiskBytes(dir)) / raw_bytes, static_cast<double>(DiskBytes(f.work_dir + "/events.db")) / raw_bytes,
      lookup_lead * 1e3, static_cast<double>(DiskBytes(lookup_dir)) / raw_bytes);
  if (!f.keep) std::filesystem::remove_all(f.work_dir);
  return kExitOk;
}

}  // namespace

void RegisterBenchQuery(CLI::App* bench, std::function<int()>* run) {
  auto flags = std::make_shared<BenchQueryFlags>();
  CLI::App* sub = bench->add_subcommand("query", "lookups and counts against SQLite holding the same events");
  sub->add_option("--events", flags->events, "events in both stores")->default_str("1000000");
  sub->add_option("--lookups", flags->lookups, "probes per query kind")->default_str("200");
  sub->add_option("--work-dir", flags->work_dir, "scratch directory (removed afterwards)")
      ->default_str("./stele-bench-query");
  sub->add_flag("--keep", flags->keep, "keep the scratch directory");
  *run = [sub, flags] { return sub->parsed() ? RunBenchQuery(*flags) : -1; };
}

}  // namespace stele::cli
