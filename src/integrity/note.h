// C2SP signed notes with Ed25519 (https://c2sp.org/signed-note), the
// envelope of stele's checkpoints, byte-compatible with Go's
// golang.org/x/mod/sumdb/note.
//
//   note      := text "\n" signature+          (text ends with "\n")
//   signature := "— " name " " base64(key_id[4] || ed25519_sig[64]) "\n"
//   key_id    := SHA-256(name || "\n" || 0x01 || public_key)[0:4]
//   verifier key string: name "+" hex(key_id) "+" base64(0x01 || public_key)
//   signer key string:   "PRIVATE+KEY+" name "+" hex(key_id) "+" base64(0x01 || seed)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "stele/status.h"

namespace stele {

struct NoteVerifier {
  std::string name;
  uint32_t key_id = 0;
  std::string public_key;  // 32 bytes

  std::string ToString() const;  // the verifier key string
};

struct NoteSigner {
  std::string name;
  uint32_t key_id = 0;
  std::string seed;        // 32-byte Ed25519 private seed
  std::string public_key;  // 32 bytes

  std::string ToString() const;  // the signer key string (secret!)
  NoteVerifier Verifier() const { return {name, key_id, public_key}; }
};

uint32_t NoteKeyId(std::string_view name, std::string_view public_key);
// A fresh key from the OS's CSPRNG.  `name`: no spaces, '+' or newlines.
Result<NoteSigner> GenerateNoteSigner(const std::string& name);
Result<NoteSigner> ParseNoteSigner(std::string_view key);
Result<NoteVerifier> ParseNoteVerifier(std::string_view key);

// Signs `text` (which must end in "\n") and returns the whole note.
Result<std::string> SignNote(std::string_view text, const NoteSigner& signer);
// Checks that `note` carries a valid signature by `verifier`, and returns its
// text.  Signatures by other keys are ignored.  kCorruption on failure.
Result<std::string> OpenNote(std::string_view note, const NoteVerifier& verifier);

}  // namespace stele
