#include <gtest/gtest.h>

#include "event/validator.h"
#include "util/time.h"

namespace stele {
namespace {

class ValidatorTest : public ::testing::Test {
 protected:
  Status Check(std::string_view json) { return v_.Validate(json, now_, limits_, &e_); }

  // Asserts a reject whose message names `field` and contains `reason`.
  void ExpectReject(std::string_view json, std::string_view field, std::string_view reason) {
    Status s = Check(json);
    ASSERT_FALSE(s.ok()) << json;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(field), std::string::npos) << json << " -> " << s.message();
    EXPECT_NE(s.message().find(reason), std::string::npos) << json << " -> " << s.message();
  }

  EventValidator v_;
  ValidationLimits limits_;
  EventView e_;
  int64_t now_ = NowNanos();
};

TEST_F(ValidatorTest, AcceptsAMinimalEventAndStampsIngestTime) {
  ASSERT_TRUE(Check(R"({"type":"lead.created"})").ok());
  EXPECT_EQ(e_.type, "lead.created");
  EXPECT_EQ(e_.ts_ns, now_);
  EXPECT_TRUE(e_.actor.empty());
  EXPECT_TRUE(e_.data.empty());
}

TEST_F(ValidatorTest, AcceptsEveryFieldInAnyOrder) {
  ASSERT_TRUE(Check(R"({"data":{"x":1},"workflow_id":"wf-1","lead_id":"L1","source":"crm","actor":"a\"b",)"
                    R"("ts":"2026-01-01T00:00:00.5+01:00","type":"x.y_z.0"})")
                  .ok());
  EXPECT_EQ(e_.type, "x.y_z.0");
  EXPECT_EQ(e_.actor, "a\"b");
  EXPECT_EQ(e_.source, "crm");
  EXPECT_EQ(e_.lead_id, "L1");
  EXPECT_EQ(e_.workflow_id, "wf-1");
  EXPECT_EQ(e_.data, R"({"x":1})");
  EXPECT_EQ(FormatRfc3339(e_.ts_ns), "2025-12-31T23:00:00.500000000Z");
}

TEST_F(ValidatorTest, IntegerTimestampIsNanoseconds) {
  ASSERT_TRUE(Check(R"({"type":"a","ts":1700000000000000001})").ok());
  EXPECT_EQ(e_.ts_ns, 1700000000000000001);
}

TEST_F(ValidatorTest, DataIsStoredByteExact) {
  const std::string data =
      R"({ "n" : 18446744073709551617, "f":1.5e-31,"neg":-0.0,"s":"\u00e9\n\"q\"\\","u":"é😀",)"
      R"( "arr":[1,{"z":null},[true,false]],"b":"\/", "e":{}, "big":1E+400 })";
  ASSERT_TRUE(Check(R"({"type":"a","data":)" + data + "}").ok());
  EXPECT_EQ(e_.data, data);
  ASSERT_TRUE(Check(R"({"data":)" + data + R"(  ,"type":"a"})").ok());
  EXPECT_EQ(e_.data, data);
}

TEST_F(ValidatorTest, LineBreaksInsideDataAreRemovedSoOutputStaysOneLine) {
  ASSERT_TRUE(Check("{\"type\":\"a\",\"data\":{\n  \"k\": \"v w\",\r\n  \"n\": 1\n}}").ok());
  EXPECT_EQ(e_.data, R"({"k":"v w","n":1})");
}

TEST_F(ValidatorTest, NestingUpTo64IsAcceptedAndDeeperRejected) {
  auto nested = [](int depth) {  // total depth including the event object
    std::string s = R"({"type":"a","data":)";
    for (int i = 2; i < depth; ++i) s += R"({"k":)";
    s += "{}";
    for (int i = 2; i < depth; ++i) s += "}";
    return s + "}";
  };
  EXPECT_TRUE(Check(nested(64)).ok()) << Check(nested(64)).ToString();
  ExpectReject(nested(65), "data", "nesting deeper than 64");
  std::string arrays = R"({"type":"a","data":{"a":)" + std::string(63, '[') + std::string(63, ']') + "}}";
  ExpectReject(arrays, "data/a", "nesting deeper than 64");
}

