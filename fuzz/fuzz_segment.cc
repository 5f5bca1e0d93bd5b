// Fuzz target: the segment and frame reader over a corrupt file.  The input
// is a segment file's bytes; readers must return events or kCorruption /
// a torn tail, never crash, hang or read out of bounds.  Seeds are real
// sealed and active segments (fuzz/corpus/segment).  The same bytes also go
// through the field index parser (.fidx, versions 1-4), and lookups in
// whatever it accepts, and through the column frame decoder (codec 2),
// which inside a segment only sees bytes that passed the frame checksum.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "index/segment_index.h"
#include "storage/frame_columns.h"
#include "stele/stele.h"
#include "util/confined_env.h"

namespace {

const std::string& Dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string d = std::string(base ? base : "/tmp") + "/stele-fuzz-segment-" + std::to_string(::getpid());
    std::filesystem::create_directories(d + "/segments");
    return d;
  }();
  return dir;
}

void Drain(const stele::Query& q) {
  auto it = stele::QueryDirectory(Dir(), q);
  if (!it.ok()) return;
  stele::EventView e;
  size_t n = 0;
  while ((*it)->Next(&e) && ++n < 100'000) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stele::ConfinedEnv env(Dir());
  const std::string path = Dir() + "/segments/00000000000000000001.seg";
  (void)env.Remove(path);
  {
    auto f = env.OpenAppendable(path);
    if (!f.ok()) std::abort();
    if (!(*f)->Append(std::string_view(reinterpret_cast<const char*>(data), size)).ok()) std::abort();
  }
  stele::Query all;
  Drain(all);
  stele::Query lead;
  lead.lead_id = "L0000001";
  lead.descending = true;
  Drain(lead);
  if (size > 0) {
    std::string records;
    const uint32_t count = 1 + data[0] % 64;
    // The first byte's top bits pick the data layout (codec 2, 3 or 4).
    const auto layout = !(data[0] & 0x80) ? stele::DataColumns::kWhole
                        : data[0] & 0x40  ? stele::DataColumns::kByKeyPacked
                                          : stele::DataColumns::kByKey;
    const std::string_view columns(reinterpret_cast<const char*>(data) + 1, size - 1);
    (void)stele::DecodeFrameColumns(columns, count, 1, static_cast<uint32_t>(4 * size + 64 * count), &records, layout);
    std::string text;
    (void)stele::AppendPackedText(columns, count, &text);
  }
  auto idx = stele::SegmentIndex::Parse(std::string(reinterpret_cast<const char*>(data), size));
  if (idx.ok()) {
    for (int f = 0; f < stele::kIndexedFieldCount; ++f) {
      const auto field = static_cast<stele::IndexedField>(f);
      (void)idx->Frames(field, "L0000001");
      (void)idx->FramesWithPrefix(field, "lead.");
      (void)idx->FrameCounts(field, "", true);
      (void)idx->ForEachValue(field, [](std::string_view, uint64_t) {});
    }
  }
  return 0;
}
