// Human-friendly durations and byte sizes, for flags and config files.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "stele/status.h"

namespace stele {

// A whole decimal u64 ("0".."18446744073709551615"); false on anything else.
bool ParseU64(std::string_view text, uint64_t* out);

// "45s", "90m", "12h", "30d", "250ms" (a bare number is seconds);
// kInvalidArgument with the reason otherwise.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);
// "4096", "64K", "512M", "10G", "1T" (binary multiples, optional trailing
// "iB"/"B").
Result<uint64_t> ParseByteSize(std::string_view text);

}  // namespace stele
