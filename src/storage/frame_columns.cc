#include "storage/frame_columns.h"

#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <algorithm>
#include <vector>


#include "event/record.h"
#include "util/coding.h"
#include "util/find_bytes.h"
#include "util/hash.h"
#include "util/json_escape.h"

#include <emmintrin.h>
#if defined(__SSSE3__)
#include <tmmintrin.h>
#endif

namespace stele {
namespace {

constexpr int kFieldColumns = 4;  // actor, source, lead_id, workflow_id: mask bits 0..3

uint64_t ZigZag(uint64_t delta) {
  const auto d = static_cast<int64_t>(delta);
  return (static_cast<uint64_t>(d) << 1) ^ static_cast<uint64_t>(d >> 63);
}
uint64_t UnZigZag(uint64_t z) { return (z >> 1) ^ (~(z & 1) + 1); }

// The optional fields in mask bit order (docs/format.md, canonical record).
std::array<std::string_view, kFieldColumns> FieldsOf(const EventView& e) {
  return {e.actor, e.source, e.lead_id, e.workflow_id};
}

uint8_t MaskOf(const EventView& e) {
  uint8_t mask = 0;
  const auto fields = FieldsOf(e);
  for (int f = 0; f < kFieldColumns; ++f) {
    if (!fields[f].empty()) mask |= static_cast<uint8_t>(1u << f);
  }
  return mask;
}

// --- Codec 3: data objects split at their top-level values -----------------

// Byte classes for the scans below (a table: the writer runs them over
// every data object it stores).
enum : uint8_t { kSpace = 1, kScalarEnd = 2 };
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (unsigned char c : {' ', '\t', '\n', '\r'}) t[c] = kSpace | kScalarEnd;
  for (unsigned char c : {',', '}', ']'}) t[c] = kScalarEnd;
  return t;
}();

// Past the string whose opening quote is at p, or nullptr.  Sixteen bytes
// at a time, looking only for the quote and the backslash (the JSON
// escaper's scan also stops at control bytes, and an out-of-line call per
// short value was a third of this encoder's instructions).
inline const char* SkipString(const char* p, const char* end) {
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  ++p;
  while (true) {
    if (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const int hits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
      if (hits == 0) {
        p += 16;
        continue;
      }
      p += __builtin_ctz(static_cast<unsigned>(hits));
    } else {
      while (p < end && *p != '"' && *p != '\\') ++p;
      if (p == end) return nullptr;
    }
    if (*p == '"') return p + 1;
    p += 2;  // past the escaped byte
    if (p > end) return nullptr;
  }
}

const char* SkipSpace(const char* p, const char* end) {
  while (p < end && (kByteClass[static_cast<unsigned char>(*p)] & kSpace)) ++p;
  return p;
}

// The end of the JSON value at p, or nullptr.  Validation happened at
// ingest; this only has to find where a value stops, and the split is exact
// whatever it finds.
const char* SkipValue(const char* p, const char* end) {
  if (p == end) return nullptr;
  if (*p == '"') return SkipString(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      if (*p == '"') {
        p = SkipString(p, end);
        if (!p) return nullptr;
        continue;
      }
      if (*p == '{' || *p == '[') {
        ++depth;
      } else if ((*p == '}' || *p == ']') && --depth == 0) {
        return p + 1;
      }
      ++p;
    }
    return nullptr;
  }
  const char* start = p;
  while (p < end && !(kByteClass[static_cast<unsigned char>(*p)] & kScalarEnd)) ++p;
  return p == start ? nullptr : p;
}

// Cuts an object's text into pieces[0] values[0] pieces[1] ... values[n-1]
// pieces[n].  False for anything but an object with at least one key.
bool SplitObject(std::string_view data, std::vector<std::string_view>* pieces, std::vector<std::string_view>* values) {
  pieces->clear();
  values->clear();
  const char* p = data.data();
  const char* const end = p + data.size();
  if (p == end || *p != '{') return false;
  const char* piece = p++;
  while (true) {
    p = SkipSpace(p, end);
    if (p == end || *p != '"') return false;
    p = SkipString(p, end);
    if (!p) return false;
    p = SkipSpace(p, end);
    if (p == end || *p != ':') return false;
    p = SkipSpace(p + 1, end);
    const char* value = p;
    p = SkipValue(p, end);
    if (!p) return false;
    pieces->emplace_back(piece, static_cast<size_t>(value - piece));
    values->emplace_back(value, static_cast<size_t>(p - value));
    piece = p;
    p = SkipSpace(p, end);
    if (p == end) return false;
    if (*p == ',') {
      ++p;
    } else if (*p == '}' && p + 1 == end) {
      pieces->emplace_back(piece, static_cast<size_t>(end - piece));
      return true;
    } else {
      return false;
    }
  }
}

// The key a value is filed under: the piece before it without its leading
// brace or comma (so "step" is one column whether it comes first or not).
std::string_view ColumnKey(std::string_view piece) {
  return piece.substr(1);
}

uint64_t PiecesHash(const std::vector<std::string_view>& pieces) {
  uint64_t h = pieces.size();
  for (std::string_view piece : pieces) h = (h ^ Checksum(piece)) * 0x9E3779B97F4A7C15ull;
  return h;
}

// memcpy for the short pieces and values of data objects, inline and
// without reading past either end: two overlapping loads cover 1-32 bytes.
// (A libc call per piece was most of codec 3's decode cost under callgrind.)
inline void CopyShort(char* dst, const char* src, size_t n) {
  if (n >= 16 && n <= 32) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n - 16));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + n - 16), b);
  } else if (n >= 8 && n < 16) {
    uint64_t a, b;
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, n);
  }
}

