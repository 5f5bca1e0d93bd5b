// stele append: NDJSON on stdin -> the log.  Good lines land even when others
// are rejected; rejects go to stderr with their 1-based line numbers.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "stele/log.h"

namespace stele::cli {
namespace {

// Reads stdin in chunks of whole lines and feeds them to the log.
int RunAppend(const GlobalFlags& global, const WriteFlags& flags) {
  Options options;
  int exit_code = kExitOk;
  std::unique_ptr<Log> opened = flags.Open(global, &options, &exit_code);
  if (!opened) return exit_code;
  Log* log = opened.get();

  constexpr size_t kChunk = 4u << 20;
  const size_t max_line = options.max_event_bytes + 2;
  std::string buf;
  uint64_t line_no = 1;
  uint64_t appended = 0, first_seq = 0, last_seq = 0, rejected = 0;
  bool skipping_long_line = false;  // inside a line too long to buffer
  uint64_t long_line_no = 0;

  auto report = [&](uint64_t line, const Status& s) {
    ++rejected;
    std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(line), s.message().c_str());
  };
  auto feed = [&](std::string_view text, uint64_t lines) -> Status {
    auto r = log->AppendBatch(text, line_no);
    if (!r.ok()) return r.status();
    for (const LineError& e : r->rejected) report(e.line, e.status);
    if (r->appended > 0) {
      if (first_seq == 0) first_seq = r->first_seq;
      last_seq = r->last_seq;
      appended += r->appended;
    }
    line_no += lines;
    return Status::Ok();
  };

  bool eof = false;
  while (!eof) {
    const size_t old = buf.size();
    buf.resize(old + kChunk);
    ssize_t n = ::read(STDIN_FILENO, buf.data() + old, kChunk);
    if (n < 0) {
      if (errno == EINTR) {
        buf.resize(old);
        continue;
      }
      std::perror("stele: reading stdin");
      return kExitIOError;
    }
    buf.resize(old + static_cast<size_t>(n));
    eof = n == 0;
    size_t start = 0;
    if (skipping_long_line) {
      const size_t nl = buf.find('\n');
      if (nl == std::string::npos) {
        buf.clear();
        continue;
      }
      skipping_long_line = false;
      start = nl + 1;
      ++line_no;
    }
    size_t end = eof ? buf.size() : buf.rfind('\n');
    if (end == std::string::npos || end < start) {
      // No complete line in the buffer.
      if (buf.size() - start > max_line) {
        long_line_no = line_no;
        report(long_line_no, Status::InvalidArgument("event: longer than the " +
                                                     std::to_string(options.max_event_bytes) + " byte limit"));
        skipping_long_line = true;
        buf.clear();
      } else {
        buf.erase(0, start);
      }
      continue;
    }
    std::string_view text(buf.data() + start, end - start);
    uint64_t lines = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    Status s = feed(text, lines);
    if (!s.ok()) return ReportError(s);
    buf.erase(0, eof ? buf.size() : end + 1);
  }
  Status s = log->Flush();
  if (s.ok()) s = log->Shutdown();
  if (!s.ok()) return ReportError(s);
  PrintAppendSummary(appended, first_seq, last_seq, rejected);
  return rejected > 0 ? kExitRejected : kExitOk;
}

}  // namespace

Command RegisterAppend(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<WriteFlags>();
  CLI::App* sub = app.add_subcommand("append", "append NDJSON events read from stdin");
  flags->AddTo(sub);
  sub->footer(
      "Prints {\"appended\":N,\"first_seq\":A,\"last_seq\":B,\"rejected\":R}. Rejected lines go to stderr\n"
      "as 'line N: reason'; every valid line still lands. Exit 1 if any line was rejected.");
  return {sub, [&global, flags] { return RunAppend(global, *flags); }};
}

void WriteFlags::AddTo(CLI::App* app) {
  app->add_option("--sync", sync, "durability: always | batch | none")->default_str("batch");
  app->add_option("--profile", profile, "high-throughput | low-latency | storage-optimized | lookup-optimized");
  app->add_option("--segment-max", segment_max, "seal segments at this size (64K, 256M...)")
      ->default_str("256M; 16M with --profile lookup-optimized");
}

std::unique_ptr<Log> WriteFlags::Open(const GlobalFlags& global, Options* options, int* exit_code) const {
  options->dir = global.dir;
  if (!profile.empty()) {
    if (Status s = ApplyProfile(profile, options); !s.ok()) {
      *exit_code = ReportError(s);
      return nullptr;
    }
  }
  if (!ParseSyncMode(sync, &options->sync)) {
    std::fprintf(stderr, "stele: --sync \"%s\": must be always, batch or none\n", sync.c_str());
    *exit_code = kExitUsage;
    return nullptr;
  }
  if (!segment_max.empty()) {
    auto bytes = ParseByteSize(segment_max);
    if (!bytes.ok() || *bytes == 0) {
      std::fprintf(stderr, "stele: --segment-max \"%s\": want a size like 64K or 256M\n", segment_max.c_str());
      *exit_code = kExitUsage;
      return nullptr;
    }
    options->segment_max_bytes = *bytes;
  }
  // A bulk load would rather wait for the writer than fail: the queue still
  // bounds memory, and a failed write still ends the run at once.  (The 2 s
  // default made `append` of 10M events exit "busy" on a machine busy
  // compiling: the writer frees queue space a batch at a time.)
  options->enqueue_deadline = std::chrono::hours(1);
  auto log = Log::Open(*options);
  if (!log.ok()) {
    *exit_code = ReportError(log.status());
    return nullptr;
  }
  if ((*log)->recovery().dropped_bytes > 0) {
    std::fprintf(stderr, "stele: recovery dropped a torn tail of %llu bytes (unflushed writes of a crashed writer)\n",
                 static_cast<unsigned long long>((*log)->recovery().dropped_bytes));
  }
  return std::move(*log);
}

void PrintAppendSummary(uint64_t appended, uint64_t first_seq, uint64_t last_seq, uint64_t rejected) {
  std::printf("{\"appended\":%llu,\"first_seq\":%llu,\"last_seq\":%llu,\"rejected\":%llu}\n",
              static_cast<unsigned long long>(appended), static_cast<unsigned long long>(first_seq),
              static_cast<unsigned long long>(last_seq), static_cast<unsigned long long>(rejected));
}

}  // namespace stele::cli
