// stele: the command-line front door.  See docs/cli.md.
#include <cstdio>

#include "cli/commands.h"
#include "util/malloc_tuning.h"

int main(int argc, char** argv) {
  using namespace stele::cli;
  stele::UseFixedMmapThreshold();  // flat RSS under a long `append` or `serve`
  CLI::App app{"stele: tamper-evident, high-throughput audit log"};
  app.name("stele");
  app.require_subcommand(1);
  app.fallthrough();  // so --dir works after the subcommand too
  GlobalFlags global;
  app.add_option("--dir", global.dir, "data directory")->default_str("./stele-data");
  app.footer(
      "Exit codes: 0 ok; 1 some input rejected (the rest landed); 2 usage error;\n"
      "            3 I/O error or corruption; 4 directory locked by another writer, busy or read-only.");
  const Command commands[] = {
      RegisterAppend(app, global),
      RegisterImport(app, global),
      RegisterExport(app, global),
      RegisterQuery(app, global),
      RegisterTail(app, global),
      RegisterBench(app, global),
      RegisterStats(app, global),
      RegisterVerify(app, global),
      RegisterCheckpoint(app, global),
      RegisterProve(app, global),
      RegisterRetain(app, global),
      RegisterServe(app, global),
      RegisterKeys(app, global),
      RegisterAlerts(app, global),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "stele: %s (see stele --help)\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stele: %s\n", e.what());
    return kExitIOError;
  }
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return kExitUsage;
}
