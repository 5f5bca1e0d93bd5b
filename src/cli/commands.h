// The `stele` command line: one function per subcommand.  Each returns the
// process exit code (see ExitCode and docs/cli.md).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

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
