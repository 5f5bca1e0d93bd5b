#include "util/time.h"

#include <charconv>
#include <cstring>
#include <ctime>

namespace stele {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::optional<int64_t> Fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return std::nullopt;
}

}  // namespace

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// "YYYY-MM-DDTHH:MM:SS" (the first 19 bytes of s, which has at least 20) as
// seconds since the epoch, without the offset.
static std::optional<int64_t> ParseRfc3339Seconds(std::string_view s, std::string* why) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return Fail(why, "not an RFC 3339 timestamp (want YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM))");
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return Fail(why, "month out of range");
  const int mdays = kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0);
  if (day < 1 || day > mdays) return Fail(why, "day out of range");
  if (hour > 23 || minute > 59 || second > 60) return Fail(why, "time of day out of range");
  if (second == 60) second = 59;  // leap second: clamp, as most systems do
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600 +
         minute * 60 + second;
}

std::optional<int64_t> ParseRfc3339(std::string_view s, std::string* why) {
  // Events arrive in time order, so most share the previous one's
  // "YYYY-MM-DDTHH:MM:SS": the seconds it stands for are kept per thread, and
  // only the fraction and the offset are parsed (this function was 4 % of
  // validation's instructions).
  thread_local char last_prefix[19];
  thread_local int64_t last_base = -1;  // seconds since the epoch of last_prefix, before the offset
  int64_t base;
  if (s.size() >= 20 && last_base >= 0 && std::memcmp(s.data(), last_prefix, 19) == 0) {
    base = last_base;
  } else {
    auto parsed = ParseRfc3339Seconds(s, why);
    if (!parsed) return std::nullopt;
    base = *parsed;
    std::memcpy(last_prefix, s.data(), 19);
    last_base = base;
  }
  size_t pos = 19;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits == 9) return Fail(why, "more than 9 fractional digits");
      frac = frac * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return Fail(why, "empty fraction");
    for (size_t i = digits; i < 9; ++i) frac *= 10;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return Fail(why, "bad UTC offset (want Z or +HH:MM)");
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return Fail(why, "missing UTC offset (Z or +HH:MM)");
  }
  if (pos != s.size()) return Fail(why, "trailing characters after timestamp");
  const int64_t secs = base - offset_s;
  // int64 nanoseconds reach 2262-04-11; stele stores nothing before 1970.
  if (secs < 0) return Fail(why, "before 1970-01-01T00:00:00Z");
  if (secs > 9'223'372'036 || (secs == 9'223'372'036 && frac > 854'775'807)) {
    return Fail(why, "after 2262-04-11T23:47:16.854775807Z (int64 nanoseconds)");
  }
  return secs * 1'000'000'000 + frac;
}

std::optional<int64_t> ParseTimeArg(std::string_view s, std::string* why) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return Fail(why, "integer nanoseconds out of range");
    return v;
  }
  return ParseRfc3339(s, why);
}

void AppendRfc3339(int64_t ns, std::string* out) {
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  // Events come in time order, so most share the previous one's second: its
  // "YYYY-MM-DDTHH:MM:SS" is kept per thread and only the fraction is
  // formatted (this function was 7 % of a regex scan's profile).
  thread_local int64_t last_secs = INT64_MIN;
  thread_local char buf[32];
  if (secs == last_secs) {
    int64_t v = frac;
    for (int i = 28; i >= 20; --i) {
      buf[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    out->append(buf, 30);
    return;
  }
  last_secs = secs;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  auto put = [](int pos, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[pos + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, rem / 3600, 2);
  buf[13] = ':';
  put(14, (rem / 60) % 60, 2);
  buf[16] = ':';
  put(17, rem % 60, 2);
  buf[19] = '.';
  put(20, frac, 9);
  buf[29] = 'Z';
  out->append(buf, 30);
}

std::string FormatRfc3339(int64_t ns) {
  std::string s;
  AppendRfc3339(ns, &s);
  return s;
}

}  // namespace stele
