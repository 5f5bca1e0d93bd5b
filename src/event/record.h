// The canonical record: the exact bytes stored for one event and hashed into
// its Merkle leaf.  Layout (docs/format.md "Canonical record"), little-endian:
//
//   u64 seq | i64 ts_ns | u8 field_mask | u8 type_len | type
//   | for each bit set in field_mask, in order actor(1) source(2) lead_id(4)
//     workflow_id(8): u16 len | bytes
//   | u32 data_len | data (raw JSON object text; 0 = no data)
//
// The encoding is deterministic: one event has exactly one record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "stele/event.h"

namespace stele {

inline constexpr size_t kRecordSeqOffset = 0;
inline constexpr size_t kRecordTsOffset = 8;
inline constexpr size_t kRecordFixedBytes = 8 + 8 + 1 + 1 + 4;  // without strings

enum RecordFieldBit : uint8_t {
  kFieldActor = 1,
  kFieldSource = 2,
  kFieldLeadId = 4,
  kFieldWorkflowId = 8,
};

// Size of the record for event (seq and ts included).
size_t RecordSize(const EventView& event);
// Appends the canonical record of event (using event.seq) to *out.
void AppendRecord(const EventView& event, std::string* out);
// Appends u32 length | canonical record: how records sit in a frame payload.
void AppendFramedRecord(const EventView& event, std::string* out);
// Parses a canonical record; false if the bytes are not exactly one record.
bool DecodeRecord(std::string_view record, EventView* out);

}  // namespace stele
