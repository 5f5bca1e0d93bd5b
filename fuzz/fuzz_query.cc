// Fuzz target: the query parameter parser and the filter compiler (the
// query string of GET /v1/events, the flags of `stele query`), then the
// filter run over a fixed event.  Never crashes; a regex never takes more
// than linear time (RE2), so libFuzzer's timeout catches any hang.
#include <cstdint>
#include <string>

#include "query/filter.h"
#include "query/query_params.h"
#include "server/http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string qs(reinterpret_cast<const char*>(data), size);
  stele::QueryParams params;
  std::string bad;
  if (!stele::ParseQueryString(qs, &params, &bad)) return 0;
  auto q = stele::QueryFromParams(params);
  if (!q.ok()) return 0;
  auto filter = stele::EventFilter::Create(*q);
  if (!filter.ok()) return 0;
  stele::EventView e;
  e.seq = 42;
  e.ts_ns = 1'700'000'000'000'000'000;
  e.type = "lead.created";
  e.lead_id = "L0000042";
  e.actor = "user:ana";
  e.data = "{\"status\":\"failed\",\"n\":[1,2,{\"x\":\"é\"}],\"a/b\":{\"~c\":true}}";
  (void)(*filter)->Matches(e);
  (void)(*filter)->MayMatchRange(1, 100, 0, INT64_MAX);
  return 0;
}
