// stele import: audit logs from files (plain, .gz or .zst; stele's own
// events, Kubernetes audit, CloudTrail, or any JSON mapped by pointer) into
// the log.  stele export: the events a filter selects, in output form, to a
// file that appears whole or not at all.  Both show progress on a terminal.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "event/import_mapping.h"
#include "stele/event.h"
#include "stele/log.h"
#include "stele/query.h"
#include "util/compressed_stream.h"

namespace stele::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Redraws one status line on stderr, at most ten times a second, when
// stderr is a terminal; silent otherwise.
class ProgressLine {
 public:
  ProgressLine() : tty_(::isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}
  ~ProgressLine() { Done(); }
  bool due() {
    if (!tty_) return false;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return false;
    last_ = now;
    return true;
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  void Show(const std::string& text) {
    std::fprintf(stderr, "\r%s\033[K", text.c_str());
    shown_ = true;
  }
  void Done() {
    if (shown_) std::fprintf(stderr, "\n");
    shown_ = false;
  }

 private:
  const bool tty_;
  const Clock::time_point start_;
  Clock::time_point last_{};
  bool shown_ = false;
};

std::string Rate(uint64_t n, double seconds) {
  char buf[32];
  const double r = seconds > 0 ? static_cast<double>(n) / seconds : 0;
  std::snprintf(buf, sizeof buf, r >= 1e6 ? "%.2fM/s" : "%.0fk/s", r >= 1e6 ? r / 1e6 : r / 1e3);
  return buf;
}

// --- import ------------------------------------------------------------------

struct ImportFlags {
  WriteFlags write;
  std::string format = "auto";
  ImportMapping::Fields fields;
  std::vector<std::string> files;
};

// Maps the lines of each file and appends them in batches of about 4 MiB,
// reporting every refused line as FILE:LINE and landing the rest.
class Importer {
 public:
  Importer(Log* log, const ImportMapping& mapping, size_t max_line)
      : log_(log), mapping_(mapping), max_line_(max_line) {}

  // A non-OK status is fatal (an unreadable file, a log that stopped);
  // refused lines are counted, not returned.
  Status ImportFile(CompressedReader* reader) {
    reader_ = reader;
    constexpr size_t kRead = 4u << 20;
    std::string buf;
    uint64_t line_no = 0;
    bool skipping = false;  // inside a line too long to buffer
    for (bool eof = false; !eof;) {
      const size_t old = buf.size();
      buf.resize(old + kRead);
      auto n = reader->Read(buf.data() + old, kRead);
      if (!n.ok()) return n.status();
      buf.resize(old + *n);
      eof = *n == 0;
      size_t pos = 0;
      for (size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
        ++line_no;
        if (skipping) skipping = false;
        else STELE_RETURN_IF_ERROR(Line(std::string_view(buf).substr(pos, nl - pos), line_no));
      }
      if (eof && pos < buf.size() && !skipping) {
        STELE_RETURN_IF_ERROR(Line(std::string_view(buf).substr(pos), ++line_no));
        pos = buf.size();
      }
      buf.erase(0, pos);
      if (!eof && !skipping && buf.size() > max_line_) {
        Refuse({line_no + 1, 0}, "record: longer than the " + std::to_string(max_line_) + " byte limit");
        skipping = true;
      }
      if (skipping) buf.clear();
      ShowProgress();
    }
    return FlushBatch();
  }

  uint64_t appended() const { return appended_; }
  uint64_t first_seq() const { return first_seq_; }
  uint64_t last_seq() const { return last_seq_; }
  uint64_t rejected() const { return rejected_; }
  void EndProgress() { progress_.Done(); }

 private:
  Status Line(std::string_view line, uint64_t line_no) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return Status::Ok();  // blank
    mapping_.Records(line, &records_);
    const bool several = records_.size() != 1 || records_[0].size() != line.size();
    for (size_t k = 0; k < records_.size(); ++k) {
      const Where where{line_no, several ? k + 1 : 0};
      Status s = mapping_.Map(records_[k], &event_);
      if (!s.ok()) {
        Refuse(where, s.message());
        continue;
      }
      batch_.append(event_).push_back('\n');
      batch_where_.push_back(where);
      if (batch_.size() >= (4u << 20)) STELE_RETURN_IF_ERROR(FlushBatch());
    }
    return Status::Ok();
  }

