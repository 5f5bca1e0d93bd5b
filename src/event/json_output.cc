// Output form of a stored event (SPEC §1): one JSON object, fixed key order.
#include "stele/event.h"
#include "util/time.h"

namespace stele {
namespace {

// Indexed strings hold no control characters (validated on the way in), so
// only the quote and the backslash need escaping.
void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      out->append(s.data() + start, i - start);
      if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(c);
      } else {  // defensive: never stored, but never emit invalid JSON
        static const char kHex[] = "0123456789abcdef";
        out->append("\\u00");
        out->push_back(kHex[(c >> 4) & 0xf]);
        out->push_back(kHex[c & 0xf]);
      }
      start = i + 1;
    }
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

void AppendField(const char* key, std::string_view value, std::string* out) {
  if (value.empty()) return;
  out->append(key);
  AppendQuoted(value, out);
}

}  // namespace

void AppendEventJson(const EventView& e, std::string* out) {
  out->append("{\"seq\":");
  out->append(std::to_string(e.seq));
  out->append(",\"ts\":\"");
  AppendRfc3339(e.ts_ns, out);
  out->append("\",\"type\":");
  AppendQuoted(e.type, out);
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
