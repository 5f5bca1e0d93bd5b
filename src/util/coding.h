// Little-endian fixed-width encoding used by every on-disk structure
// (docs/format.md).  Loads/stores are memcpy-based, so unaligned access is fine.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace stele {

inline void PutU16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void PutU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void PutU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t GetU16(const char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t GetU32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t GetU64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

inline void AppendU16(std::string* s, uint16_t v) { s->append(reinterpret_cast<const char*>(&v), 2); }
inline void AppendU32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }
inline void AppendU64(std::string* s, uint64_t v) { s->append(reinterpret_cast<const char*>(&v), 8); }

// LEB128 varints: 7 bits a byte, low groups first, high bit = more.
inline void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
// Bytes PutVarint64 writes for v.
inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}
// Reads a varint at p (advancing it, never past end); false if it is
// truncated or longer than 10 bytes.
inline bool GetVarint64(const char*& p, const char* end, uint64_t* v) {
  if (p < end && !(static_cast<uint8_t>(*p) & 0x80)) {  // most lengths fit one byte
    *v = static_cast<uint8_t>(*p++);
    return true;
  }
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && p < end; shift += 7) {
    const auto byte = static_cast<uint8_t>(*p++);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *v = result;
      return true;
    }
  }
  return false;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "stele's formats are little-endian; add byte swaps for this target");

}  // namespace stele