TEST_F(ValidatorTest, RejectsNonObjects) {
  for (const char* doc : {"[]", "\"x\"", "1", "null", "true"}) ExpectReject(doc, "event", "must be a JSON object");
}

TEST_F(ValidatorTest, RejectsInvalidJson) {
  for (const char* doc : {"", "{", R"({"type":"a")", R"({"type":"a" "x":1})", R"({"type":"a",})",
                          R"({"type":"a"} trailing)", R"({"type":"a","data":{"x":01}})",
                          R"({"type":"a","data":{"x":1.}})", R"({"type":"a","data":{"x":tru}})",
                          R"({"type":"a","data":{"x":"\q"}})", R"({"type":"a","data":{"x":"\ud800"}})",
                          "{\"type\":\"a\",\"data\":{\"x\":\"tab\there\"}}"}) {
    Status s = Check(doc);
    EXPECT_FALSE(s.ok()) << doc;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << doc;
  }
}

TEST_F(ValidatorTest, RejectsInvalidUtf8) {
  ExpectReject("{\"type\":\"a\",\"actor\":\"\xff\xfe\"}", "field \"actor\"", "invalid UTF-8 at byte 21");
  ExpectReject("{\"type\":\"a\",\"data\":{\"x\":\"\xc3\x28\"}}", "field \"data\"", "invalid UTF-8");
  ExpectReject("{\"type\":\"a\",\"\xff\":1}", "event", "invalid UTF-8");
}

TEST_F(ValidatorTest, RejectsMissingOrMalformedType) {
  ExpectReject(R"({"actor":"a"})", "type", "required");
  ExpectReject(R"({"type":1})", "type", "must be a string");
  ExpectReject(R"({"type":""})", "type", "must not be empty");
  for (const char* t : {"Lead", "1lead", "lead..x", "lead.", ".lead", "lead-created", "lead.Created", "lead x"}) {
    ExpectReject(std::string(R"({"type":")") + t + "\"}", "type", "pattern");
  }
  ExpectReject(R"({"type":")" + std::string(65, 'a') + "\"}", "type", "65 bytes; limit is 64");
  EXPECT_TRUE(Check(R"({"type":")" + std::string(64, 'a') + "\"}").ok());
}

TEST_F(ValidatorTest, RejectsTheReservedSecurityPrefix) {
  ExpectReject(R"({"type":"security.auth_failed"})", "type", "reserved");
  EXPECT_TRUE(Check(R"({"type":"securityx.auth"})").ok());
  limits_.allow_reserved_types = true;
  EXPECT_TRUE(Check(R"({"type":"security.auth_failed"})").ok());
}

TEST_F(ValidatorTest, RejectsBadTimestamps) {
  ExpectReject(R"({"type":"a","ts":"yesterday"})", "ts", "RFC 3339");
  ExpectReject(R"({"type":"a","ts":-1})", "ts", "non-negative");
  ExpectReject(R"({"type":"a","ts":1.5})", "ts", "non-negative");
  ExpectReject(R"({"type":"a","ts":true})", "ts", "RFC 3339");
  const std::string future = FormatRfc3339(now_ + 25LL * 3600 * 1'000'000'000);
  ExpectReject(R"({"type":"a","ts":")" + future + "\"}", "ts", "24 h ahead");
  const std::string near_future = FormatRfc3339(now_ + 23LL * 3600 * 1'000'000'000);
  EXPECT_TRUE(Check(R"({"type":"a","ts":")" + near_future + "\"}").ok());
}

TEST_F(ValidatorTest, RejectsBadIndexedStrings) {
  for (const char* field : {"actor", "source", "lead_id", "workflow_id"}) {
    const std::string f = field;
    ExpectReject(R"({"type":"a",")" + f + R"(":""})", f, "must not be empty");
    ExpectReject(R"({"type":"a",")" + f + R"(":7})", f, "must be a string");
    ExpectReject(R"({"type":"a",")" + f + R"(":")" + std::string(257, 'x') + "\"}", f, "257 bytes; limit is 256");
    ExpectReject(R"({"type":"a",")" + f + R"(":"a\u0001b"})", f, "control character");
    ExpectReject(R"({"type":"a",")" + f + R"(":"a\u007fb"})", f, "control character");
    ExpectReject(R"({"type":"a",")" + f + R"(":"a\u0085b"})", f, "control character");
    EXPECT_TRUE(Check(R"({"type":"a",")" + f + R"(":")" + std::string(256, 'x') + "\"}").ok());
    EXPECT_TRUE(Check(R"({"type":"a",")" + f + R"(":"Zoë 😀"})").ok());
  }
}