// The encoder's output: a per-thread buffer that only grows, written
// through a pointer with room checked once per item, then appended to the
// caller's string in one copy.  (std::string's push_back and append per
// varint and per value were a fifth of the encoder's instructions.)
class Sink {
 public:
  Sink() : buf_(Buffer()), p_(buf_.data.get()), end_(p_ + buf_.capacity) {}
  void Byte(uint8_t b) {
    Room(1);
    *p_++ = static_cast<char>(b);
  }
  void Varint(uint64_t v) {
    Room(10);
    while (v >= 0x80) {
      *p_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }
  void Bytes(std::string_view s) {
    Room(s.size());
    CopyShort(p_, s.data(), s.size());
    p_ += s.size();
  }
  // varint length | bytes
  void Sized(std::string_view s) {
    Varint(s.size());
    Bytes(s);
  }
  void AppendTo(std::string* out) const { out->append(buf_.data.get(), static_cast<size_t>(p_ - buf_.data.get())); }

 private:
  struct Storage {
    std::unique_ptr<char[]> data;
    size_t capacity = 0;
  };
  static Storage& Buffer() {
    thread_local Storage s;
    return s;
  }
  void Room(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) Grow(n);
  }
  void Grow(size_t n) {
    const size_t used = static_cast<size_t>(p_ - buf_.data.get());
    const size_t capacity = std::max<size_t>({2 * buf_.capacity, used + n, 64 * 1024});
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (used > 0) std::memcpy(bigger.get(), buf_.data.get(), used);
    buf_.data = std::move(bigger);
    buf_.capacity = capacity;
    p_ = buf_.data.get() + used;
    end_ = buf_.data.get() + capacity;
  }

  Storage& buf_;
  char* p_;
  char* end_;
};

// Two shapes are the same if their pieces are, byte for byte (short keys
// with their punctuation: compared inline).
inline bool SamePieces(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!BytesEqual(a[i], b[i])) return false;
  }
  return true;
}

// --- Codec 4: id columns packed as hex digits ----------------------------

// A column whose values all have one length and differ only in hex digits
// (ids such as "run-5f3a...", UUIDs) is stored as one template and each
// value's digits as nibbles, outside zstd: they are random, so zstd spent
// time finding no match in them and then stored them at about five bits a
// digit (docs/format.md, "Codec 4").
constexpr size_t kMinPackedValues = 16;   // fewer: not worth a template
constexpr size_t kMinPackedDigits = 16;   // fewer: counters and codes zstd does well on
constexpr size_t kMaxPackedLength = 128;  // a template's length, quotes included

// kHexClass[c]: the digit's value for 0-9, a-f and A-F, with kLower or
// kUpper set for letters; kNotHex for anything else.
enum : uint8_t { kLower = 0x10, kUpper = 0x20, kNotHex = 0x40 };
constexpr std::array<uint8_t, 256> kHexClass = [] {
  std::array<uint8_t, 256> t{};
  t.fill(kNotHex);
  for (int c = 0; c < 10; ++c) t['0' + c] = static_cast<uint8_t>(c);
  for (int c = 0; c < 6; ++c) {
    t['a' + c] = static_cast<uint8_t>((10 + c) | kLower);
    t['A' + c] = static_cast<uint8_t>((10 + c) | kUpper);
  }
  return t;
}();

struct PackedColumn {
  uint32_t column = 0;
  std::string_view model;  // the first value: the template's fixed bytes
  uint8_t bitmap[kMaxPackedLength / 8] = {};  // bit i: position i is a digit
  uint8_t upper = 0;
  uint32_t values = 0;
};

// Whether `values` can be packed; if so appends their nibbles to *nibbles
// (each value's digits in order, high nibble first, a value padded to whole
// bytes) and fills *out.  The digit positions are those where the first
// value has a hex digit; every other byte must equal the first value's.
bool PackColumn(const std::vector<std::string_view>& values, std::string* nibbles, PackedColumn* out) {
  if (values.size() < kMinPackedValues) return false;
  const std::string_view model = values[0];
  const size_t len = model.size();
  if (len < kMinPackedDigits || len > kMaxPackedLength) return false;
  uint8_t digit_at[kMaxPackedLength];
  size_t digits = 0;
  for (size_t i = 0; i < len; ++i) {
    if (!(kHexClass[static_cast<uint8_t>(model[i])] & kNotHex)) digit_at[digits++] = static_cast<uint8_t>(i);
  }
  if (digits < kMinPackedDigits) return false;
  for (std::string_view v : values) {
    if (v.size() != len) return false;
  }
  const size_t start = nibbles->size();
  const size_t per_value = (digits + 1) / 2;
  nibbles->resize(start + per_value * values.size());
  char* w = nibbles->data() + start;
  uint8_t cases = 0;
  for (std::string_view v : values) {
    const auto* b = reinterpret_cast<const uint8_t*>(v.data());
    // The fixed bytes: everything between digit positions equals the model.
    size_t at = 0;
    for (size_t d = 0; d <= digits; ++d) {
      const size_t stop = d < digits ? digit_at[d] : len;
      if (stop > at && std::memcmp(b + at, model.data() + at, stop - at) != 0) {
        nibbles->resize(start);
        return false;
      }
      at = stop + 1;
    }
    uint8_t acc = 0;
    for (size_t d = 0; d < digits; ++d) {
      const uint8_t c = kHexClass[b[digit_at[d]]];
      cases |= c;
      acc = static_cast<uint8_t>(acc << 4 | (c & 0x0F));
      if (d & 1) *w++ = static_cast<char>(acc);
    }
    if (digits & 1) *w++ = static_cast<char>(acc << 4);
  }
  if ((cases & kNotHex) || ((cases & kLower) && (cases & kUpper))) {
    nibbles->resize(start);
    return false;
  }
  out->model = model;
  std::memset(out->bitmap, 0, sizeof out->bitmap);
  for (size_t d = 0; d < digits; ++d) out->bitmap[digit_at[d] / 8] |= static_cast<uint8_t>(1u << (digit_at[d] % 8));
  out->upper = (cases & kUpper) ? 1 : 0;
  out->values = static_cast<uint32_t>(values.size());
  return true;
}

