// Column-wise frame payloads (codecs 2 and 3, docs/format.md "Frame codecs").
//
// A frame's records, (u32 len | canonical record)*, are rewritten as
// columns before zstd: timestamps as varint deltas, then the field masks,
// the types, each indexed field, and the data objects, each column holding
// one kind of text.  The seqs and record lengths are not stored at all: the
// seqs follow from the frame header's first_seq, the lengths from the
// fields.  zstd finds far more repeats in a column of types than in types
// interleaved with binary timestamps (28 % smaller on the reference
// workload at level 1), and decoding rebuilds the exact record bytes the
// Merkle leaves were hashed over.
//
// Codec 3 also splits each data object's top level: the text between its
// values (braces, keys, colons, commas: the object's "shape") goes once per
// frame into a shape table, and each value into the column of its key, so
// a column holds one key's values ("run-..." ids, durations, statuses).  On
// 2M reference events the whole data directory is 7 % smaller than with
// codec 2 (0.1225 vs 0.1322 of the NDJSON).  The split only cuts the data
// text into pieces, so the decoder's concatenation is exact whatever it is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "stele/event.h"
#include "stele/status.h"

namespace stele {

// Appends the columns of `count` framed records whose seqs run from
// first_seq to *out.  False (and *out unchanged in meaning: the caller
// discards it) if the records do not follow the canonical layout exactly;
// the writer then stores the frame in codec 1.
//
// kByKeyPacked (codec 4) also packs id columns as hex nibbles; those bytes
// end the output, and *tail (if given) says how many there are: the writer
// keeps them out of zstd, and the reader appends them back after the
// decompressed part before decoding.
enum class DataColumns { kWhole, kByKey, kByKeyPacked };  // codec 2, 3, 4
bool EncodeFrameColumns(std::string_view records, uint32_t count, uint64_t first_seq, std::string* out,
                        DataColumns data = DataColumns::kWhole, size_t* tail = nullptr);

// Which records a decode rebuilds: those whose type (column kType) or
// optional field (column 0 actor, 1 source, 2 lead_id, 3 workflow_id: the
// mask bits of docs/format.md) equals `value`.  An equality lookup that
// will not keep the frame rebuilds only its own records: the others' data
// values are stepped over, not spelled out and copied.
//
// A selector may also (or only) name top-level keys of the data object,
// each of whose values must read as its term's `value` (a string's
// unescaped text, any other value's JSON text: what --where compares); the
// terms are ANDed.  The shapes of codecs 3 and 4 say which column holds
// each key's value, so a record is tested on those values without being
// rebuilt.  This part keeps a superset: a record is kept whenever a key or
// value is spelled with escapes, a value is an object or array, or its
// data is stored whole, and the caller's filter decides those.
struct RecordSelector {
  static constexpr int kType = -1;
  static constexpr int kNoField = -2;  // select on the data terms alone
  int column = kNoField;
  std::string_view value;
  struct DataTerm {
    std::string_view key;  // unescaped, as a JSON pointer's one token names it
    std::string_view value;
  };
  std::vector<DataTerm> data;
};

// Whether a top-level data value stored as `raw` (its JSON text) may read
// as `value` (see RecordSelector): false only when it certainly does not.
bool DataValueMayEqual(std::string_view raw, std::string_view value);

// Rebuilds exactly raw_len bytes of framed records from columns written by
// EncodeFrameColumns.  kCorruption if the columns are malformed.  With
// `select`, only the selected records (*kept of them), in at most raw_len
// bytes; every column is still checked to its end.
Status DecodeFrameColumns(std::string_view columns, uint32_t count, uint64_t first_seq, uint32_t raw_len,
                          std::string* records, DataColumns data = DataColumns::kWhole,
                          const RecordSelector* select = nullptr, uint32_t* kept = nullptr);

// Appends the text of every packed value of codec 4 columns, one per line:
// with the columns themselves, every stored token as text, which is what a
// search for a literal in a frame's stored bytes needs.  Nothing for other
// layouts.  kCorruption if the columns are malformed.
Status AppendPackedText(std::string_view columns, uint32_t count, std::string* out);

// Hands each record's seq, ts, type and optional fields to `visit` (data
// left empty) without rebuilding the records or touching the data columns:
// what a count over a frame that its ranges cut needs.  Any layout.
Status VisitColumnFields(std::string_view columns, uint32_t count, uint64_t first_seq,
                         const std::function<void(const EventView&)>& visit);

}  // namespace stele
