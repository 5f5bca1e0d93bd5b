// Fuzz target: the lead runs reader (index/lead_runs.h) over a corrupt
// .lrun file.  The input is the file's bytes; Load() must accept it or
// return kCorruption, and every block it lists must read as records or fail
// with kCorruption: never crash, hang or read out of bounds.  Seeds are real
// .lrun files (fuzz/corpus/lead_runs, from fuzz/make_seeds.sh).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "event/record.h"
#include "index/lead_runs.h"
#include "query/frame_cache.h"
#include "util/coding.h"
#include "util/confined_env.h"

namespace {

const std::string& Dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string d = std::string(base ? base : "/tmp") + "/stele-fuzz-lead-runs-" + std::to_string(::getpid());
    std::filesystem::create_directories(d + "/segments");
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stele::ConfinedEnv env(Dir());
  const std::string segment = Dir() + "/segments/00000000000000000001.seg";
  const std::string path = stele::LeadRunsPath(segment);
  (void)env.Remove(path);
  {
    auto f = env.OpenAppendable(path);
    if (!f.ok()) std::abort();
    if (!(*f)->Append(std::string_view(reinterpret_cast<const char*>(data), size)).ok()) std::abort();
  }
  auto runs = stele::LeadRuns::Load(&env, segment, 1);
  if (!runs.ok()) {
    if (runs.status().code() != stele::StatusCode::kCorruption) std::abort();
    return 0;
  }
  std::string raw;
  for (size_t i = 0; i < (*runs)->lead_count(); ++i) {
    if ((*runs)->BlocksOf((*runs)->lead(i)).size() != (*runs)->blocks(i).size()) std::abort();
    for (const stele::LeadRunBlock& b : (*runs)->blocks(i)) {
      stele::Status s = (*runs)->ReadBlock(b, &raw);
      if (!s.ok()) {
        if (s.code() != stele::StatusCode::kCorruption) std::abort();
        continue;
      }
      // What a query does with a block: split it into records and decode them.
      auto frame = stele::CachedFrame::Make(raw, b.count);
      if (!frame.ok()) continue;
      stele::EventView e;
      for (const uint32_t off : (*frame)->offsets()) {
        const char* rec = (*frame)->raw().data() + off;
        (void)stele::DecodeRecord(std::string_view(rec + 4, stele::GetU32(rec)), &e);
      }
    }
  }
  (void)(*runs)->BlocksOf("L0000001");
  return 0;
}
