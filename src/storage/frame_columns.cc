#include "storage/frame_columns.h"

#include <array>
#include <cstring>
#include <vector>

#include "event/record.h"
#include "util/coding.h"

namespace stele {
namespace {

constexpr int kFieldColumns = 4;  // actor, source, lead_id, workflow_id: mask bits 0..3

uint64_t ZigZag(uint64_t delta) {
  const auto d = static_cast<int64_t>(delta);
  return (static_cast<uint64_t>(d) << 1) ^ static_cast<uint64_t>(d >> 63);
}
uint64_t UnZigZag(uint64_t z) { return (z >> 1) ^ (~(z & 1) + 1); }

// The optional fields in mask bit order (docs/format.md, canonical record).
std::array<std::string_view, kFieldColumns> FieldsOf(const EventView& e) {
  return {e.actor, e.source, e.lead_id, e.workflow_id};
}

uint8_t MaskOf(const EventView& e) {
  uint8_t mask = 0;
  const auto fields = FieldsOf(e);
  for (int f = 0; f < kFieldColumns; ++f) {
    if (!fields[f].empty()) mask |= static_cast<uint8_t>(1u << f);
  }
  return mask;
}

}  // namespace

bool EncodeFrameColumns(std::string_view records, uint32_t count, uint64_t first_seq, std::string* out) {
  thread_local std::vector<EventView> events;
  events.resize(count);
  size_t pos = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (records.size() - pos < 4) return false;
    const uint32_t len = GetU32(records.data() + pos);
    if (records.size() - pos - 4 < len) return false;
    // DecodeRecord accepts exactly the canonical layout, so the record the
    // decoder rebuilds from these parts is byte for byte this one.
    if (!DecodeRecord(records.substr(pos + 4, len), &events[i]) || events[i].seq != first_seq + i) return false;
    pos += 4 + len;
  }
  if (pos != records.size()) return false;
  uint64_t prev = 0;
  for (const EventView& e : events) {
    PutVarint64(out, ZigZag(static_cast<uint64_t>(e.ts_ns) - prev));
    prev = static_cast<uint64_t>(e.ts_ns);
  }
  for (const EventView& e : events) out->push_back(static_cast<char>(MaskOf(e)));
  for (const EventView& e : events) {
    out->push_back(static_cast<char>(e.type.size()));
    out->append(e.type);
  }
  for (int f = 0; f < kFieldColumns; ++f) {
    for (const EventView& e : events) {
      const std::string_view v = FieldsOf(e)[f];
      if (v.empty()) continue;
      PutVarint64(out, v.size());
      out->append(v);
    }
  }
  for (const EventView& e : events) {
    PutVarint64(out, e.data.size());
    out->append(e.data);
  }
  return true;
}

Status DecodeFrameColumns(std::string_view columns, uint32_t count, uint64_t first_seq, uint32_t raw_len,
                          std::string* records) {
  auto bad = [](const char* what) { return Status::Corruption(std::string("frame columns: ") + what); };
  const char* p = columns.data();
  const char* end = p + columns.size();
  // Column starts, found by walking each column once.
  thread_local std::vector<uint64_t> ts;
  ts.resize(count);
  uint64_t prev = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t z;
    if (!GetVarint64(p, end, &z)) return bad("truncated timestamps");
    prev += UnZigZag(z);
    ts[i] = prev;
  }
  if (static_cast<size_t>(end - p) < count) return bad("truncated masks");
  const char* masks = p;
  p += count;
  const char* types = p;
  for (uint32_t i = 0; i < count; ++i) {
    if (p >= end) return bad("truncated types");
    const auto len = static_cast<uint8_t>(*p++);
    if (end - p < len) return bad("truncated types");
    p += len;
  }
  const char* field_cols[kFieldColumns];
  for (int f = 0; f < kFieldColumns; ++f) {
    field_cols[f] = p;
    for (uint32_t i = 0; i < count; ++i) {
      if (static_cast<uint8_t>(masks[i]) & 0xf0) return bad("unknown mask bits");
      if (!(static_cast<uint8_t>(masks[i]) & (1u << f))) continue;
      uint64_t len;
      if (!GetVarint64(p, end, &len) || len > UINT16_MAX || static_cast<uint64_t>(end - p) < len) {
        return bad("truncated field");
      }
      p += len;
    }
  }
  const char* data = p;
  // Rebuild the records.
  records->resize(raw_len);
  char* out = records->data();
  char* const out_end = out + raw_len;
  const char* t = types;
  const char* fc[kFieldColumns];
  std::memcpy(fc, field_cols, sizeof fc);
  const char* d = data;
  for (uint32_t i = 0; i < count; ++i) {
    const auto mask = static_cast<uint8_t>(masks[i]);
    const auto type_len = static_cast<uint8_t>(*t);
    std::string_view fields[kFieldColumns];
    size_t len = kRecordFixedBytes + type_len;
    for (int f = 0; f < kFieldColumns; ++f) {
      if (!(mask & (1u << f))) continue;
      uint64_t n = 0;
      if (!GetVarint64(fc[f], end, &n)) return bad("truncated field");  // the walk above checked it
      fields[f] = std::string_view(fc[f], n);
      fc[f] += n;
      len += 2 + n;
    }
    uint64_t data_len;
    if (!GetVarint64(d, end, &data_len) || static_cast<uint64_t>(end - d) < data_len) return bad("truncated data");
    len += data_len;
    if (len > UINT32_MAX || static_cast<size_t>(out_end - out) < 4 + len) return bad("records exceed the raw length");
    PutU32(out, static_cast<uint32_t>(len));
    PutU64(out + 4, first_seq + i);
    PutU64(out + 12, ts[i]);
    out[20] = static_cast<char>(mask);
    out[21] = static_cast<char>(type_len);
    std::memcpy(out + 22, t + 1, type_len);
    t += 1 + type_len;
    char* q = out + 22 + type_len;
    for (int f = 0; f < kFieldColumns; ++f) {
      if (!(mask & (1u << f))) continue;
      PutU16(q, static_cast<uint16_t>(fields[f].size()));
      std::memcpy(q + 2, fields[f].data(), fields[f].size());
      q += 2 + fields[f].size();
    }
    PutU32(q, static_cast<uint32_t>(data_len));
    std::memcpy(q + 4, d, data_len);
    d += data_len;
    out = q + 4 + data_len;
  }
  if (out != out_end) return bad("records shorter than the raw length");
  if (d != end) return bad("bytes after the data column");
  return Status::Ok();
}

}  // namespace stele
