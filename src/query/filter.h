// EventFilter: the per-event predicate of a Query, plus the cheap range
// tests used to skip whole segments and frames before decompressing them.
#pragma once

#include <cstdint>
#include <string>

#include "stele/event.h"
#include "stele/query.h"

namespace stele {

class EventFilter {
 public:
  explicit EventFilter(const Query& query);

  bool Matches(const EventView& e) const;
  // Could any event with seq in [first, last] and ts in [min_ts, max_ts] match?
  bool MayMatchRange(uint64_t first_seq, uint64_t last_seq, int64_t min_ts, int64_t max_ts) const;
  bool SeqInCursor(uint64_t seq) const {
    return query_.after == 0 || (query_.descending ? seq < query_.after : seq > query_.after);
  }

 private:
  Query query_;
  std::string type_prefix_;  // "lead." for "lead.*"
  bool type_is_prefix_ = false;
};

}  // namespace stele