// data_section (codec 3):
//   varint n_shapes, per shape: varint n_values | (n_values + 1) x (varint len | piece) | n_values x varint column
//   count x varint shape_ref        (0: the data is stored whole in column 0; s: shape s - 1)
//   varint n_columns | n_columns x varint column_bytes, then per column, the
//   values filed under it in record order: varint len | bytes
//
// Codec 4 adds, after the last column (packed columns have column_bytes 0
// and no values there):
//   varint n_packed, per packed column: varint column | varint len |
//   len x template byte | ceil(len / 8) x bitmap byte | u8 upper | varint n_values
// and then, as the section's tail (kept out of zstd by the writer), each
// packed column's nibbles in turn: n_values x ceil(digits / 2) bytes.
void EncodeDataByKey(const std::vector<EventView>& events, Sink* out, bool pack, size_t* tail) {
  // Per-thread scratch whose vectors keep their capacity from frame to frame
  // (the writer allocates nothing per event: tests/alloc_test.cc).  Shapes
  // and columns are few, so they are found by a linear search.
  struct Shape {
    uint64_t hash = 0;
    std::vector<std::string_view> pieces;
    std::vector<uint32_t> columns;
  };
  struct Scratch {
    std::vector<Shape> shapes;  // the first n_shapes are this frame's
    size_t n_shapes = 0;
    std::vector<std::vector<std::string_view>> columns;  // the first n_columns; 0 holds whole objects
    std::vector<std::string_view> keys;                  // of each column
    size_t n_columns = 0;
    std::vector<uint32_t> refs;
    std::vector<std::string_view> pieces, values;
  };
  thread_local Scratch x;
  x.n_shapes = 0;
  x.n_columns = 0;
  x.refs.clear();
  auto add_column = [](std::string_view key) {
    if (x.n_columns == x.columns.size()) {
      x.columns.emplace_back();
      x.keys.emplace_back();
    }
    x.columns[x.n_columns].clear();
    x.keys[x.n_columns] = key;
    return static_cast<uint32_t>(x.n_columns++);
  };
  auto column_of = [&](std::string_view key) {
    for (size_t c = 1; c < x.n_columns; ++c) {
      if (x.keys[c] == key) return static_cast<uint32_t>(c);
    }
    return add_column(key);
  };
  add_column({});
  // A frame of unlike objects would fill the shape table instead of the
  // columns: past this many shapes everything is stored whole.
  const size_t max_shapes = std::max<size_t>(16, events.size() / 8);
  for (const EventView& e : events) {
    if (!SplitObject(e.data, &x.pieces, &x.values)) {
      x.refs.push_back(0);
      x.columns[0].push_back(e.data);
      continue;
    }
    // Most records have the shape of the one before.
    uint32_t id = UINT32_MAX;
    if (!x.refs.empty() && x.refs.back() != 0 && SamePieces(x.shapes[x.refs.back() - 1].pieces, x.pieces)) {
      id = x.refs.back() - 1;
    }
    if (id == UINT32_MAX) {
      const uint64_t h = PiecesHash(x.pieces);
      for (size_t s = 0; s < x.n_shapes && id == UINT32_MAX; ++s) {
        if (x.shapes[s].hash == h && SamePieces(x.shapes[s].pieces, x.pieces)) id = static_cast<uint32_t>(s);
      }
      if (id == UINT32_MAX) {
        if (x.n_shapes == x.shapes.size()) x.shapes.emplace_back();
        id = static_cast<uint32_t>(x.n_shapes++);
        Shape& s = x.shapes[id];
        s.hash = h;
        s.pieces = x.pieces;
        s.columns.clear();
        for (size_t v = 0; v < x.values.size(); ++v) s.columns.push_back(column_of(ColumnKey(x.pieces[v])));
      }
    }
    x.refs.push_back(id + 1);
    const Shape& s = x.shapes[id];
    for (size_t v = 0; v < x.values.size(); ++v) x.columns[s.columns[v]].push_back(x.values[v]);
  }
  if (x.n_shapes > max_shapes) {
    x.n_shapes = 0;
    x.n_columns = 1;
    x.columns[0].clear();
    for (size_t i = 0; i < events.size(); ++i) {
      x.refs[i] = 0;
      x.columns[0].push_back(events[i].data);
    }
  }
  out->Varint(x.n_shapes);
  for (size_t i = 0; i < x.n_shapes; ++i) {
    const Shape& s = x.shapes[i];
    out->Varint(s.columns.size());
    for (std::string_view piece : s.pieces) out->Sized(piece);
    for (uint32_t c : s.columns) out->Varint(c);
  }
  for (uint32_t r : x.refs) out->Varint(r);
  out->Varint(x.n_columns);
  thread_local std::vector<PackedColumn> packed;
  thread_local std::string nibbles;
  packed.clear();
  nibbles.clear();
  thread_local std::vector<bool> is_packed;
  is_packed.assign(x.n_columns, false);
  if (pack) {
    for (size_t c = 1; c < x.n_columns; ++c) {
      PackedColumn pc;
      if (!PackColumn(x.columns[c], &nibbles, &pc)) continue;
      pc.column = static_cast<uint32_t>(c);
      packed.push_back(pc);
      is_packed[c] = true;
    }
  }
  for (size_t c = 0; c < x.n_columns; ++c) {
    uint64_t bytes = 0;
    if (!is_packed[c]) {
      for (std::string_view v : x.columns[c]) bytes += VarintLength(v.size()) + v.size();
    }
    out->Varint(bytes);
  }
  for (size_t c = 0; c < x.n_columns; ++c) {
    if (is_packed[c]) continue;
    for (std::string_view v : x.columns[c]) out->Sized(v);
  }
  *tail = 0;
  if (!pack) return;
  out->Varint(packed.size());
  for (const PackedColumn& pc : packed) {
    out->Varint(pc.column);
    out->Sized(pc.model);
    out->Bytes(std::string_view(reinterpret_cast<const char*>(pc.bitmap), (pc.model.size() + 7) / 8));
    out->Byte(pc.upper);
    out->Varint(pc.values);
  }
  out->Bytes(nibbles);
  *tail = nibbles.size();
}