  Status FlushBatch() {
    if (batch_where_.empty()) return Status::Ok();
    auto r = log_->AppendBatch(batch_);
    if (!r.ok()) return r.status();
    for (const LineError& e : r->rejected) Refuse(batch_where_[e.line - 1], e.status.message());
    if (r->appended > 0) {
      if (first_seq_ == 0) first_seq_ = r->first_seq;
      last_seq_ = r->last_seq;
      appended_ += r->appended;
    }
    batch_.clear();
    batch_where_.clear();
    return Status::Ok();
  }

  // A record's place: its file line, and which of the line's records it is
  // (0: the line is the record).
  struct Where {
    uint64_t line = 0;
    size_t record = 0;
  };

  void Refuse(Where where, const std::string& why) {
    ++rejected_;
    progress_.Done();
    std::string at = reader_->path() + ":" + std::to_string(where.line);
    if (where.record > 0) at += ": record " + std::to_string(where.record);
    std::fprintf(stderr, "%s: %s\n", at.c_str(), why.c_str());
  }

  void ShowProgress() {
    if (!progress_.due()) return;
    std::string text = "import: " + reader_->path();
    if (reader_->file_size() > 0) {
      text += " " + std::to_string(100 * reader_->consumed() / reader_->file_size()) + "%";
    }
    text += ", " + std::to_string(appended_) + " events, " + std::to_string(rejected_) + " rejected, " +
            Rate(appended_, progress_.seconds());
    progress_.Show(text);
  }

  Log* const log_;
  const ImportMapping& mapping_;
  const size_t max_line_;
  CompressedReader* reader_ = nullptr;
  std::string event_, batch_;
  std::vector<std::string_view> records_;
  std::vector<Where> batch_where_;  // the place of each line of batch_
  uint64_t appended_ = 0, first_seq_ = 0, last_seq_ = 0, rejected_ = 0;
  ProgressLine progress_;
};

int RunImport(const GlobalFlags& global, const ImportFlags& flags) {
  const auto format = ImportMapping::ParseFormat(flags.format);
  if (!format) {
    std::fprintf(stderr, "stele: --format \"%s\": must be auto, events, k8s, cloudtrail or json\n", flags.format.c_str());
    return kExitUsage;
  }
  auto mapping = ImportMapping::Create(*format, flags.fields);
  if (!mapping.ok()) {
    std::fprintf(stderr, "stele: %s\n", mapping.status().message().c_str());
    return kExitUsage;
  }
  // Every file opens before anything lands: a typo in the last name does
  // not leave the first files half imported.
  std::vector<std::unique_ptr<CompressedReader>> readers;
  for (const std::string& f : flags.files) {
    auto r = CompressedReader::Open(f);
    if (!r.ok()) return ReportError(r.status());
    readers.push_back(std::move(*r));
  }
  Options options;
  int exit_code = kExitOk;
  std::unique_ptr<Log> log = flags.write.Open(global, &options, &exit_code);
  if (!log) return exit_code;
  // A line may be a whole CloudTrail file of records; memory stays bounded
  // by this.
  constexpr size_t kMaxLine = 256u << 20;
  Importer importer(log.get(), *mapping, kMaxLine);
  for (auto& r : readers) {
    Status s = importer.ImportFile(r.get());
    if (!s.ok()) {
      importer.EndProgress();
      (void)log->Shutdown();  // what landed stays, durable
      return ReportError(s);
    }
  }
  importer.EndProgress();
  Status s = log->Shutdown();
  if (!s.ok()) return ReportError(s);
  PrintAppendSummary(importer.appended(), importer.first_seq(), importer.last_seq(), importer.rejected());
  return importer.rejected() > 0 ? kExitRejected : kExitOk;
}

// --- export ------------------------------------------------------------------

struct ExportFlags {
  FilterFlags filters;
  std::string output = "-";
  bool force = false;
};

