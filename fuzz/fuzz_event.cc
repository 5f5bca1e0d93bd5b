// Fuzz target: the event parser and validator (SPEC §1), fed any bytes.
// Properties: never crashes; an accepted event survives the canonical
// record round trip exactly, and its output JSON is valid UTF-8.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "event/record.h"
#include "event/validator.h"
#include "util/json_escape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static stele::EventValidator validator;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  stele::ValidationLimits limits;
  limits.max_event_bytes = 64 << 10;
  stele::EventView e;
  if (!validator.Validate(json, 1'700'000'000'000'000'000, limits, &e).ok()) return 0;
  std::string record;
  stele::AppendRecord(e, &record);
  stele::EventView back;
  if (!stele::DecodeRecord(record, &back)) std::abort();
  if (back.type != e.type || back.data != e.data || back.lead_id != e.lead_id || back.ts_ns != e.ts_ns ||
      back.actor != e.actor || back.source != e.source || back.workflow_id != e.workflow_id) {
    std::abort();
  }
  std::string out;
  stele::AppendEventJson(back, &out);
  if (stele::FirstInvalidUtf8(out) != out.size()) std::abort();
  return 0;
}
