#include "cli/output.h"

#include <unistd.h>

#include "util/time.h"

namespace stele::cli {
namespace {

// Pads or cuts s to exactly `width` display columns (counting UTF-8 code
// points, which is right for the scripts audit ids use).
void AppendCell(std::string_view s, size_t width, std::string* out) {
  size_t cols = 0;
  size_t i = 0;
  while (i < s.size() && cols < width) {
    size_t len = 1;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xf0) len = 4;
    else if (c >= 0xe0) len = 3;
    else if (c >= 0xc0) len = 2;
    if (cols + 1 == width && i + len < s.size()) {
      out->append("…");
      ++cols;
      i = s.size();
      break;
    }
    out->append(s.substr(i, len));
    i += len;
    ++cols;
  }
  out->append(width - cols, ' ');
}

}  // namespace

bool ParseOutputFormat(const std::string& text, OutputFormat* out) {
  if (text.empty()) {
    *out = ::isatty(STDOUT_FILENO) ? OutputFormat::kTable : OutputFormat::kNdjson;
  } else if (text == "ndjson") {
    *out = OutputFormat::kNdjson;
  } else if (text == "table") {
    *out = OutputFormat::kTable;
  } else if (text == "count") {
    *out = OutputFormat::kCount;
  } else {
    return false;
  }
  return true;
}

void EventPrinter::Print(const EventView& e) {
  ++count_;
  switch (format_) {
    case OutputFormat::kCount: return;
    case OutputFormat::kNdjson:
      AppendEventJson(e, &buf_);
      buf_.push_back('\n');
      break;
    case OutputFormat::kTable: {
      if (!header_done_) {
        buf_.append("SEQ         TS                              TYPE                 ACTOR            LEAD         DATA\n");
        header_done_ = true;
      }
      std::string seq = std::to_string(e.seq);
      AppendCell(seq, 12, &buf_);
      AppendRfc3339(e.ts_ns, &buf_);
      buf_.append("  ");
      AppendCell(e.type, 21, &buf_);
      AppendCell(e.actor.empty() ? "-" : e.actor, 17, &buf_);
      AppendCell(e.lead_id.empty() ? "-" : e.lead_id, 13, &buf_);
      AppendCell(e.data.empty() ? "-" : e.data, 60, &buf_);
      while (!buf_.empty() && buf_.back() == ' ') buf_.pop_back();
      buf_.push_back('\n');
      break;
    }
  }
  if (buf_.size() >= (1u << 16)) Flush();
}

void EventPrinter::Flush() {
  if (!buf_.empty()) {
    std::fwrite(buf_.data(), 1, buf_.size(), stdout);
    buf_.clear();
  }
  std::fflush(stdout);
}

void EventPrinter::Finish() {
  if (finished_) return;
  finished_ = true;
  if (format_ == OutputFormat::kCount) buf_.append(std::to_string(count_) + "\n");
  Flush();
}

}  // namespace stele::cli