int RunExport(const GlobalFlags& global, const ExportFlags& flags) {
  auto query = flags.filters.ToQuery();
  if (!query) return kExitUsage;
  const bool to_file = flags.output != "-";
  // The newest seq, for the progress line's share.
  uint64_t newest = 0;
  if (to_file) {
    Query last;
    last.descending = true;
    last.limit = 1;
    if (auto it = QueryDirectory(global.dir, last); it.ok()) {
      EventView e;
      if ((*it)->Next(&e)) newest = e.seq;
    }
  }
  auto writer = CompressedWriter::Create(flags.output, flags.force);
  if (!writer.ok()) return ReportError(writer.status());
  auto it = QueryDirectory(global.dir, *query);
  if (!it.ok()) return ReportError(it.status());
  ProgressLine progress;
  std::string buf;
  uint64_t exported = 0, first_seq = 0, last_seq = 0;
  EventView e;
  while ((*it)->Next(&e)) {
    AppendEventJson(e, &buf);
    buf.push_back('\n');
    if (first_seq == 0) first_seq = e.seq;
    last_seq = e.seq;
    ++exported;
    if (buf.size() < (1u << 20)) continue;
    if (Status s = (*writer)->Write(buf); !s.ok()) return ReportError(s);
    buf.clear();
    if (to_file && progress.due()) {
      std::string text = "export: seq " + std::to_string(e.seq);
      if (newest > 0) text += " of " + std::to_string(newest);
      text += ", " + std::to_string(exported) + " events, " +
              std::to_string((*writer)->written() >> 20) + " MiB written, " + Rate(exported, progress.seconds());
      progress.Show(text);
    }
  }
  progress.Done();
  if (!(*it)->status().ok()) return ReportError((*it)->status());  // the temporary file goes with the writer
  if (Status s = (*writer)->Write(buf); !s.ok()) return ReportError(s);
  if (Status s = (*writer)->Finish(); !s.ok()) return ReportError(s);
  if (to_file) {
    std::printf("{\"exported\":%llu,\"first_seq\":%llu,\"last_seq\":%llu,\"bytes\":%llu,\"file\":%s}\n",
                static_cast<unsigned long long>(exported), static_cast<unsigned long long>(first_seq),
                static_cast<unsigned long long>(last_seq), static_cast<unsigned long long>((*writer)->written()),
                JsonString(flags.output).c_str());
  }
  return kExitOk;
}

}  // namespace

Command RegisterImport(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* sub = app.add_subcommand("import", "append audit records from files (plain, .gz, .zst), mapped to events");
  sub->add_option("files", flags->files, "files to read, in order; - for stdin")->required();
  sub->add_option("--format", flags->format, "auto | events | k8s | cloudtrail | json")->default_str("auto");
  ImportMapping::Fields& f = flags->fields;
  sub->add_option("--type", f.type, "json: the events' type; with --type-from, the prefix of the taken one");
  sub->add_option("--type-from", f.type_from, "JSON pointer to the record's type (/eventType)");
  sub->add_option("--actor-from", f.actor_from, "JSON pointer to the actor");
  sub->add_option("--source-from", f.source_from, "JSON pointer to the source");
  sub->add_option("--lead-from", f.lead_from, "JSON pointer to the lead id");
  sub->add_option("--workflow-from", f.workflow_from, "JSON pointer to the workflow id");
  sub->add_option("--ts-from", f.ts_from, "JSON pointer to the time (RFC 3339 or integer ns)");
  sub->add_flag("--ingest-time", f.ingest_time, "stamp each event with its import time, not the record's");
  flags->write.AddTo(sub);
  sub->footer(
      "Each record is kept byte for byte as the event's data.  Prints {\"appended\":N,\"first_seq\":A,\n"
      "\"last_seq\":B,\"rejected\":R}; refused records go to stderr as FILE:LINE: reason, and every other\n"
      "record still lands.  Exit 1 if any was refused.  See docs/cli.md for the formats.");
  return {sub, [&global, flags] { return RunImport(global, *flags); }};
}

Command RegisterExport(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand("export", "write the events filters select, as NDJSON, to a file or stdout");
  flags->filters.AddTo(sub);
  sub->add_option("-o,--output", flags->output, "file to write (.gz and .zst compress); - for stdout")->default_str("-");
  sub->add_flag("--force", flags->force, "overwrite an existing file");
  sub->footer(
      "Events in seq order and output form (what `stele import --format events` reads back).  The file\n"
      "appears only once complete and synced.  Prints {\"exported\":N,...} when writing a file.");
  return {sub, [&global, flags] { return RunExport(global, *flags); }};
}

}  // namespace stele::cli
