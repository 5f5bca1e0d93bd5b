#include "util/units.h"

#include <charconv>
#include <cstdint>
#include <string>

namespace stele {
namespace {

// Leading decimal digits of text as a u64; false on none or overflow.
bool ParseLeadingNumber(std::string_view text, uint64_t* value, size_t* used) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  *value = v;
  *used = i;
  return i > 0;
}

}  // namespace

bool ParseU64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  uint64_t n = 0;
  size_t used = 0;
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not a duration (like 45s, 90m, 12h, 30d)");
  };
  if (!ParseLeadingNumber(text, &n, &used)) return bad();
  const std::string_view unit = text.substr(used);
  uint64_t scale;
  if (unit == "ms") {
    if (n > static_cast<uint64_t>(INT64_MAX) / 1'000'000) return bad();
    return std::chrono::nanoseconds(static_cast<int64_t>(n * 1'000'000));
  }
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else return bad();
  if (n > static_cast<uint64_t>(INT64_MAX) / 1'000'000'000 / scale) return bad();
  return std::chrono::nanoseconds(static_cast<int64_t>(n * scale * 1'000'000'000));
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t n = 0;
  size_t used = 0;
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not a byte size (like 4096, 512M, 10G)");
  };
  if (!ParseLeadingNumber(text, &n, &used)) return bad();
  std::string_view unit = text.substr(used);
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "iB") unit.remove_suffix(2);
  else if (!unit.empty() && unit.back() == 'B') unit.remove_suffix(1);
  int shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M") shift = 20;
  else if (unit == "G") shift = 30;
  else if (unit == "T") shift = 40;
  else return bad();
  if (shift > 0 && n > (UINT64_MAX >> shift)) return bad();
  return n << shift;
}

}  // namespace stele
