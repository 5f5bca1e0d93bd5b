// JSON string literals from text.  One place for escaping, used by event
// output, the command line, the server and security events.
#pragma once

#include <string>
#include <string_view>

namespace stele {

// Appends s as a JSON string literal.  s must be valid UTF-8 (stored event
// fields are validated on the way in); quotes, backslashes and control
// characters are escaped.
void AppendJsonString(std::string_view s, std::string* out);

// Offset of the first byte of s at or after i that a JSON string literal
// cannot hold as it is (a quote, a backslash or a byte below 0x20), or
// s.size().  Reads 16 or 8 bytes at a time.
size_t FindJsonSpecialByte(std::string_view s, size_t i);

// For text from outside (HTTP headers, query parameters, file names): like
// AppendJsonString, but every byte that is not part of valid UTF-8 becomes
// U+FFFD, so the result is always valid JSON whatever s holds.
std::string JsonString(std::string_view s);

// Offset of the first byte of s that is not part of valid UTF-8 (RFC 3629),
// or s.size() when all of it is valid.
size_t FirstInvalidUtf8(std::string_view s);

}  // namespace stele
