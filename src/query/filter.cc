#include "query/filter.h"

namespace stele {

EventFilter::EventFilter(const Query& query) : query_(query) {
  if (query_.type && query_.type->ends_with(".*")) {
    type_is_prefix_ = true;
    type_prefix_ = query_.type->substr(0, query_.type->size() - 1);  // keep the dot
  } else if (query_.type && *query_.type == "*") {
    query_.type.reset();
  }
}

bool EventFilter::MayMatchRange(uint64_t first_seq, uint64_t last_seq, int64_t min_ts, int64_t max_ts) const {
  if (query_.after != 0) {
    if (query_.descending ? first_seq >= query_.after : last_seq <= query_.after) return false;
  }
  if (query_.since_ns && max_ts < *query_.since_ns) return false;
  if (query_.until_ns && min_ts >= *query_.until_ns) return false;
  return true;
}

bool EventFilter::Matches(const EventView& e) const {
  if (!SeqInCursor(e.seq)) return false;
  if (query_.since_ns && e.ts_ns < *query_.since_ns) return false;
  if (query_.until_ns && e.ts_ns >= *query_.until_ns) return false;
  if (query_.type) {
    if (type_is_prefix_ ? !e.type.starts_with(type_prefix_) : e.type != *query_.type) return false;
  }
  if (query_.actor && e.actor != *query_.actor) return false;
  if (query_.source && e.source != *query_.source) return false;
  if (query_.lead_id && e.lead_id != *query_.lead_id) return false;
  if (query_.workflow_id && e.workflow_id != *query_.workflow_id) return false;
  return true;
}

}  // namespace stele
