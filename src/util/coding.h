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

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "stele's formats are little-endian; add byte swaps for this target");

}  // namespace stele
