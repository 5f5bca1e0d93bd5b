// Time: RFC 3339 parsing/formatting and the wall clock, all in int64
// nanoseconds since the Unix epoch (UTC).  Range: 1970-01-01 .. 2262-04-11.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stele {

int64_t NowNanos();

// Parses "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" (T/Z case-insensitive).
// Returns nullopt with *why set on failure.
std::optional<int64_t> ParseRfc3339(std::string_view text, std::string* why);

// Accepts RFC 3339 or a decimal integer of nanoseconds (for --since/--until).
std::optional<int64_t> ParseTimeArg(std::string_view text, std::string* why);

// "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", always 30 bytes.
void AppendRfc3339(int64_t ns, std::string* out);
std::string FormatRfc3339(int64_t ns);

}  // namespace stele
