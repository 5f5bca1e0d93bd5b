// Fuzz target: what `stele import` does with outside bytes.  The first byte
// picks a mapping format; the rest is read as a file (plain, or gzip or
// zstd when its magic number says so) and each line mapped.  Properties:
// never crashes; a damaged stream is an error, never a crash or a hang; a
// mapped record is kept whole as the event's data, and the event is one
// line of JSON the validator can judge.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "event/import_mapping.h"
#include "event/validator.h"
#include "util/compressed_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using stele::ImportMapping;
  if (size < 1) return 0;
  static const ImportMapping kMappings[] = {
      *ImportMapping::Create(ImportMapping::Format::kAuto, {}),
      *ImportMapping::Create(ImportMapping::Format::kEvents, {}),
      *ImportMapping::Create(ImportMapping::Format::kK8s, {}),
      *ImportMapping::Create(ImportMapping::Format::kCloudTrail, {}),
      *ImportMapping::Create(ImportMapping::Format::kJson, {.type = "x", .type_from = "/t", .actor_from = "/a/0",
                                                           .lead_from = "/l", .ts_from = "/ts"}),
  };
  const ImportMapping& mapping = kMappings[data[0] % 5];
  static const std::string path = "/tmp/fuzz_import." + std::to_string(::getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data + 1, 1, size - 1, f);
  std::fclose(f);
  auto reader = stele::CompressedReader::Open(path);
  if (!reader.ok()) std::abort();
  std::string content, buf(4096, '\0');
  while (true) {
    auto n = (*reader)->Read(buf.data(), buf.size());
    if (!n.ok()) return 0;  // damaged or truncated: reported, fine
    if (*n == 0) break;
    content.append(buf.data(), *n);
    if (content.size() > (1 << 20)) return 0;  // a zip bomb is not this target's question
  }
  static stele::EventValidator validator;
  stele::ValidationLimits limits;
  std::string event;
  for (size_t pos = 0; pos <= content.size();) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) nl = content.size();
    const std::string_view line(content.data() + pos, nl - pos);
    pos = nl + 1;
    if (!mapping.Map(line, &event).ok()) continue;
    if (event.find('\n') != std::string::npos) std::abort();
    stele::EventView e;
    if (!validator.Validate(event, 1'700'000'000'000'000'000, limits, &e).ok()) continue;
    // The data is the record's own bytes (mapped formats: the record whole).
    if (line.find(e.data) == std::string_view::npos) std::abort();
  }
  return 0;
}
