// Checkpoints: C2SP tlog-checkpoint bodies in signed notes, the signing key
// of a data directory, and the checkpoint files kept beside the log.
//
//   body := origin "\n" decimal(tree_size) "\n" base64(root_hash) "\n"
//           "time " RFC3339 "\n"                       (an extension line)
//
// Files: <dir>/keys/checkpoint.key (mode 0600, the signer key string) and
// <dir>/checkpoints/<tree size, 20 digits>.cp (one signed note each,
// written to a temporary name, synced and renamed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "integrity/note.h"
#include "integrity/sha256.h"
#include "stele/status.h"
#include "util/env.h"

namespace stele {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  int64_t time_ns = 0;
};

std::string FormatCheckpointBody(const Checkpoint& c);
Result<Checkpoint> ParseCheckpointBody(std::string_view body);
// Opens a signed checkpoint note with `verifier` and parses it; also checks
// the origin is the verifier's name.
Result<Checkpoint> OpenCheckpoint(std::string_view note, const NoteVerifier& verifier);

inline constexpr std::string_view kKeysDir = "keys";
inline constexpr std::string_view kSignerKeyFile = "checkpoint.key";
// The verifier key, written when the signing key lives outside the directory.
inline constexpr std::string_view kVerifierKeyFile = "checkpoint.pub";
inline constexpr std::string_view kCheckpointsDir = "checkpoints";

// Loads the signer key from key_path, or from <dir>/keys/checkpoint.key,
// generating it (name "stele-<16 hex>") on first use when `create` is set.
Result<NoteSigner> LoadOrCreateSigner(Env* env, const std::string& dir, const std::string& key_path, bool create);
// The verifier of a directory's key (readers: from the same file).
Result<NoteVerifier> LoadVerifier(Env* env, const std::string& dir, const std::string& key_path);

// Writes a signed checkpoint file atomically.
Status WriteCheckpointFile(Env* env, const std::string& dir, uint64_t size, const std::string& note);
// Tree sizes of the stored checkpoint files, ascending.
Result<std::vector<uint64_t>> ListCheckpoints(Env* env, const std::string& dir);
Result<std::string> ReadCheckpointFile(Env* env, const std::string& dir, uint64_t size);
std::string CheckpointFileName(uint64_t size);
// True for exactly 20 decimal digits + ".cp"; sets *size.
bool ParseCheckpointFileName(std::string_view name, uint64_t* size);

}  // namespace stele