// Hands out each record's data in order, from either layout of the data
// section, after checking that every length stays inside the section.
class DataSection {
 public:
  // With `select` naming a data key, each shape also learns which of its
  // values are filed under that key (see MayHold).
  Status Init(const char* p, const char* end, uint32_t count, DataColumns layout,
              const RecordSelector* select = nullptr) {
    layout_ = layout;
    if (layout == DataColumns::kWhole) {
      cursors_.assign(1, p);
      column_ends_.assign(1, end);
      return Status::Ok();
    }
    // Sizes are checked against the bytes left before anything is sized by
    // them: every piece and column number takes at least one byte.
    uint64_t n_shapes;
    if (!GetVarint64(p, end, &n_shapes) || n_shapes > count || n_shapes > static_cast<uint64_t>(end - p)) {
      return Bad("shape count");
    }
    shapes_.resize(n_shapes);
    uint64_t shape_values = 0;
    for (Shape& s : shapes_) {
      uint64_t n_values;
      if (!GetVarint64(p, end, &n_values) || 2 * n_values + 1 > static_cast<uint64_t>(end - p)) {
        return Bad("shape size");
      }
      shape_values += n_values;
      s.pieces.clear();
      s.columns.clear();
      for (uint64_t k = 0; k <= n_values; ++k) {
        uint64_t len;
        if (!GetVarint64(p, end, &len) || len > static_cast<uint64_t>(end - p)) return Bad("truncated shape");
        s.pieces.emplace_back(p, len);
        p += len;
      }
      for (uint64_t k = 0; k < n_values; ++k) {
        uint64_t col;
        if (!GetVarint64(p, end, &col) || col > UINT32_MAX) return Bad("truncated shape");
        s.columns.push_back(static_cast<uint32_t>(col));
      }
      if (select != nullptr && !select->data.empty()) FindKeys(select->data, &s);
    }
    refs_.resize(count);
    for (uint32_t& r : refs_) {
      uint64_t ref;
      if (!GetVarint64(p, end, &ref) || ref > n_shapes) return Bad("shape reference");
      r = static_cast<uint32_t>(ref);
    }
    uint64_t n_columns;
    if (!GetVarint64(p, end, &n_columns) || n_columns == 0 || n_columns > shape_values + 1) {
      return Bad("column count");
    }
    for (const Shape& s : shapes_) {
      for (uint32_t c : s.columns) {
        if (c >= n_columns) return Bad("shape names a missing column");
      }
    }
    // Each column's byte length is stored, so no column is walked twice;
    // every value read is checked against its column's end.
    cursors_.resize(n_columns);
    column_ends_.resize(n_columns);
    std::vector<uint64_t>& sizes = column_bytes_;
    sizes.resize(n_columns);
    for (uint64_t& bytes : sizes) {
      if (!GetVarint64(p, end, &bytes) || bytes > static_cast<uint64_t>(end - p)) return Bad("column size");
    }
    for (uint64_t c = 0; c < n_columns; ++c) {
      if (sizes[c] > static_cast<uint64_t>(end - p)) return Bad("column size");
      cursors_[c] = p;
      p += sizes[c];
      column_ends_[c] = p;
    }
    packed_.clear();
    if (layout == DataColumns::kByKeyPacked) return InitPacked(p, end);
    if (p != end) return Bad("bytes after the data columns");
    return Status::Ok();
  }

