// Column-wise frames (codecs 2 and 3): exact round trips, refusal of what
// they cannot represent, damage reported as corruption, and segments written
// in the row codec (1) and codec 2 still read beside them.
#include "storage/frame_columns.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <filesystem>
#include <functional>
#include <random>
#include <set>

#include "event/record.h"
#include "event/validator.h"
#include "query/filter.h"
#include "storage/format.h"
#include "storage/segment_reader.h"
#include "storage/segment_writer.h"
#include "test_util.h"
#include "util/coding.h"
#include "workload/generator.h"

namespace stele {
namespace {

// Framed records (u32 len | record)* of n reference events from first_seq.
std::string ReferenceRecords(uint64_t first_seq, size_t n, uint64_t seed = 42) {
  WorkloadGenerator::Config config;
  config.seed = seed;
  WorkloadGenerator gen(config);
  EventValidator v;
  ValidationLimits limits;
  std::string raw;
  for (size_t i = 0; i < n; ++i) {
    const std::string line = gen.Event(i);
    EventView e;
    EXPECT_TRUE(v.Validate(line, 0x7fffffffffffffff / 2, limits, &e).ok());
    e.seq = first_seq + i;
    AppendFramedRecord(e, &raw);
  }
  return raw;
}

// Framed records of n events from seq 5, record i's data `data_of(i)`,
// except every `no_data_every`-th (from the fourth), which has none.
std::string RecordsOf(uint32_t n, uint32_t no_data_every, const std::function<std::string(uint32_t)>& data_of) {
  std::string raw;
  for (uint32_t i = 0; i < n; ++i) {
    const std::string data = data_of(i);
    EventView e;
    e.seq = 5 + i;
    e.ts_ns = 1'700'000'000'000'000'000 + i;
    e.type = "t";
    if (i % no_data_every != 3) e.data = data;
    AppendFramedRecord(e, &raw);
  }
  return raw;
}

constexpr DataColumns kLayouts[] = {DataColumns::kWhole, DataColumns::kByKey, DataColumns::kByKeyPacked};

std::string RoundTrip(const std::string& raw, uint32_t count, uint64_t first_seq, DataColumns layout) {
  std::string columns;
  EXPECT_TRUE(EncodeFrameColumns(raw, count, first_seq, &columns, layout));
  std::string back;
  const Status s = DecodeFrameColumns(columns, count, first_seq, static_cast<uint32_t>(raw.size()), &back, layout);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return back;
}

// The framed records of `raw` whose field (a RecordSelector column) is
// `value`, found by decoding every record: what a selective decode must give.
std::string Selected(const std::string& raw, int column, std::string_view value, uint32_t* n) {
  std::string out;
  *n = 0;
  for (size_t pos = 0; pos < raw.size();) {
    const uint32_t len = GetU32(raw.data() + pos);
    EventView e;
    EXPECT_TRUE(DecodeRecord(std::string_view(raw).substr(pos + 4, len), &e));
    const std::string_view fields[] = {e.actor, e.source, e.lead_id, e.workflow_id};
    if ((column == RecordSelector::kType ? e.type : fields[column]) == value) {
      out.append(raw, pos, 4 + len);
      ++*n;
    }
    pos += 4 + len;
  }
  return out;
}

TEST(FrameColumns, ReferenceFramesRoundTripExactly) {
  for (const DataColumns layout : kLayouts) {
    for (const size_t n : {size_t{1}, size_t{2}, size_t{999}}) {
      const std::string raw = ReferenceRecords(1000, n);
      EXPECT_EQ(RoundTrip(raw, static_cast<uint32_t>(n), 1000, layout), raw) << n << " records";
    }
  }
}

// Codec 3 cuts each object at its top-level values; the cut must be exact
// for any text: whitespace, nested values, escaped quotes in keys and
// strings, keys that come and go, the same key in another position, empty
// objects, and more shapes than a frame keeps (then stored whole).
TEST(FrameColumns, DataObjectsOfEveryShapeRoundTripExactly) {
  const std::vector<std::string> shapes = {
      R"({"step":"a","status":"ok","attempt":1})",
      R"({"status":"ok","step":"b"})",
      R"({ "step" : "c" , "n": -1.5e3 })",
      "{\n  \"k\": [1, {\"x\": \"}\"}],\n  \"q\": null\n}",
      R"({"we\"ird":"va\"l\\","":true,"a":{"b":{"c":[[],{}]}}})",
      R"({})",
      R"({"only":"key"})",
      R"({"step":"d","status":"failed","attempt":3,"extra":false})",
      R"({"long":"0123456789abcde\"0123456789abcdef\\\\","k\\\"ey":"0123456789abcdef0123456789abcdef\\"})",
  };
  for (const bool many_shapes : {false, true}) {
    const uint32_t n = 400;
    const std::string raw = RecordsOf(n, 17, [&](uint32_t i) {
      return many_shapes ? R"({"k)" + std::to_string(i) + R"(":)" + std::to_string(i) + "}" : shapes[i % shapes.size()];
    });
    EXPECT_EQ(RoundTrip(raw, n, 5, DataColumns::kByKey), raw) << many_shapes;
    EXPECT_EQ(RoundTrip(raw, n, 5, DataColumns::kByKeyPacked), raw) << many_shapes;
  }
}

