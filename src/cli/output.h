// Output formats shared by query and tail: ndjson, table, count.
#pragma once

#include <cstdio>
#include <string>

#include "stele/event.h"

namespace stele::cli {

enum class OutputFormat { kNdjson, kTable, kCount };

// "ndjson" | "table" | "count"; empty picks table on a terminal, else ndjson.
bool ParseOutputFormat(const std::string& text, OutputFormat* out);

// Writes events to stdout in one format, buffering for speed.
class EventPrinter {
 public:
  explicit EventPrinter(OutputFormat format) : format_(format) {}
  ~EventPrinter() { Finish(); }
  void Print(const EventView& e);
  // Writes the count (kCount) and flushes.  Idempotent.
  void Finish();
  void Flush();

 private:
  OutputFormat format_;
  bool header_done_ = false;
  bool finished_ = false;
  uint64_t count_ = 0;
  std::string buf_;
};

}  // namespace stele::cli