TEST_F(ValidatorTest, RejectsUnknownTopLevelKeys) {
  ExpectReject(R"({"type":"a","kind":0})", "kind", "unknown top-level key");
  ExpectReject(R"({"type":"a","seq":5})", "seq", "unknown top-level key");
}

TEST_F(ValidatorTest, RejectsDuplicateKeysAtAnyLevel) {
  ExpectReject(R"({"type":"a","type":"b"})", "type", "duplicate key");
  ExpectReject(R"({"type":"a","data":{"x":1,"y":2,"x":3}})", "data", "duplicate key \"x\"");
  ExpectReject(R"({"type":"a","data":{"o":{"k":1,"\u006b":2}}})", "data/o", "duplicate key \"k\"");
  std::string many = R"({"type":"a","data":{)";
  for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":1,";
  many += R"("k17":2}})";
  ExpectReject(many, "data", "duplicate key \"k17\"");
}

// Keys and strings without a backslash are taken as written, the rest are
// unescaped: both paths must give the same answers.
TEST_F(ValidatorTest, EscapedKeysAndStringsMeanWhatTheyUnescapeTo) {
  ASSERT_TRUE(Check(R"({"typ\u0065":"a.b","lead_\u0069d":"L\u0031","data":{"q\"":"\"","q":1}})").ok());
  EXPECT_EQ(e_.type, "a.b");
  EXPECT_EQ(e_.lead_id, "L1");
  ExpectReject(R"({"type":"a","typ\u0065":"b"})", "type", "duplicate key");
  ExpectReject(R"({"type":"a","data":{"q\"":1,"q\u0022":2}})", "data", "duplicate key \"q\"\"");
  ExpectReject(R"({"type":"a","data":{"s":"\x41"}})", "data/s", "invalid string");
  ExpectReject(R"({"type":"a","lead_id":"L\x"})", "lead_id", "invalid string");
  ExpectReject(R"({"type":"a\u0009"})", "type", "invalid character");
}

TEST_F(ValidatorTest, RejectsRawControlBytesInsideStrings) {
  for (const char* where : {R"({"type":"a","data":{"s":"a#b"}})", R"({"type":"a","actor":"a#b"})",
                            R"({"type":"a","data":{"a#b":1}})"}) {
    std::string json = where;
    json[json.find('#')] = '\x01';
    EXPECT_FALSE(Check(json).ok()) << where;
  }
  // DEL and C1 controls are legal JSON but not in an indexed field.
  ExpectReject("{\"type\":\"a\",\"source\":\"a\x7f\"}", "source", "control character at byte 1");
  ExpectReject("{\"type\":\"a\",\"source\":\"ab\xc2\x85\"}", "source", "control character at byte 2");
  ASSERT_TRUE(Check("{\"type\":\"a\",\"source\":\"\xc2\xa9 x\"}").ok());  // U+00A9 shares the lead byte
  EXPECT_EQ(e_.source, "\xc2\xa9 x");
}

TEST_F(ValidatorTest, RejectsNonObjectData) {
  ExpectReject(R"({"type":"a","data":[1]})", "data", "must be a JSON object");
  ExpectReject(R"({"type":"a","data":"x"})", "data", "must be a JSON object");
}

TEST_F(ValidatorTest, NamesThePathOfAnErrorInsideData) {
  ExpectReject(R"({"type":"a","data":{"items":[{"ok":1},{"bad":01}]}})", "data/items/1/bad", "invalid number");
}

TEST_F(ValidatorTest, RejectsOversizedEvents) {
  limits_.max_event_bytes = 100;
  const std::string big = R"({"type":"a","data":{"s":")" + std::string(100, 'x') + "\"}}";
  ExpectReject(big, "event", "limit is 100");
}

}  // namespace
}  // namespace stele