// On the reference workload codec 3 compresses better than codec 2.
TEST(FrameColumns, DataColumnsByKeyCompressSmaller) {
  const std::string raw = ReferenceRecords(1, 1000);
  size_t compressed[3];
  for (const DataColumns layout : kLayouts) {
    std::string columns;
    ASSERT_TRUE(EncodeFrameColumns(raw, 1000, 1, &columns, layout));
    std::string z(ZSTD_compressBound(columns.size()), '\0');
    compressed[static_cast<int>(layout)] = ZSTD_compress(z.data(), z.size(), columns.data(), columns.size(), 1);
  }
  EXPECT_LT(compressed[1] * 100, compressed[0] * 95) << compressed[1] << " vs " << compressed[0];
}

// Codec 4 packs a column only when every value has the first one's length
// and bytes except at its hex digits, which are all digits of one case, at
// least 16 of them, in at least 16 values; what it packs reads back
// exactly, and AppendPackedText spells out exactly the packed values.
TEST(FrameColumns, IdColumnsArePackedOnlyWhenEveryValueFitsTheTemplate) {
  std::mt19937_64 rng(11);
  auto hex = [&](size_t n, const char* digits) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(digits[rng() % 16]);
    return s;
  };
  const char* lower = "0123456789abcdef";
  const char* upper = "0123456789ABCDEF";
  constexpr uint32_t n = 40;
  std::vector<std::string> storage;
  std::vector<std::string> want_packed;  // the values AppendPackedText must list
  std::string raw;
  for (uint32_t i = 0; i < n; ++i) {
    const std::string rid = "\"run-" + hex(16, lower) + "\"";
    const std::string uuid = "\"" + hex(8, upper) + "-" + hex(4, upper) + "-4" + hex(3, upper) + "-" + hex(4, upper) +
                             "-" + hex(12, upper) + "\"";
    const std::string odd = "\"" + hex(17, lower) + "\"";           // an odd count of digits
    const std::string number = std::to_string(10000000000000000000ull + rng() % 1000000);  // 20 digits, unquoted
    const std::string mixed = "\"" + hex(16, i == 7 ? upper : lower) + "x\"";  // one value in capitals
    const std::string short_id = "\"" + hex(8, lower) + "\"";       // too few digits
    const std::string varlen = "\"" + hex(16 + i % 2, lower) + "\"";  // two lengths
    const std::string prefix = std::string(i == 9 ? "\"y-" : "\"x-") + hex(16, lower) + "\"";  // one fixed byte differs
    const std::string sql = "\"" + std::string(20, 'q') + "\"";      // no digits at all
    storage.push_back("{\"rid\":" + rid + ",\"uuid\":" + uuid + ",\"odd\":" + odd + ",\"n\":" + number +
                      ",\"mixed\":" + mixed + ",\"short\":" + short_id + ",\"varlen\":" + varlen +
                      ",\"prefix\":" + prefix + ",\"q\":" + sql + "}");
    for (const std::string& v : {rid, uuid, odd, number}) want_packed.push_back(v);
    EventView e;
    e.seq = 100 + i;
    e.ts_ns = 1'700'000'000'000'000'000 + i;
    e.type = "id.test";
    e.data = storage.back();
    AppendFramedRecord(e, &raw);
  }
  std::string columns;
  size_t tail = 0;
  ASSERT_TRUE(EncodeFrameColumns(raw, n, 100, &columns, DataColumns::kByKeyPacked, &tail));
  // 4 packed columns: 8 + 16 + 9 + 10 bytes a record.
  EXPECT_EQ(tail, n * (8 + 16 + 9 + 10));
  std::string back;
  ASSERT_TRUE(DecodeFrameColumns(columns, n, 100, static_cast<uint32_t>(raw.size()), &back, DataColumns::kByKeyPacked).ok());
  EXPECT_EQ(back, raw);
  std::string text;
  ASSERT_TRUE(AppendPackedText(columns, n, &text).ok());
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size();) {
    const size_t nl = text.find('\n', at);
    ASSERT_NE(nl, std::string::npos);
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  std::sort(lines.begin(), lines.end());
  std::sort(want_packed.begin(), want_packed.end());
  EXPECT_EQ(lines, want_packed);
  // Fewer than 16 values: nothing is packed.
  const size_t few_end = [&] {
    size_t pos = 0;
    for (int i = 0; i < 15; ++i) pos += 4 + GetU32(raw.data() + pos);
    return pos;
  }();
  columns.clear();
  ASSERT_TRUE(EncodeFrameColumns(raw.substr(0, few_end), 15, 100, &columns, DataColumns::kByKeyPacked, &tail));
  EXPECT_EQ(tail, 0u);
  // Codec 3 never packs, and its text has none.
  columns.clear();
  ASSERT_TRUE(EncodeFrameColumns(raw, n, 100, &columns, DataColumns::kByKey, &tail));
  EXPECT_EQ(tail, 0u);
}

