// Fuzz target: the signed-note / checkpoint parsers and the proof parser,
// all of which read files a hostile party may have written (a checkpoint
// kept elsewhere, a proof file handed over).  The first byte picks the
// parser.  Never crashes; nothing verifies unless it was really signed.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "integrity/checkpoint.h"
#include "integrity/note.h"
#include "stele/integrity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const stele::NoteVerifier verifier = [] {
    auto signer = stele::GenerateNoteSigner("stele-fuzz");
    if (!signer.ok()) std::abort();
    return signer->Verifier();
  }();
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: (void)stele::OpenCheckpoint(text, verifier); break;
    case 1: (void)stele::ParseCheckpointBody(text); break;
    case 2: (void)stele::ParseNoteSigner(text); break;
    case 3: (void)stele::ParseNoteVerifier(text); break;
    case 4: (void)stele::VerifyProofJson(text); break;
  }
  return 0;
}
