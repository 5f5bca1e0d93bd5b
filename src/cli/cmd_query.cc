// stele query / stele tail: stream stored events matching filters.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "stele/query.h"

namespace stele::cli {
namespace {

struct QueryFlags {
  FilterFlags filters;
  std::string format;
  uint64_t limit = 0;
  bool desc = false;
  uint64_t after = 0;
};

struct TailFlags {
  FilterFlags filters;
  std::string format;
  uint64_t lines = 10;
  bool follow = false;
  int poll_ms = 200;
};

// Streams every event of `query` to the printer; returns the last seq seen.
Status Stream(const std::string& dir, const Query& query, EventPrinter* printer, uint64_t* last_seq) {
  auto it = QueryDirectory(dir, query);
  if (!it.ok()) return it.status();
  EventView e;
  while ((*it)->Next(&e)) {
    printer->Print(e);
    *last_seq = e.seq;
  }
  return (*it)->status();
}

int RunQuery(const GlobalFlags& global, const QueryFlags& flags) {
  auto query = flags.filters.ToQuery();
  if (!query) return kExitUsage;
  OutputFormat format;
  if (!ParseOutputFormat(flags.format, &format)) {
    std::fprintf(stderr, "stele: --format \"%s\": must be ndjson, table or count\n", flags.format.c_str());
    return kExitUsage;
  }
  query->limit = flags.limit;
  query->descending = flags.desc;
  query->after = flags.after;
  if (format == OutputFormat::kCount) {  // from the field index where it can
    auto n = CountDirectory(global.dir, *query);
    if (!n.ok()) return ReportError(n.status());
    std::printf("%llu\n", static_cast<unsigned long long>(*n));
    return kExitOk;
  }
  EventPrinter printer(format);
  uint64_t last = 0;
  Status s = Stream(global.dir, *query, &printer, &last);
  printer.Finish();
  return s.ok() ? kExitOk : ReportError(s);
}

int RunTail(const GlobalFlags& global, const TailFlags& flags) {
  auto query = flags.filters.ToQuery();
  if (!query) return kExitUsage;
  OutputFormat format;
  if (!ParseOutputFormat(flags.format, &format)) {
    std::fprintf(stderr, "stele: --format \"%s\": must be ndjson, table or count\n", flags.format.c_str());
    return kExitUsage;
  }
  // The last N matches, newest first, printed oldest first.
  Query last_n = *query;
  last_n.descending = true;
  last_n.limit = flags.lines;
  auto it = QueryDirectory(global.dir, last_n);
  if (!it.ok()) return ReportError(it.status());
  // Owned copies (views die with their frame); a deque never moves them.
  struct Owned {
    EventView view;
    std::string storage;
  };
  std::deque<Owned> recent;
  EventView e;
  while ((*it)->Next(&e)) {
    Owned& back = recent.emplace_back();
    back.view = e;
    back.storage.reserve(e.type.size() + e.actor.size() + e.source.size() + e.lead_id.size() +
                         e.workflow_id.size() + e.data.size());
    auto keep = [&back](std::string_view* v) {
      const size_t at = back.storage.size();
      back.storage.append(*v);
      *v = std::string_view(back.storage.data() + at, v->size());
    };
    for (std::string_view* v : {&back.view.type, &back.view.actor, &back.view.source, &back.view.lead_id,
                                &back.view.workflow_id, &back.view.data}) {
      keep(v);
    }
  }
  if (!(*it)->status().ok()) return ReportError((*it)->status());
  EventPrinter printer(format);
  uint64_t last_seq = 0;
  for (auto r = recent.rbegin(); r != recent.rend(); ++r) {
    printer.Print(r->view);
    last_seq = r->view.seq;
  }
  printer.Flush();
  if (!flags.follow) {
    printer.Finish();
    return kExitOk;
  }
  if (last_seq == 0) {
    // Nothing matched yet: follow from the current end of the log.
    Query tip;
    tip.descending = true;
    tip.limit = 1;
    auto t = QueryDirectory(global.dir, tip);
    if (t.ok() && (*t)->Next(&e)) last_seq = e.seq;
  }
  std::signal(SIGPIPE, SIG_DFL);
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(flags.poll_ms));
    Query next = *query;
    next.after = last_seq;
    Status s = Stream(global.dir, next, &printer, &last_seq);
    printer.Flush();
    if (!s.ok() && s.code() != StatusCode::kNotFound) return ReportError(s);
  }
}

}  // namespace

Command RegisterQuery(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<QueryFlags>();
  CLI::App* sub = app.add_subcommand("query", "print stored events that match filters");
  flags->filters.AddTo(sub);
  sub->add_option("--format", flags->format, "ndjson | table | count (default: table on a terminal, else ndjson)");
  sub->add_option("--limit", flags->limit, "stop after N events (0 = no limit)");
  sub->add_flag("--desc", flags->desc, "newest first");
  sub->add_option("--after", flags->after, "resume after this seq, in output order (a cursor)");
  return {sub, [&global, flags] { return RunQuery(global, *flags); }};
}

Command RegisterTail(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<TailFlags>();
  CLI::App* sub = app.add_subcommand("tail", "print the last events; -f follows new ones");
  flags->filters.AddTo(sub);
  sub->add_option("-n,--lines", flags->lines, "how many of the last matching events")->default_str("10");
  sub->add_flag("-f,--follow", flags->follow, "keep printing new events as they are written");
  sub->add_option("--format", flags->format, "ndjson | table (default: table on a terminal, else ndjson)");
  sub->add_option("--poll-ms", flags->poll_ms, "follow: how often to look for new events")->default_str("200");
  return {sub, [&global, flags] { return RunTail(global, *flags); }};
}

}  // namespace stele::cli