// Every combination of optional fields, empty and absent data, the longest
// values, unicode, timestamps that go backwards and the extremes of ts.
TEST(FrameColumns, EveryFieldShapeRoundTripsExactly) {
  std::mt19937_64 rng(3);
  std::vector<std::string> storage;
  std::string raw;
  const uint32_t n = 64;
  const int64_t ts_values[] = {0, 1, INT64_MAX, 1'700'000'000'000'000'000, 5, 1'700'000'000'000'000'000};
  for (uint32_t i = 0; i < n; ++i) {
    EventView e;
    e.seq = 77 + i;
    e.ts_ns = ts_values[i % std::size(ts_values)] - static_cast<int64_t>(i % 3);
    if (e.ts_ns < 0) e.ts_ns = 0;
    storage.push_back(std::string(1 + rng() % 64, 'a'));
    e.type = storage.back();
    const std::string value = i % 5 == 0 ? std::string(256, 'x') : "v\xc3\xa9-" + std::to_string(rng());
    storage.push_back(value);
    if (i & 1) e.actor = storage.back();
    if (i & 2) e.source = storage.back();
    if (i & 4) e.lead_id = storage.back();
    if (i & 8) e.workflow_id = storage.back();
    if (i & 16) {
      storage.push_back(i % 3 == 0 ? "{}" : R"({"k":[1,2,{"x":"\u0000"}],"n":1e300})");
      e.data = storage.back();
    }
    AppendFramedRecord(e, &raw);
  }
  for (const DataColumns layout : kLayouts) EXPECT_EQ(RoundTrip(raw, n, 77, layout), raw);
}

