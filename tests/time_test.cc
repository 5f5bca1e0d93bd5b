#include <gtest/gtest.h>

#include "util/time.h"

namespace stele {
namespace {

int64_t Parse(const char* s) {
  std::string why;
  auto v = ParseRfc3339(s, &why);
  EXPECT_TRUE(v.has_value()) << s << ": " << why;
  return v.value_or(-1);
}

TEST(Time, ParsesUtcAndOffsetsToTheSameInstant) {
  EXPECT_EQ(Parse("2026-11-27T04:12:40Z"), 1795752760LL * 1'000'000'000);
  EXPECT_EQ(Parse("2026-11-27T05:12:40+01:00"), Parse("2026-11-27T04:12:40Z"));
  EXPECT_EQ(Parse("2026-11-26T23:42:40-04:30"), Parse("2026-11-27T04:12:40Z"));
  EXPECT_EQ(Parse("2026-11-27t04:12:40z"), Parse("2026-11-27T04:12:40Z"));
}

TEST(Time, KeepsFractionsUpToNanoseconds) {
  EXPECT_EQ(Parse("1970-01-01T00:00:00.5Z"), 500'000'000);
  EXPECT_EQ(Parse("1970-01-01T00:00:00.000000001Z"), 1);
  EXPECT_EQ(Parse("1970-01-01T00:00:01.123456789Z"), 1'123'456'789);
}

// ParseRfc3339 keeps the last "YYYY-MM-DDTHH:MM:SS" it parsed: a timestamp
// that shares it still has its own fraction and offset, and one that does not
// is checked in full.
TEST(Time, ATimestampSharingThePreviousSecondKeepsItsOwnFractionAndOffset) {
  const int64_t base = Parse("2026-11-27T04:12:40Z");
  EXPECT_EQ(Parse("2026-11-27T04:12:40.25Z"), base + 250'000'000);
  EXPECT_EQ(Parse("2026-11-27T04:12:40.25+01:00"), base + 250'000'000 - 3600LL * 1'000'000'000);
  EXPECT_EQ(Parse("2026-11-27T04:12:40-00:30"), base + 1800LL * 1'000'000'000);
  std::string why;
  EXPECT_FALSE(ParseRfc3339("2026-11-27T04:12:40.Z", &why)) << "an empty fraction after a cached second";
  EXPECT_FALSE(ParseRfc3339("2026-11-27T04:12:40", &why)) << "no offset";
  EXPECT_FALSE(ParseRfc3339("2026-02-30T04:12:40Z", &why));
  EXPECT_EQ(why, "day out of range");
  EXPECT_FALSE(ParseRfc3339("2026-02-30T04:12:40Z", &why)) << "a failed parse is not remembered";
  EXPECT_EQ(Parse("2026-11-27T04:12:41Z"), base + 1'000'000'000);
}

TEST(Time, FormatsNineFractionalDigitsUtc) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatRfc3339(1'123'456'789), "1970-01-01T00:00:01.123456789Z");
  EXPECT_EQ(FormatRfc3339(Parse("2024-02-29T23:59:59.999Z")), "2024-02-29T23:59:59.999000000Z");
}

// Formatting keeps the last second's text per thread; a run of nearby,
// equal, earlier and far-apart instants must each come out on its own.
TEST(Time, ConsecutiveInstantsFormatIndependently) {
  const int64_t base = Parse("2026-11-27T23:59:59.5Z");
  const int64_t instants[] = {base, base + 1, base + 1, base + 499'999'999,       base + 500'000'000, base - 1,
                              0,    base,     -1,       base + 86'400'000'000'000};
  const char* expected[] = {"2026-11-27T23:59:59.500000000Z", "2026-11-27T23:59:59.500000001Z",
                            "2026-11-27T23:59:59.500000001Z", "2026-11-27T23:59:59.999999999Z",
                            "2026-11-28T00:00:00.000000000Z", "2026-11-27T23:59:59.499999999Z",
                            "1970-01-01T00:00:00.000000000Z", "2026-11-27T23:59:59.500000000Z",
                            "1969-12-31T23:59:59.999999999Z", "2026-11-28T23:59:59.500000000Z"};
  std::string all;
  for (size_t i = 0; i < std::size(instants); ++i) {
    EXPECT_EQ(FormatRfc3339(instants[i]), expected[i]) << i;
    AppendRfc3339(instants[i], &all);
  }
  std::string joined;
  for (const char* e : expected) joined += e;
  EXPECT_EQ(all, joined) << "appending keeps what is already there";
}

TEST(Time, RoundTripsAcrossCenturies) {
  for (const char* s : {"2000-02-29T12:00:00.000000000Z", "2100-03-01T00:00:00.000000001Z",
                        "2262-04-11T23:47:16.854775807Z", "1999-12-31T23:59:59.999999999Z"}) {
    EXPECT_EQ(FormatRfc3339(Parse(s)), s);
  }
}

TEST(Time, RejectsMalformedTimestampsWithAReason) {
  for (const char* s : {"", "2026-11-27", "2026-11-27T04:12:40", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                        "2025-02-29T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T04:12:40.Z",
                        "2026-11-27T04:12:40.1234567891Z", "2026-11-27T04:12:40+0100", "2026-11-27T04:12:40Zjunk",
                        "1969-12-31T23:59:59Z", "2262-04-12T00:00:00Z", "abcd-11-27T04:12:40Z"}) {
    std::string why;
    EXPECT_FALSE(ParseRfc3339(s, &why).has_value()) << s;
    EXPECT_FALSE(why.empty()) << s;
  }
}

TEST(Time, TimeArgumentsAcceptIntegerNanoseconds) {
  std::string why;
  EXPECT_EQ(ParseTimeArg("1500", &why), 1500);
  EXPECT_EQ(ParseTimeArg("1970-01-01T00:00:01Z", &why), 1'000'000'000);
  EXPECT_FALSE(ParseTimeArg("99999999999999999999999", &why).has_value());
  EXPECT_FALSE(ParseTimeArg("-5", &why).has_value());
}

}  // namespace
}  // namespace stele
