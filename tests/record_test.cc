#include <gtest/gtest.h>

#include "event/record.h"

#include "util/json_escape.h"

namespace stele {
namespace {

// The escape scan reads 16 bytes at a time: a byte that must be escaped is
// found at every position, in every string length around those blocks, and
// bytes at or above 0x20 (UTF-8 included) are copied as they are.
TEST(JsonEscape, EveryEscapedByteIsFoundAtEveryPosition) {
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (const char c : {'"', '\\', '\n', '\x01', '\x1f'}) {
        std::string s(len, 'a');
        s[pos] = c;
        if (pos + 2 < len) s[pos + 1] = '\xc3', s[pos + 2] = '\xa9';  // é
        std::string got;
        AppendJsonString(s, &got);
        EXPECT_EQ(got, JsonString(s)) << "len " << len << " pos " << pos << " byte " << int(c);
      }
    }
  }
  std::string plain;
  AppendJsonString(std::string(100, ' ') + "~\x7f", &plain);
  EXPECT_EQ(plain, "\"" + std::string(100, ' ') + "~\x7f\"");
}

TEST(Record, RoundTripsEveryFieldCombination) {
  for (unsigned mask = 0; mask < 16; ++mask) {
    EventView e;
    e.seq = 123456789012345ull;
    e.ts_ns = 1'700'000'000'123'456'789;
    e.type = "lead.created";
    if (mask & 1) e.actor = "alice";
    if (mask & 2) e.source = "crm";
    if (mask & 4) e.lead_id = "L0001";
    if (mask & 8) e.workflow_id = "wf-9";
    e.data = mask % 2 ? "{\"a\":1}" : "";
    std::string rec;
    AppendRecord(e, &rec);
    ASSERT_EQ(rec.size(), RecordSize(e));
    EventView d;
    ASSERT_TRUE(DecodeRecord(rec, &d));
    EXPECT_EQ(d.seq, e.seq);
    EXPECT_EQ(d.ts_ns, e.ts_ns);
    EXPECT_EQ(d.type, e.type);
    EXPECT_EQ(d.actor, e.actor);
    EXPECT_EQ(d.source, e.source);
    EXPECT_EQ(d.lead_id, e.lead_id);
    EXPECT_EQ(d.workflow_id, e.workflow_id);
    EXPECT_EQ(d.data, e.data);
  }
}

TEST(Record, LayoutIsTheDocumentedOne) {
  EventView e;
  e.seq = 1;
  e.ts_ns = 2;
  e.type = "a";
  e.lead_id = "L";
  e.data = "{}";
  std::string rec;
  AppendRecord(e, &rec);
  const std::string expected("\x01\0\0\0\0\0\0\0"   // seq
                             "\x02\0\0\0\0\0\0\0"   // ts
                             "\x04"                 // mask: lead_id
                             "\x01" "a"             // type
                             "\x01\0" "L"           // lead_id
                             "\x02\0\0\0" "{}",     // data
                             8 + 8 + 1 + 2 + 3 + 6);
  EXPECT_EQ(rec, expected);
}

TEST(Record, RejectsTruncatedOrPaddedBytes) {
  EventView e;
  e.seq = 7;
  e.type = "x";
  e.actor = "bob";
  e.data = "{\"k\":true}";
  std::string rec;
  AppendRecord(e, &rec);
  EventView d;
  for (size_t n = 0; n < rec.size(); ++n) EXPECT_FALSE(DecodeRecord(std::string_view(rec.data(), n), &d)) << n;
  EXPECT_FALSE(DecodeRecord(rec + "x", &d));
}

}  // namespace
}  // namespace stele