// A selective decode rebuilds exactly the records of the whole decode that
// hold the value, in order, for every column and layout, and none for a
// value no record holds.
TEST(FrameColumns, SelectedRecordsAreTheWholeDecodeFiltered) {
  const uint32_t n = 999;
  const std::string raw = ReferenceRecords(40, n);
  EventView first;
  ASSERT_TRUE(DecodeRecord(std::string_view(raw).substr(4, GetU32(raw.data())), &first));
  const std::vector<std::pair<int, std::string>> selections = {
      {RecordSelector::kType, std::string(first.type)}, {0, std::string(first.actor)},
      {1, std::string(first.source)},                   {2, std::string(first.lead_id)},
      {3, std::string(first.workflow_id)},              {2, "L-nobody"},
      {RecordSelector::kType, ""},  // no record has an empty type
  };
  for (const DataColumns layout : kLayouts) {
    std::string columns;
    ASSERT_TRUE(EncodeFrameColumns(raw, n, 40, &columns, layout));
    for (const auto& [column, value] : selections) {
      uint32_t want_n = 0;
      const std::string want = Selected(raw, column, value, &want_n);
      const RecordSelector select{column, value};
      std::string got = "stale";
      uint32_t kept = 12345;
      const Status s =
          DecodeFrameColumns(columns, n, 40, static_cast<uint32_t>(raw.size()), &got, layout, &select, &kept);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(kept, want_n) << column << " = " << value;
      EXPECT_EQ(got, want) << column << " = " << value;
      if (value == first.lead_id) {
        EXPECT_GT(kept, 1u) << "the test picks a value more than one record holds";
      }
    }
  }
}

