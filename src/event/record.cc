#include "event/record.h"

#include "util/coding.h"

namespace stele {
namespace {

struct OptionalField {
  RecordFieldBit bit;
  std::string_view EventView::*member;
};
constexpr OptionalField kOptionalFields[] = {
    {kFieldActor, &EventView::actor},
    {kFieldSource, &EventView::source},
    {kFieldLeadId, &EventView::lead_id},
    {kFieldWorkflowId, &EventView::workflow_id},
};

}  // namespace

size_t RecordSize(const EventView& e) {
  size_t n = kRecordFixedBytes + e.type.size() + e.data.size();
  for (const auto& f : kOptionalFields) {
    const std::string_view& v = e.*f.member;
    if (!v.empty()) n += 2 + v.size();
  }
  return n;
}

void AppendRecord(const EventView& e, std::string* out) {
  uint8_t mask = 0;
  for (const auto& f : kOptionalFields) {
    if (!(e.*f.member).empty()) mask |= f.bit;
  }
  const size_t start = out->size();
  out->resize(start + RecordSize(e));
  char* p = out->data() + start;
  PutU64(p, e.seq);
  PutU64(p + 8, static_cast<uint64_t>(e.ts_ns));
  p[16] = static_cast<char>(mask);
  p[17] = static_cast<char>(e.type.size());
  p += 18;
  std::memcpy(p, e.type.data(), e.type.size());
  p += e.type.size();
  for (const auto& f : kOptionalFields) {
    const std::string_view& v = e.*f.member;
    if (v.empty()) continue;
    PutU16(p, static_cast<uint16_t>(v.size()));
    std::memcpy(p + 2, v.data(), v.size());
    p += 2 + v.size();
  }
  PutU32(p, static_cast<uint32_t>(e.data.size()));
  if (!e.data.empty()) std::memcpy(p + 4, e.data.data(), e.data.size());
}

void AppendFramedRecord(const EventView& e, std::string* out) {
  const size_t at = out->size();
  out->resize(at + 4);
  AppendRecord(e, out);
  PutU32(out->data() + at, static_cast<uint32_t>(out->size() - at - 4));
}

bool DecodeRecord(std::string_view r, EventView* e) {
  if (r.size() < kRecordFixedBytes) return false;
  const char* p = r.data();
  const char* end = p + r.size();
  e->seq = GetU64(p);
  e->ts_ns = static_cast<int64_t>(GetU64(p + 8));
  const uint8_t mask = static_cast<uint8_t>(p[16]);
  const size_t type_len = static_cast<uint8_t>(p[17]);
  if (mask > 15 || type_len == 0) return false;
  p += 18;
  if (static_cast<size_t>(end - p) < type_len) return false;
  e->type = std::string_view(p, type_len);
  p += type_len;
  for (const auto& f : kOptionalFields) {
    std::string_view& v = e->*f.member;
    v = {};
    if (!(mask & f.bit)) continue;
    if (end - p < 2) return false;
    const size_t n = GetU16(p);
    p += 2;
    if (n == 0 || static_cast<size_t>(end - p) < n) return false;
    v = std::string_view(p, n);
    p += n;
  }
  if (end - p < 4) return false;
  const size_t data_len = GetU32(p);
  p += 4;
  if (static_cast<size_t>(end - p) != data_len) return false;
  e->data = std::string_view(p, data_len);
  return true;
}

}  // namespace stele