  // Codec 4's packed columns: their descriptions, then their nibbles, which
  // must use up the section exactly.
  Status InitPacked(const char* p, const char* end) {
    const size_t n_columns = cursors_.size();
    uint64_t n_packed;
    if (!GetVarint64(p, end, &n_packed) || n_packed >= n_columns) return Bad("packed column count");
    packed_of_.assign(n_columns, -1);
    packed_.resize(n_packed);
    uint64_t tail = 0;
    for (size_t k = 0; k < n_packed; ++k) {
      Packed& pc = packed_[k];
      uint64_t column, len, values;
      if (!GetVarint64(p, end, &column) || column == 0 || column >= n_columns || packed_of_[column] >= 0 ||
          column_bytes_[column] != 0) {
        return Bad("packed column number");
      }
      packed_of_[column] = static_cast<int>(k);
      if (!GetVarint64(p, end, &len) || len == 0 || len > kMaxPackedLength ||
          len + (len + 7) / 8 + 1 > static_cast<uint64_t>(end - p)) {
        return Bad("packed template");
      }
      pc.text.assign(p, len);
      p += len;
      pc.digit_at.clear();
      for (size_t i = 0; i < 8 * ((len + 7) / 8); ++i) {
        if (!(static_cast<uint8_t>(p[i / 8]) & (1u << (i % 8)))) continue;
        if (i >= len) return Bad("packed template bitmap");
        pc.digit_at.push_back(static_cast<uint8_t>(i));
      }
      p += (len + 7) / 8;
      if (pc.digit_at.empty()) return Bad("packed template without digits");
      pc.runs.clear();
      for (size_t d = 0; d < pc.digit_at.size(); ++d) {
        if (d > 0 && pc.digit_at[d] == pc.digit_at[d - 1] + 1) {
          ++pc.runs.back().length;
        } else {
          pc.runs.push_back({pc.digit_at[d], static_cast<uint8_t>(d), 1});
        }
      }
      const auto upper = static_cast<uint8_t>(*p++);
      if (upper > 1) return Bad("packed digit case");
      pc.digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
      pc.per_value = (pc.digit_at.size() + 1) / 2;
      if (!GetVarint64(p, end, &values) || values > static_cast<uint64_t>(end - p)) return Bad("packed value count");
      pc.left = values;
      tail += values * pc.per_value;  // <= (end - p) * 64: no overflow
    }
    if (tail != static_cast<uint64_t>(end - p)) return Bad("packed digits do not fill the section");
    for (Packed& pc : packed_) {
      pc.next = reinterpret_cast<const uint8_t*>(p);
      p += pc.left * pc.per_value;
    }
    return Status::Ok();
  }

  // Appends every packed value, one per line (see AppendPackedText).
  void AppendPacked(std::string* out) {
    for (Packed& pc : packed_) {
      while (pc.left > 0) {
        out->append(Unpack(pc));
        out->push_back('\n');
      }
    }
  }

  // Writes record i's data at dst (never past dst_end); *len its length.
  Status WriteNext(uint32_t i, char* dst, const char* dst_end, uint64_t* len) {
    char* const start = dst;
    auto put = [&](std::string_view part) {
      if (static_cast<size_t>(dst_end - dst) < part.size()) return false;
      CopyShort(dst, part.data(), part.size());
      dst += part.size();
      return true;
    };
    std::string_view v;
    if (layout_ == DataColumns::kWhole || refs_[i] == 0) {
      if (!Take(0, &v)) return Bad("truncated data");
      if (!put(v)) return Bad("records exceed the raw length");
    } else {
      const Shape& s = shapes_[refs_[i] - 1];
      for (size_t k = 0; k < s.columns.size(); ++k) {
        if (!Take(s.columns[k], &v)) return Bad("truncated data column");
        if (!put(s.pieces[k]) || !put(v)) return Bad("records exceed the raw length");
      }
      if (!put(s.pieces.back())) return Bad("records exceed the raw length");
    }
    *len = static_cast<uint64_t>(dst - start);
    return Status::Ok();
  }
  // Whether record i's data may hold every term Init() was given: false
  // only when its shape lacks a term's key, or that key's value is spelled
  // plainly and differs.  Looks at the values without consuming them.
  bool MayHold(uint32_t i, const std::vector<RecordSelector::DataTerm>& terms) {
    if (layout_ == DataColumns::kWhole || refs_[i] == 0) return true;  // stored whole
    const Shape& s = shapes_[refs_[i] - 1];
    if (s.key_unclear) return true;
    for (size_t t = 0; t < terms.size(); ++t) {
      const int k = s.key_value[t];
      if (k < 0) return false;  // no such key: the pointer reads nothing
      std::string_view v;
      if (Peek(s.columns[static_cast<size_t>(k)], &v) && !DataValueMayEqual(v, terms[t].value)) return false;
      // (a value that cannot be peeked is damage: the decode reports it)
    }
    return true;
  }
  // Steps over record i's data as WriteNext would consume it, without
  // spelling it out; *len the length WriteNext would have written.
  Status SkipNext(uint32_t i, uint64_t* len) {
    if (layout_ == DataColumns::kWhole || refs_[i] == 0) {
      *len = 0;
      return Skip(0, len) ? Status::Ok() : Bad("truncated data");
    }
    const Shape& s = shapes_[refs_[i] - 1];
    *len = 0;
    for (std::string_view piece : s.pieces) *len += piece.size();
    for (uint32_t c : s.columns) {
      if (!Skip(c, len)) return Bad("truncated data column");
    }
    return Status::Ok();
  }
  // Every column was used up exactly, and nothing follows the section.
  bool Finished() const {
    for (size_t c = 0; c < cursors_.size(); ++c) {
      if (cursors_[c] != column_ends_[c]) return false;
    }
    for (const Packed& pc : packed_) {
      if (pc.left != 0) return false;
    }
    return true;
  }