TEST(FrameColumns, DataValuesDifferOnlyWhenTheirTextSaysSo) {
  EXPECT_TRUE(DataValueMayEqual(R"("failed")", "failed"));
  EXPECT_FALSE(DataValueMayEqual(R"("ok")", "failed"));
  EXPECT_FALSE(DataValueMayEqual(R"("failed ")", "failed"));
  EXPECT_TRUE(DataValueMayEqual(R"("fa\u0069led")", "failed")) << "escaped: the filter unescapes it";
  EXPECT_TRUE(DataValueMayEqual(R"("fa\u0069led")", "ok")) << "escaped: only unescaping tells";
  EXPECT_TRUE(DataValueMayEqual(R"("a\"b")", "x")) << "escaped";
  EXPECT_TRUE(DataValueMayEqual("1.5e3", "1.5e3"));
  EXPECT_FALSE(DataValueMayEqual("1.5e3", "1500")) << "a number is compared as its text";
  EXPECT_TRUE(DataValueMayEqual("null ", "null"));
  EXPECT_FALSE(DataValueMayEqual("true", "false"));
  EXPECT_TRUE(DataValueMayEqual(R"({"a":1})", "anything")) << "objects and arrays are the filter's to compare";
  EXPECT_TRUE(DataValueMayEqual("[1, 2]", "[1,2]"));
  EXPECT_TRUE(DataValueMayEqual("", "x"));
}

// Selecting on top-level data keys (one --where, or two ANDed) keeps every
// record whose data the real filter (EventFilter, --where) matches, over
// objects of every shape: keys
// spelled with escapes, given twice, nested values, data stored whole, no
// data at all.  On plain data it keeps exactly the matches.
TEST(FrameColumns, SelectionOnADataKeyKeepsEveryRecordTheFilterMatches) {
  const std::vector<std::string> shapes = {
      R"({"step":"a","status":"failed","attempt":1})",
      R"({"status":"ok","step":"b"})",
      R"({ "status" : "failed" , "n": -1.5e3 })",
      R"({"st\u0061tus":"failed","x":1})",
      R"({"status":"fa\u0069led"})",
      R"({"status":"ok","status":"failed"})",
      R"({"status":{"nested":"failed"},"k":[1,{"status":"failed"}]})",
      R"({"a/b":"failed","a~b":1,"n":-1.5e3})",
      R"({})",
      R"({"status":null,"n":1500})",
  };
  const std::vector<std::pair<std::string, std::string>> wheres = {
      {"/status", "failed"}, {"/status", "ok"}, {"/n", "-1.5e3"}, {"/n", "1500"}, {"/a~1b", "failed"},
      {"/a~0b", "1"},        {"/missing", "x"}, {"/status", "null"}, {"/", "x"},
  };
  for (const bool many_shapes : {false, true}) {  // more shapes than a frame keeps: data stored whole
    const uint32_t n = 300;
    const std::string raw = RecordsOf(n, 13, [&](uint32_t i) {
      return many_shapes ? R"({"k)" + std::to_string(i) + R"(":1,"status":"failed"})" : shapes[i % shapes.size()];
    });
    for (const DataColumns layout : {DataColumns::kByKey, DataColumns::kByKeyPacked}) {
      std::string columns;
      ASSERT_TRUE(EncodeFrameColumns(raw, n, 5, &columns, layout));
      // Each --where alone, then every pair of them ANDed (the same key
      // twice included).
      std::vector<std::vector<std::pair<std::string, std::string>>> where_sets;
      for (const auto& w : wheres) where_sets.push_back({w});
      for (const auto& a : wheres) {
        for (const auto& b : wheres) where_sets.push_back({a, b});
      }
      for (const auto& where_set : where_sets) {
        const std::string& pointer = where_set[0].first;
        const std::string& value = where_set[0].second;
        const bool alone = where_set.size() == 1;
        Query q;
        q.where = where_set;
        auto filter = EventFilter::Create(q);
        ASSERT_TRUE(filter.ok());
        std::vector<std::string> keys(where_set.size());
        RecordSelector select;
        for (size_t t = 0; t < where_set.size(); ++t) {
          ASSERT_TRUE(TopLevelKey(where_set[t].first, &keys[t])) << where_set[t].first;
          select.data.push_back({keys[t], where_set[t].second});
        }
        std::string kept_records;
        uint32_t kept = 0;
        const Status s =
            DecodeFrameColumns(columns, n, 5, static_cast<uint32_t>(raw.size()), &kept_records, layout, &select, &kept);
        ASSERT_TRUE(s.ok()) << s.ToString();
        std::set<uint64_t> kept_seqs;
        for (size_t pos = 0; pos < kept_records.size(); pos += 4 + GetU32(kept_records.data() + pos)) {
          EventView e;
          ASSERT_TRUE(DecodeRecord(std::string_view(kept_records).substr(pos + 4, GetU32(kept_records.data() + pos)), &e));
          kept_seqs.insert(e.seq);
        }
        EXPECT_EQ(kept_seqs.size(), kept);
        size_t matches = 0;
        for (size_t pos = 0; pos < raw.size(); pos += 4 + GetU32(raw.data() + pos)) {
          EventView e;
          ASSERT_TRUE(DecodeRecord(std::string_view(raw).substr(pos + 4, GetU32(raw.data() + pos)), &e));
          if (!(*filter)->Matches(e)) continue;
          ++matches;
          EXPECT_TRUE(kept_seqs.count(e.seq)) << pointer << "=" << value << (alone ? "" : " and " + where_set[1].first)
                                              << ": seq " << e.seq << " " << e.data;
        }
        if (!many_shapes && where_set.size() == 2 && where_set[0] == std::pair<std::string, std::string>{"/status", "ok"} &&
            where_set[1] == std::pair<std::string, std::string>{"/status", "failed"}) {
          // Two plain values cannot both be read: kept are only the records
          // that need unescaping (3, 4), the key given twice (5), the object
          // value (6) and data stored whole ({} and no data).
          uint32_t want_kept = 0;
          for (uint32_t i = 0; i < n; ++i) {
            const size_t shape = i % shapes.size();
            want_kept += i % 13 == 3 || shape == 3 || shape == 4 || shape == 5 || shape == 6 || shape == 8;
          }
          EXPECT_EQ(kept, want_kept);
        }
        if (!many_shapes && alone && pointer == "/status" && value == "ok") {
          // Kept: "ok" itself (shape 1); what only unescaping tells (shapes
          // 3 and 4), the key given twice (5), an object value (6); data
          // stored whole ({} and no data).  Not: "failed", null, no key.
          uint32_t want_kept = 0;
          for (uint32_t i = 0; i < n; ++i) {
            const size_t shape = i % shapes.size();
            want_kept += i % 13 == 3 || shape == 1 || shape == 3 || shape == 4 || shape == 5 || shape == 6 || shape == 8;
          }
          EXPECT_EQ(kept, want_kept);
          EXPECT_GT(matches, 0u);
        }
        if (many_shapes) {
          EXPECT_EQ(kept, n) << "data stored whole is always kept";
        }
      }
    }
  }
  // On the reference workload, exactly the matches.
  const std::string reference = ReferenceRecords(1, 999);
  std::string columns;
  ASSERT_TRUE(EncodeFrameColumns(reference, 999, 1, &columns, DataColumns::kByKeyPacked));
  Query q;
  q.where = {{"/status", "failed"}};
  auto filter = EventFilter::Create(q);
  ASSERT_TRUE(filter.ok());
  std::string want;
  uint32_t want_n = 0;
  for (size_t pos = 0; pos < reference.size(); pos += 4 + GetU32(reference.data() + pos)) {
    EventView e;
    ASSERT_TRUE(DecodeRecord(std::string_view(reference).substr(pos + 4, GetU32(reference.data() + pos)), &e));
    if ((*filter)->Matches(e)) {
      want.append(reference, pos, 4 + GetU32(reference.data() + pos));
      ++want_n;
    }
  }
  RecordSelector select;
  select.data = {{"status", "failed"}};
  std::string got;
  uint32_t kept = 0;
  ASSERT_TRUE(DecodeFrameColumns(columns, 999, 1, static_cast<uint32_t>(reference.size()), &got,
                                 DataColumns::kByKeyPacked, &select, &kept)
                  .ok());
  EXPECT_GT(want_n, 50u);
  EXPECT_EQ(kept, want_n);
  EXPECT_EQ(got, want);
}

TEST(FrameColumns, WhatColumnsCannotHoldIsRefused) {
  const std::string raw = ReferenceRecords(10, 5);
  std::string out;
  EXPECT_FALSE(EncodeFrameColumns(raw, 5, 11, &out)) << "seqs must start at first_seq";
  EXPECT_FALSE(EncodeFrameColumns(raw, 4, 10, &out)) << "bytes left over";
  EXPECT_FALSE(EncodeFrameColumns(raw, 6, 10, &out)) << "fewer records than counted";
  EXPECT_FALSE(EncodeFrameColumns(raw + "x", 5, 10, &out));
  std::string gap = raw;
  PutU64(gap.data() + 4 + GetU32(gap.data()) + 4, 99);  // the second record's seq
  EXPECT_FALSE(EncodeFrameColumns(gap, 5, 10, &out)) << "a gap in the seqs";
  std::string high_bits = raw;
  high_bits[4 + 16] = static_cast<char>(high_bits[4 + 16] | 0x40);  // mask bit 6
  EXPECT_FALSE(EncodeFrameColumns(high_bits, 5, 10, &out));
}

// Every truncation and every single-byte change of a valid column blob is
// either corruption or, if it still parses, rebuilds exactly raw_len bytes;
// ASan (scripts/sanitize.sh) checks that nothing reads out of bounds.
TEST(FrameColumns, DamagedColumnsAreCorruptionNeverAnOverrun) {
  constexpr uint32_t kDamaged = 20;  // enough values for codec 4 to pack the run ids
  for (const DataColumns layout : kLayouts) {
    const std::string raw = ReferenceRecords(1, kDamaged);
    std::string columns;
    ASSERT_TRUE(EncodeFrameColumns(raw, kDamaged, 1, &columns, layout));
    std::string out;
    EventView first;
    ASSERT_TRUE(DecodeRecord(std::string_view(raw).substr(4, GetU32(raw.data())), &first));
    const std::string lead(first.lead_id);
    for (size_t cut = 0; cut < columns.size(); ++cut) {
      EXPECT_EQ(
          DecodeFrameColumns(columns.substr(0, cut), kDamaged, 1, static_cast<uint32_t>(raw.size()), &out, layout).code(),
          StatusCode::kCorruption)
          << "cut at " << cut;
    }
    EXPECT_EQ(DecodeFrameColumns(columns + "z", kDamaged, 1, static_cast<uint32_t>(raw.size()), &out, layout).code(),
              StatusCode::kCorruption);
    EXPECT_EQ(DecodeFrameColumns(columns, kDamaged + 1, 1, static_cast<uint32_t>(raw.size()), &out, layout).code(),
              StatusCode::kCorruption);
    EXPECT_EQ(DecodeFrameColumns(columns, kDamaged, 1, static_cast<uint32_t>(raw.size() - 1), &out, layout).code(),
              StatusCode::kCorruption);
    // Records stepped over count against raw_len before any record after
    // them is written: a short raw_len never lets the selected ones past
    // the buffer (ASan would see it).
    EventView last;
    {
      size_t pos = 0;
      for (uint32_t i = 0; i + 1 < kDamaged; ++i) pos += 4 + GetU32(raw.data() + pos);
      ASSERT_TRUE(DecodeRecord(std::string_view(raw).substr(pos + 4, GetU32(raw.data() + pos)), &last));
    }
    for (const uint32_t short_len : {uint32_t{1}, uint32_t{64}, static_cast<uint32_t>(raw.size() - 1)}) {
      const RecordSelector select{2, last.lead_id};
      uint32_t kept = 0;
      std::string fresh;  // sized to short_len: no spare capacity to write into unseen
      EXPECT_EQ(DecodeFrameColumns(columns, kDamaged, 1, short_len, &fresh, layout, &select, &kept).code(),
                StatusCode::kCorruption)
          << short_len;
    }
    size_t parsed = 0;
    for (size_t at = 0; at < columns.size(); ++at) {
      for (const uint8_t flip : {0x01, 0x80, 0xff}) {
        std::string damaged = columns;
        damaged[at] = static_cast<char>(damaged[at] ^ flip);
        const Status s = DecodeFrameColumns(damaged, kDamaged, 1, static_cast<uint32_t>(raw.size()), &out, layout);
        // A decode that rebuilds one lead's records checks the same: the
        // records it steps over still have to add up to raw_len.
        std::string selected;
        uint32_t kept = 0;
        const RecordSelector select{2, lead};
        const Status s_selected = DecodeFrameColumns(damaged, kDamaged, 1, static_cast<uint32_t>(raw.size()),
                                                     &selected, layout, &select, &kept);
        EXPECT_EQ(s_selected.ok(), s.ok()) << "byte " << at << " ^ " << int{flip} << ": " << s_selected.ToString();
        if (s.ok()) {
          ++parsed;
          EXPECT_EQ(out.size(), raw.size());
          uint32_t want_n = 0;
          EXPECT_EQ(selected, Selected(out, 2, lead, &want_n));
          EXPECT_EQ(kept, want_n);
        } else {
          EXPECT_EQ(s.code(), StatusCode::kCorruption);
          EXPECT_EQ(s_selected.code(), StatusCode::kCorruption);
        }
      }
    }
    EXPECT_GT(parsed, 0u) << "a changed letter inside a value still parses (the frame checksum catches it)";
  }
}

// A segment written in the row codec (as before codec 2 existed), continued
// in codec 2, codec 3 and then codec 4 (the default), reads back record for
// record, and each codec's frame is smaller than the one before.
TEST(FrameColumns, RowAndColumnFramesReadBackSideBySide) {
  test::TempDir dir;
  Env* env = Env::Default();
  const std::string raw_a = ReferenceRecords(1, 1000);
  const std::string raw_b = ReferenceRecords(1001, 1000, 7);
  const std::string raw_c = ReferenceRecords(2001, 1000, 9);
  const std::string raw_d = ReferenceRecords(3001, 1000, 11);
  SegmentWriterOptions rows;
  rows.codec = format::kCodecZstd;
  SegmentWriterOptions whole_data;
  whole_data.codec = format::kCodecZstdColumns;
  SegmentWriterOptions data_by_key;
  data_by_key.codec = format::kCodecZstdDataColumns;
  std::string path;
  {
    auto w = SegmentWriter::Create(env, dir.path(), 1, 0, rows);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AppendRecords(raw_a, 1u << 20).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  path = dir.path() + "/" + format::SegmentFileName(1);
  {
    auto r = SegmentReader::Open(env, path, 1, SegmentReader::ScanMode::kVerifyPayloads);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ((*r)->frames().size(), 1u);
    auto w = SegmentWriter::Resume(env, path, (*r)->header(), (*r)->frames(), (*r)->valid_end(), whole_data);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AppendRecords(raw_b, 1u << 20).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  {
    auto r = SegmentReader::Open(env, path, 1, SegmentReader::ScanMode::kVerifyPayloads);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto w = SegmentWriter::Resume(env, path, (*r)->header(), (*r)->frames(), (*r)->valid_end(), data_by_key);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AppendRecords(raw_c, 1u << 20).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  {
    auto r = SegmentReader::Open(env, path, 1, SegmentReader::ScanMode::kVerifyPayloads);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto w = SegmentWriter::Resume(env, path, (*r)->header(), (*r)->frames(), (*r)->valid_end(), {});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AppendRecords(raw_d, 1u << 20).ok());
    ASSERT_TRUE((*w)->Seal().ok());
    ASSERT_TRUE((*w)->WriteSealedIndex().ok());
  }
  auto r = SegmentReader::Open(env, path, 1, SegmentReader::ScanMode::kVerifyPayloads);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)->frames().size(), 4u);
  std::string got;
  ASSERT_TRUE((*r)->ReadFrame(0, &got).ok());
  EXPECT_EQ(got, raw_a);
  ASSERT_TRUE((*r)->ReadFrame(1, &got).ok());
  EXPECT_EQ(got, raw_b);
  ASSERT_TRUE((*r)->ReadFrame(2, &got).ok());
  EXPECT_EQ(got, raw_c);
  ASSERT_TRUE((*r)->ReadFrame(3, &got).ok());
  EXPECT_EQ(got, raw_d);
  // Fields without data, as counts read them, agree with the records in
  // every codec, read into one reused buffer (last frame first, so shorter
  // frames land on a longer one's bytes).
  SegmentReader::FrameFields fields;
  for (size_t i = 4; i-- > 0;) {
    ASSERT_TRUE((*r)->ReadFrame(i, &got).ok());
    std::vector<EventView> expected;
    for (size_t pos = 0; pos < got.size(); pos += 4 + GetU32(got.data() + pos)) {
      EventView e;
      ASSERT_TRUE(DecodeRecord(std::string_view(got.data() + pos + 4, GetU32(got.data() + pos)), &e));
      expected.push_back(e);
    }
    size_t k = 0;
    ASSERT_TRUE((*r)->ReadFrameFields(i, &fields).ok());
    ASSERT_TRUE((*r)->VisitFrameFields(fields,
                                       [&](const EventView& e) {
                                         ASSERT_LT(k, expected.size());
                                         const EventView& x = expected[k++];
                                         EXPECT_EQ(e.seq, x.seq);
                                         EXPECT_EQ(e.ts_ns, x.ts_ns);
                                         EXPECT_EQ(e.type, x.type);
                                         EXPECT_EQ(e.actor, x.actor);
                                         EXPECT_EQ(e.source, x.source);
                                         EXPECT_EQ(e.lead_id, x.lead_id);
                                         EXPECT_EQ(e.workflow_id, x.workflow_id);
                                         EXPECT_TRUE(e.data.empty());
                                       })
                    .ok());
    EXPECT_EQ(k, expected.size()) << "frame " << i;
  }
  const std::string bytes = test::ReadFileBytes(path);
  format::FrameHeader a, b, c, d;
  ASSERT_TRUE(format::DecodeFrameHeader(bytes.data() + (*r)->frames()[0].offset, &a));
  ASSERT_TRUE(format::DecodeFrameHeader(bytes.data() + (*r)->frames()[1].offset, &b));
  ASSERT_TRUE(format::DecodeFrameHeader(bytes.data() + (*r)->frames()[2].offset, &c));
  ASSERT_TRUE(format::DecodeFrameHeader(bytes.data() + (*r)->frames()[3].offset, &d));
  EXPECT_EQ(a.codec, format::kCodecZstd);
  EXPECT_EQ(b.codec, format::kCodecZstdColumns);
  EXPECT_EQ(c.codec, format::kCodecZstdDataColumns);
  EXPECT_EQ(d.codec, format::kCodecZstdPackedColumns);
  EXPECT_LT(b.stored_len * 10, a.stored_len * 9) << "columns at least 10% smaller";
  EXPECT_LT(c.stored_len * 100, b.stored_len * 95) << "data columns at least 5% smaller again";
  EXPECT_LT(d.stored_len * 100, c.stored_len * 95) << "packed ids at least 5% smaller again";
}

}  // namespace
}  // namespace stele
