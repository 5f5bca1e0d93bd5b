// Output form of a stored event (SPEC §1): one JSON object, fixed key order.
#include "stele/event.h"
#include "util/json_escape.h"
#include "util/time.h"

namespace stele {
namespace {

void AppendField(const char* key, std::string_view value, std::string* out) {
  if (value.empty()) return;
  out->append(key);
  AppendJsonString(value, out);
}

}  // namespace

void AppendEventJson(const EventView& e, std::string* out) {
  out->append("{\"seq\":");
  out->append(std::to_string(e.seq));
  out->append(",\"ts\":\"");
  AppendRfc3339(e.ts_ns, out);
  out->append("\",\"type\":");
  AppendJsonString(e.type, out);
  AppendField(",\"actor\":", e.actor, out);
  AppendField(",\"source\":", e.source, out);
  AppendField(",\"lead_id\":", e.lead_id, out);
  AppendField(",\"workflow_id\":", e.workflow_id, out);
  if (!e.data.empty()) {
    out->append(",\"data\":");
    out->append(e.data);
  }
  out->push_back('}');
}

}  // namespace stele