 private:
  struct Shape {
    std::vector<std::string_view> pieces;
    std::vector<uint32_t> columns;
    // Of each of a selector's data terms: the value filed under its key (-1
    // if none); and whether some key is spelled with escapes, or a term's
    // key is given twice, so that which value a pointer reads cannot be
    // told without unescaping.
    std::vector<int> key_value;
    bool key_unclear = false;
  };
  // The piece before value k holds its key: punctuation and spaces, then
  // the quoted key, a colon and spaces (SplitObject).
  static void FindKeys(const std::vector<RecordSelector::DataTerm>& terms, Shape* s) {
    s->key_value.assign(terms.size(), -1);
    s->key_unclear = false;
    for (size_t k = 0; k + 1 < s->pieces.size(); ++k) {
      const std::string_view piece = s->pieces[k];
      const size_t open = piece.find('"');
      const char* close = open == std::string_view::npos ? nullptr
                                                          : SkipString(piece.data() + open, piece.data() + piece.size());
      if (close == nullptr) {
        s->key_unclear = true;  // not as the encoder cuts pieces: keep every record
        return;
      }
      const std::string_view name(piece.data() + open + 1, static_cast<size_t>(close - piece.data()) - open - 2);
      if (name.find('\\') != std::string_view::npos) {
        s->key_unclear = true;
        return;
      }
      for (size_t t = 0; t < terms.size(); ++t) {
        if (name != terms[t].key) continue;
        // A key given twice: which value a pointer reads is the filter's call.
        if (s->key_value[t] >= 0) s->key_unclear = true;
        s->key_value[t] = static_cast<int>(k);
      }
    }
  }
  // A packed column: its template, whose digit positions each value's
  // nibbles overwrite in turn.
  struct Packed {
    std::string text;
    std::vector<uint8_t> digit_at;
    // digit_at as runs of adjacent positions: "run-" + 16 digits is one,
    // a UUID five.
    struct DigitRun {
      uint8_t at, digit, length;  // template position, index of its first digit, digits
    };
    std::vector<DigitRun> runs;
    const char* digits = nullptr;
    size_t per_value = 0;
    uint64_t left = 0;  // values not taken yet
    const uint8_t* next = nullptr;
  };
  static Status Bad(const char* what) { return Status::Corruption(std::string("frame columns: ") + what); }
  // The next value of a packed column: its nibbles spelled as digits (16
  // at a time with SSSE3), then copied over the template's digit runs.
  static std::string_view Unpack(Packed& pc) {
    char spelled[kMaxPackedLength + 16];
#if defined(__SSSE3__)
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pc.digits));
    const __m128i low = _mm_set1_epi8(0x0F);
    for (size_t i = 0; i < pc.per_value; i += 8) {
      uint64_t bytes = 0;
      std::memcpy(&bytes, pc.next + i, std::min<size_t>(8, pc.per_value - i));
      const __m128i b = _mm_cvtsi64_si128(static_cast<long long>(bytes));
      const __m128i nibbles = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), low), _mm_and_si128(b, low));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(spelled + 2 * i), _mm_shuffle_epi8(table, nibbles));
    }
#else
    for (size_t i = 0; i < pc.per_value; ++i) {
      spelled[2 * i] = pc.digits[pc.next[i] >> 4];
      spelled[2 * i + 1] = pc.digits[pc.next[i] & 0x0F];
    }
#endif
    char* t = pc.text.data();
    for (const Packed::DigitRun& r : pc.runs) CopyShort(t + r.at, spelled + r.digit, r.length);
    pc.next += pc.per_value;
    --pc.left;
    return pc.text;
  }
  bool Take(uint32_t column, std::string_view* v) {
    if (!packed_.empty() && packed_of_[column] >= 0) {
      Packed& pc = packed_[static_cast<size_t>(packed_of_[column])];
      if (pc.left == 0) return false;
      *v = Unpack(pc);
      return true;
    }
    return TakeSized(column, v);
  }
  // Take() without consuming the value.
  bool Peek(uint32_t column, std::string_view* v) {
    if (!packed_.empty() && packed_of_[column] >= 0) {
      Packed& pc = packed_[static_cast<size_t>(packed_of_[column])];
      if (pc.left == 0) return false;
      const uint8_t* const next = pc.next;
      *v = Unpack(pc);
      pc.next = next;
      ++pc.left;
      return true;
    }
    return PeekSized(column, v);
  }
  // Take() without the value: its length is added to *len.
  bool Skip(uint32_t column, uint64_t* len) {
    if (!packed_.empty() && packed_of_[column] >= 0) {
      Packed& pc = packed_[static_cast<size_t>(packed_of_[column])];
      if (pc.left == 0) return false;
      pc.next += pc.per_value;
      --pc.left;
      *len += pc.text.size();
      return true;
    }
    std::string_view v;
    if (!TakeSized(column, &v)) return false;
    *len += v.size();
    return true;
  }
  // The next value of a column of length-prefixed values, checked against
  // the column's end; PeekSized leaves it there, TakeSized moves past it.
  bool PeekSized(uint32_t column, std::string_view* v) const {
    const char* p = cursors_[column];
    const char* const end = column_ends_[column];
    uint64_t len;
    if (!GetVarint64(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
    *v = std::string_view(p, len);
    return true;
  }
  bool TakeSized(uint32_t column, std::string_view* v) {
    if (!PeekSized(column, v)) return false;
    cursors_[column] = v->data() + v->size();
    return true;
  }

  DataColumns layout_ = DataColumns::kWhole;
  std::vector<Shape> shapes_;
  std::vector<uint32_t> refs_;
  std::vector<const char*> cursors_;
  std::vector<const char*> column_ends_;
  std::vector<uint64_t> column_bytes_;
  std::vector<Packed> packed_;
  std::vector<int> packed_of_;  // per column: its index in packed_, or -1
};

}  // namespace

