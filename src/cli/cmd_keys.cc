// stele keys: API keys for the server (SPEC §6), stored hashed.
#include <cstdio>

#include "cli/commands.h"
#include "server/api_keys.h"

namespace stele::cli {
namespace {

struct KeysFlags {
  std::string name;
  std::string scopes = "append,read";
};

int RunAdd(const GlobalFlags& global, const KeysFlags& f) {
  auto scopes = ParseScopes(f.scopes);
  if (!scopes.ok()) return ReportError(Status::InvalidArgument("--scope: " + scopes.status().message()));
  KeyStore keys(global.dir);
  auto secret = keys.Add(f.name, *scopes);
  if (!secret.ok()) return ReportError(secret.status());
  std::printf("%s\n", secret->c_str());
  std::fprintf(stderr, "stele: key \"%s\" (%s) added; the secret above is shown once and stored only hashed\n",
               f.name.c_str(), ScopesToString(*scopes).c_str());
  return kExitOk;
}

int RunList(const GlobalFlags& global) {
  KeyStore keys(global.dir);
  if (Status s = keys.Reload(); !s.ok()) return ReportError(s);
  for (const ApiKey& k : keys.List()) {
    std::printf("{\"name\":%s,\"scopes\":\"%s\",\"created\":\"%s\",\"state\":\"%s\"}\n", JsonString(k.name).c_str(),
                ScopesToString(k.scopes).c_str(), k.created.c_str(), k.revoked ? "revoked" : "active");
  }
  return kExitOk;
}

int RunRevoke(const GlobalFlags& global, const KeysFlags& f) {
  KeyStore keys(global.dir);
  if (Status s = keys.Revoke(f.name); !s.ok()) return ReportError(s);
  std::fprintf(stderr, "stele: key \"%s\" revoked (a running server notices within a second)\n", f.name.c_str());
  return kExitOk;
}

}  // namespace

Command RegisterKeys(CLI::App& app, const GlobalFlags& global) {
  auto f = std::make_shared<KeysFlags>();
  CLI::App* cmd = app.add_subcommand("keys", "API keys for `stele serve`");
  cmd->require_subcommand(1);
  CLI::App* add = cmd->add_subcommand("add", "create a key and print its secret (once)");
  add->add_option("name", f->name, "key name (letters, digits, - _ .)")->required();
  add->add_option("--scope", f->scopes, "comma-separated: append, read, admin (admin implies the others)");
  CLI::App* list = cmd->add_subcommand("list", "list keys (names, scopes, state; never secrets)");
  CLI::App* revoke = cmd->add_subcommand("revoke", "revoke a key");
  revoke->add_option("name", f->name, "key name")->required();
  return {cmd, [&global, f, add, list, revoke] {
            if (add->parsed()) return RunAdd(global, *f);
            if (list->parsed()) return RunList(global);
            if (revoke->parsed()) return RunRevoke(global, *f);
            return static_cast<int>(kExitUsage);
          }};
}

}  // namespace stele::cli
