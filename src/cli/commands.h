// The `stele` command line: one function per subcommand.  Each returns the
// process exit code (see ExitCode and docs/cli.md).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "stele/log.h"
#include "stele/query.h"
#include "util/json_escape.h"
#include "util/units.h"

namespace stele::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitRejected = 1,   // some input lines were rejected (the rest landed)
  kExitUsage = 2,      // bad flags or arguments
  kExitIOError = 3,    // I/O error or corruption found
  kExitUnavailable = 4,  // locked by another writer, busy, or read-only
};

struct GlobalFlags {
  std::string dir = "./stele-data";
};

// Filter flags shared by query, tail and stats.
struct FilterFlags {
  std::string type, actor, source, lead, workflow, since, until;
  std::vector<std::string> where;        // "/pointer=value"
  std::string regex;
  std::vector<std::string> regex_field;  // {"/pointer", "pattern"}
  // Builds a Query; on a bad value prints the error and returns nullopt.
  std::optional<Query> ToQuery() const;
  void AddTo(CLI::App* app);
};

// Flags of the commands that load events into a log: append and import.
struct WriteFlags {
  std::string sync = "batch";
  std::string segment_max;  // empty: the profile's, else Options' (256M)
  std::string profile;
  void AddTo(CLI::App* app);
  // Fills *options from the flags and opens the log for a bulk load (its
  // enqueue waits for room rather than fail).  Null after printing the
  // error, with *exit_code set.
  std::unique_ptr<Log> Open(const GlobalFlags& global, Options* options, int* exit_code) const;
};
// {"appended":N,"first_seq":A,"last_seq":B,"rejected":R} on stdout.
void PrintAppendSummary(uint64_t appended, uint64_t first_seq, uint64_t last_seq, uint64_t rejected);

int ExitCodeFor(const Status& status);
// Bytes of the regular files under path (a file or a directory tree).
uint64_t DiskBytes(const std::string& path);
// Prints "stele: <message>" to stderr and returns the matching exit code.
int ReportError(const Status& status);

// A registered subcommand: its parser and what runs when it was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command RegisterAppend(CLI::App& app, const GlobalFlags& global);
Command RegisterImport(CLI::App& app, const GlobalFlags& global);
Command RegisterExport(CLI::App& app, const GlobalFlags& global);
Command RegisterQuery(CLI::App& app, const GlobalFlags& global);
Command RegisterTail(CLI::App& app, const GlobalFlags& global);
Command RegisterBench(CLI::App& app, const GlobalFlags& global);
// Adds `bench query` under `bench`; *run returns -1 when it was not chosen.
void RegisterBenchQuery(CLI::App* bench, std::function<int()>* run);
// Adds `bench http` under `bench`; *run returns -1 when it was not chosen.
void RegisterBenchHttp(CLI::App* bench, std::function<int()>* run);
// Adds `bench latency` under `bench`; *run returns -1 when it was not chosen.
void RegisterBenchLatency(CLI::App* bench, std::function<int()>* run);
Command RegisterStats(CLI::App& app, const GlobalFlags& global);
Command RegisterVerify(CLI::App& app, const GlobalFlags& global);
Command RegisterCheckpoint(CLI::App& app, const GlobalFlags& global);
Command RegisterProve(CLI::App& app, const GlobalFlags& global);
Command RegisterRetain(CLI::App& app, const GlobalFlags& global);
Command RegisterServe(CLI::App& app, const GlobalFlags& global);
Command RegisterKeys(CLI::App& app, const GlobalFlags& global);
Command RegisterAlerts(CLI::App& app, const GlobalFlags& global);

}  // namespace stele::cli