bool EncodeFrameColumns(std::string_view records, uint32_t count, uint64_t first_seq, std::string* out,
                        DataColumns data, size_t* tail) {
  size_t unused_tail = 0;
  if (tail == nullptr) tail = &unused_tail;
  *tail = 0;
  thread_local std::vector<EventView> events;
  events.resize(count);
  size_t pos = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (records.size() - pos < 4) return false;
    const uint32_t len = GetU32(records.data() + pos);
    if (records.size() - pos - 4 < len) return false;
    // DecodeRecord accepts exactly the canonical layout, so the record the
    // decoder rebuilds from these parts is byte for byte this one.
    if (!DecodeRecord(records.substr(pos + 4, len), &events[i]) || events[i].seq != first_seq + i) return false;
    pos += 4 + len;
  }
  if (pos != records.size()) return false;
  Sink sink;
  uint64_t prev = 0;
  for (const EventView& e : events) {
    sink.Varint(ZigZag(static_cast<uint64_t>(e.ts_ns) - prev));
    prev = static_cast<uint64_t>(e.ts_ns);
  }
  for (const EventView& e : events) sink.Byte(MaskOf(e));
  for (const EventView& e : events) {
    sink.Byte(static_cast<uint8_t>(e.type.size()));
    sink.Bytes(e.type);
  }
  for (int f = 0; f < kFieldColumns; ++f) {
    for (const EventView& e : events) {
      const std::string_view v = FieldsOf(e)[f];
      if (!v.empty()) sink.Sized(v);
    }
  }
  if (data != DataColumns::kWhole) {
    EncodeDataByKey(events, &sink, data == DataColumns::kByKeyPacked, tail);
  } else {
    for (const EventView& e : events) sink.Sized(e.data);
  }
  sink.AppendTo(out);
  return true;
}

namespace {

// Where the columns before the data start: found by walking each once, with
// every length checked against the end.
struct FieldColumns {
  const std::vector<uint64_t>* ts = nullptr;  // decoded, one per record
  const char* masks = nullptr;
  const char* types = nullptr;
  const char* fields[kFieldColumns] = {};
  const char* data = nullptr;  // the data column or section
};

Status ParseFieldColumns(std::string_view columns, uint32_t count, FieldColumns* out) {
  auto bad = [](const char* what) { return Status::Corruption(std::string("frame columns: ") + what); };
  const char* p = columns.data();
  const char* end = p + columns.size();
  thread_local std::vector<uint64_t> ts;
  ts.resize(count);
  uint64_t prev = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t z;
    if (!GetVarint64(p, end, &z)) return bad("truncated timestamps");
    prev += UnZigZag(z);
    ts[i] = prev;
  }
  if (static_cast<size_t>(end - p) < count) return bad("truncated masks");
  const char* masks = p;
  p += count;
  const char* types = p;
  for (uint32_t i = 0; i < count; ++i) {
    if (p >= end) return bad("truncated types");
    const auto len = static_cast<uint8_t>(*p++);
    if (end - p < len) return bad("truncated types");
    p += len;
  }
  const char* field_cols[kFieldColumns];
  for (int f = 0; f < kFieldColumns; ++f) {
    field_cols[f] = p;
    for (uint32_t i = 0; i < count; ++i) {
      if (static_cast<uint8_t>(masks[i]) & 0xf0) return bad("unknown mask bits");
      if (!(static_cast<uint8_t>(masks[i]) & (1u << f))) continue;
      uint64_t len;
      if (!GetVarint64(p, end, &len) || len > UINT16_MAX || static_cast<uint64_t>(end - p) < len) {
        return bad("truncated field");
      }
      p += len;
    }
  }
  out->ts = &ts;
  out->masks = masks;
  out->types = types;
  std::memcpy(out->fields, field_cols, sizeof field_cols);
  out->data = p;
  return Status::Ok();
}

}  // namespace

Status VisitColumnFields(std::string_view columns, uint32_t count, uint64_t first_seq,
                         const std::function<void(const EventView&)>& visit) {
  FieldColumns c;
  STELE_RETURN_IF_ERROR(ParseFieldColumns(columns, count, &c));
  const char* const end = columns.data() + columns.size();
  const char* t = c.types;
  const char* fc[kFieldColumns];
  std::memcpy(fc, c.fields, sizeof fc);
  EventView e;
  for (uint32_t i = 0; i < count; ++i) {
    const auto mask = static_cast<uint8_t>(c.masks[i]);
    e.seq = first_seq + i;
    e.ts_ns = static_cast<int64_t>((*c.ts)[i]);
    e.type = std::string_view(t + 1, static_cast<uint8_t>(*t));
    t += 1 + static_cast<uint8_t>(*t);
    std::string_view* fields[kFieldColumns] = {&e.actor, &e.source, &e.lead_id, &e.workflow_id};
    for (int f = 0; f < kFieldColumns; ++f) {
      *fields[f] = {};
      if (!(mask & (1u << f))) continue;
      uint64_t n = 0;
      if (!GetVarint64(fc[f], end, &n)) return Status::Corruption("frame columns: truncated field");
      *fields[f] = std::string_view(fc[f], n);
      fc[f] += n;
    }
    visit(e);
  }
  return Status::Ok();
}

bool DataValueMayEqual(std::string_view raw, std::string_view value) {
  while (!raw.empty() && (kByteClass[static_cast<unsigned char>(raw.back())] & kSpace)) raw.remove_suffix(1);
  while (!raw.empty() && (kByteClass[static_cast<unsigned char>(raw.front())] & kSpace)) raw.remove_prefix(1);
  if (raw.empty() || raw.front() == '{' || raw.front() == '[') return true;
  if (raw.front() != '"') return raw == value;  // a number, true, false or null: its text
  if (raw.size() < 2 || raw.back() != '"' || raw.find('\\') != std::string_view::npos) return true;
  return raw.substr(1, raw.size() - 2) == value;
}

namespace {

// Whether record i, with this type and these optional fields, is one the
// selector keeps (its data part: may hold, see RecordSelector).
bool Selected(const RecordSelector& select, std::string_view type, const std::string_view* fields,
              DataSection& data, uint32_t i) {
  if (select.column != RecordSelector::kNoField &&
      (select.column == RecordSelector::kType ? type : fields[select.column]) != select.value) {
    return false;
  }
  return select.data.empty() || data.MayHold(i, select.data);
}

}  // namespace

Status DecodeFrameColumns(std::string_view columns, uint32_t count, uint64_t first_seq, uint32_t raw_len,
                          std::string* records, DataColumns layout, const RecordSelector* select, uint32_t* kept) {
  auto bad = [](const char* what) { return Status::Corruption(std::string("frame columns: ") + what); };
  if (select != nullptr && (select->column < RecordSelector::kNoField || select->column >= kFieldColumns)) {
    return Status::InvalidArgument("record selector: no column " + std::to_string(select->column));
  }
  if (kept) *kept = 0;
  FieldColumns c;
  STELE_RETURN_IF_ERROR(ParseFieldColumns(columns, count, &c));
  const char* const end = columns.data() + columns.size();
  const std::vector<uint64_t>& ts = *c.ts;
  thread_local DataSection data;
  STELE_RETURN_IF_ERROR(data.Init(c.data, end, count, layout, select));
  // Rebuild the records.  A record not selected is stepped over, and takes
  // its length off the room left, so that the records still add up to
  // exactly raw_len whether or not they are rebuilt.  The selected ones are
  // written to a buffer of this thread's that only grows, then copied out:
  // sizing *records to raw_len and back down for each frame would zero-fill
  // it whole every time (a lookup's frames are mostly stepped over).
  thread_local std::string selected;
  std::string* const target = select != nullptr ? &selected : records;
  if (select == nullptr || selected.size() < raw_len) target->resize(raw_len);
  char* out = target->data();
  char* out_end = out + raw_len;
  const char* masks = c.masks;
  const char* t = c.types;
  const char* fc[kFieldColumns];
  std::memcpy(fc, c.fields, sizeof fc);
  for (uint32_t i = 0; i < count; ++i) {
    const auto mask = static_cast<uint8_t>(masks[i]);
    const auto type_len = static_cast<uint8_t>(*t);
    std::string_view fields[kFieldColumns];
    size_t len = kRecordFixedBytes + type_len;
    for (int f = 0; f < kFieldColumns; ++f) {
      if (!(mask & (1u << f))) continue;
      uint64_t n = 0;
      if (!GetVarint64(fc[f], end, &n)) return bad("truncated field");  // the walk above checked it
      fields[f] = std::string_view(fc[f], n);
      fc[f] += n;
      len += 2 + n;
    }
    if (select != nullptr && !Selected(*select, std::string_view(t + 1, type_len), fields, data, i)) {
      t += 1 + type_len;
      uint64_t data_len = 0;
      STELE_RETURN_IF_ERROR(data.SkipNext(i, &data_len));
      if (len + data_len > UINT32_MAX) return bad("record longer than 4 GiB");
      if (static_cast<uint64_t>(out_end - out) < 4 + len + data_len) return bad("records exceed the raw length");
      out_end -= 4 + len + data_len;
      continue;
    }
    // kRecordFixedBytes counts the u32 data_len; the data itself is written
    // in place below and checked against out_end as it goes.
    if (static_cast<size_t>(out_end - out) < 4 + len) return bad("records exceed the raw length");
    PutU64(out + 4, first_seq + i);
    PutU64(out + 12, ts[i]);
    out[20] = static_cast<char>(mask);
    out[21] = static_cast<char>(type_len);
    std::memcpy(out + 22, t + 1, type_len);
    t += 1 + type_len;
    char* q = out + 22 + type_len;
    for (int f = 0; f < kFieldColumns; ++f) {
      if (!(mask & (1u << f))) continue;
      PutU16(q, static_cast<uint16_t>(fields[f].size()));
      std::memcpy(q + 2, fields[f].data(), fields[f].size());
      q += 2 + fields[f].size();
    }
    uint64_t data_len = 0;
    STELE_RETURN_IF_ERROR(data.WriteNext(i, q + 4, out_end, &data_len));
    len += data_len;
    if (len > UINT32_MAX) return bad("record longer than 4 GiB");
    PutU32(out, static_cast<uint32_t>(len));
    PutU32(q, static_cast<uint32_t>(data_len));
    out = q + 4 + data_len;
    if (kept) ++*kept;
  }
  if (out != out_end) return bad("records shorter than the raw length");
  if (!data.Finished()) return bad("bytes after the data column");
  if (select != nullptr) records->assign(selected.data(), static_cast<size_t>(out - selected.data()));
  return Status::Ok();
}

Status AppendPackedText(std::string_view columns, uint32_t count, std::string* out) {
  FieldColumns c;
  STELE_RETURN_IF_ERROR(ParseFieldColumns(columns, count, &c));
  thread_local DataSection data;
  STELE_RETURN_IF_ERROR(data.Init(c.data, columns.data() + columns.size(), count, DataColumns::kByKeyPacked));
  data.AppendPacked(out);
  return Status::Ok();
}

}  // namespace stele
