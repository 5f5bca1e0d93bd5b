// lead_order_study: what storing a segment's events in lead order instead
// of seq order would cost on disk, and what a lead lookup would then read.
//
//   build/stele_lead_order_study SEGMENT_FILE [--only=LAYOUT] [WINDOW_FRAMES BLOCK_KIB]...
//
// Reads every event of one segment (its frames as written), then for each
// (window, block) pair re-encodes the events the ways below, each with the
// codec 4 columns and zstd level 1 the writer uses, and prints the stored
// bytes against the segment's frames as they are:
//   seq      windows of WINDOW_FRAMES frames in seq order (bigger frames)
//   records  each window's records sorted by (lead, seq), cut into blocks
//            of BLOCK_KIB raw KiB; the seqs kept as a varint column
//   split    each window's fields (ts, type, actor, source, lead, workflow)
//            in seq order as one block, its data objects sorted by lead in
//            blocks (the lead column gives the order back, so no seq column)
//   keyed    each window's ts and lead in seq order as one block, all the
//            rest sorted by lead in blocks
//   dict     seq order in blocks of BLOCK_KIB raw KiB (the window is not
//            used), each compressed on its own with a zstd dictionary
//            trained on the blocks of the segment's first 8 MB (the
//            dictionary's bytes are counted once)
// and the raw bytes an average lookup would decompress, as a share of the
// segment's: probes drawn from the events (a lead is probed as often as it
// occurs, as `stele bench query` draws them); in `seq`, every window
// holding the lead; in the others, every block whose lead range holds it,
// plus, for `split` and `keyed`, the seq-ordered block of every window
// holding it.  A design study for docs/performance.md
// ("Lead lookup ... with the default profile"), not part of the product.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <zdict.h>
#include <zstd.h>

#include "event/record.h"
#include "storage/frame_columns.h"
#include "storage/segment_reader.h"
#include "util/coding.h"
#include "util/env.h"

namespace stele {
namespace {

struct Event {
  std::string record;  // the canonical record
  EventView view;      // into `record`
};

class Study {
 public:
  explicit Study(std::vector<Event> events) : events_(std::move(events)) {
    for (const Event& e : events_) ++lead_events_[std::string(e.view.lead_id)];
  }
  ~Study() {
    ZSTD_freeCCtx(cctx_);
    ZSTD_freeCDict(cdict_);
  }
  Study(const Study&) = delete;
  Study& operator=(const Study&) = delete;

  // Stored bytes of these framed records as the writer would store a frame
  // of them (codec 4 columns, zstd level 1, packed ids outside zstd).
  size_t Store(std::string_view framed, uint32_t count, uint64_t first_seq) {
    size_t tail = 0;
    const std::string columns = Columns(framed, count, first_seq, &tail);
    std::string out(ZSTD_compressBound(columns.size()), '\0');
    const size_t n =
        cdict_ ? ZSTD_compress_usingCDict(cctx_, out.data(), out.size(), columns.data(), columns.size() - tail, cdict_)
               : ZSTD_compressCCtx(cctx_, out.data(), out.size(), columns.data(), columns.size() - tail, 1);
    if (ZSTD_isError(n)) {
      std::fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(n));
      std::exit(1);
    }
    return n + tail + (tail ? 8 : 0);
  }

  static std::string Columns(std::string_view framed, uint32_t count, uint64_t first_seq, size_t* tail) {
    std::string columns;
    if (!EncodeFrameColumns(framed, count, first_seq, &columns, DataColumns::kByKeyPacked, tail)) {
      std::fprintf(stderr, "records not in the canonical layout\n");
      std::exit(1);
    }
    return columns;
  }

  // Events [b0, b1) in seq order as framed records.
  std::string Framed(size_t b0, size_t b1) const {
    std::string framed;
    for (size_t i = b0; i < b1; ++i) AppendFramedRecord(events_[i].view, &framed);
    return framed;
  }
  // The end of the block of about `block_bytes` raw bytes starting at b0.
  size_t BlockEnd(size_t b0, size_t block_bytes) const {
    size_t bytes = 0, b1 = b0;
    while (b1 < events_.size() && bytes < block_bytes) bytes += 4 + events_[b1++].record.size();
    return b1;
  }

  struct Result {
    size_t stored = 0;
    double lookup_raw = 0;  // raw bytes an average probe decompresses
  };

  // kSeq, kRecords, kSplit, kKeyed as in the file comment.
  enum class Layout { kSeq, kRecords, kSplit, kKeyed, kDict };
  Result Run(Layout layout, size_t window, size_t block_bytes) {
    if (layout == Layout::kDict) return RunDict(block_bytes);
    Result r;
    double lead_blocks = 0;            // sum over leads: share x raw bytes of the blocks holding it
    std::vector<double> seq_part_raw;  // per window, its seq-ordered block (kSplit, kKeyed)
    for (size_t w0 = 0; w0 < events_.size(); w0 += window) {
      const size_t w1 = std::min(events_.size(), w0 + window);
      if (layout == Layout::kSeq) {
        std::string framed;
        for (size_t i = w0; i < w1; ++i) AppendFramedRecord(events_[i].view, &framed);
        r.stored += Store(framed, static_cast<uint32_t>(w1 - w0), events_[w0].view.seq);
        seq_part_raw.push_back(static_cast<double>(framed.size()));  // a probe reads each window holding its lead
        continue;
      }
      if (layout != Layout::kRecords) {
        // The seq-ordered block: the fields without data (kSplit), or only
        // ts and lead (kKeyed).
        std::string framed;
        for (size_t i = w0; i < w1; ++i) {
          EventView v = events_[i].view;
          v.data = {};
          if (layout == Layout::kKeyed) v.type = "a", v.actor = v.source = v.workflow_id = {};
          AppendFramedRecord(v, &framed);
        }
        r.stored += Store(framed, static_cast<uint32_t>(w1 - w0), events_[w0].view.seq);
        seq_part_raw.push_back(static_cast<double>(framed.size()));
      }
      std::vector<const Event*> sorted;
      for (size_t i = w0; i < w1; ++i) sorted.push_back(&events_[i]);
      std::stable_sort(sorted.begin(), sorted.end(),
                       [](const Event* a, const Event* b) { return a->view.lead_id < b->view.lead_id; });
      for (size_t b0 = 0; b0 < sorted.size();) {
        std::string framed, seqs;
        size_t b1 = b0;
        uint64_t prev = sorted[b0]->view.seq;
        while (b1 < sorted.size() && framed.size() < block_bytes) {
          EventView v = sorted[b1]->view;
          v.seq = 1 + (b1 - b0);  // renumbered; the real seqs are kept apart (kRecords) or implied
          if (layout == Layout::kRecords) {
            PutVarint64(&seqs, sorted[b1]->view.seq - prev);
            prev = sorted[b1]->view.seq;
          } else if (layout == Layout::kSplit) {
            v = EventView{v.seq, 0, "a", {}, {}, {}, {}, v.data};
          } else {
            v.ts_ns = 0;
            v.lead_id = {};
          }
          AppendFramedRecord(v, &framed);
          ++b1;
        }
        r.stored += Store(framed, static_cast<uint32_t>(b1 - b0), 1) + seqs.size();
        // A probe reads the block if its lead is in it: a lead the window
        // holds sits in one run of the sorted records, so a block whose
        // lead range holds it holds it.
        for (size_t k = b0; k < b1; ++k) {
          const std::string_view lead = sorted[k]->view.lead_id;
          if (lead.empty() || (k > b0 && lead == sorted[k - 1]->view.lead_id)) continue;
          lead_blocks += Share(std::string(lead)) * static_cast<double>(framed.size() + seqs.size());
        }
        b0 = b1;
      }
    }
    r.lookup_raw = lead_blocks + SeqPartRead(window, seq_part_raw);
    return r;
  }

  size_t raw_bytes() const {
    size_t n = 0;
    for (const Event& e : events_) n += 4 + e.record.size();
    return n;
  }

 private:
  Result RunDict(size_t block_bytes) {
    // Train on the column-encoded blocks of the first 8 MB.
    std::string samples;
    std::vector<size_t> sample_sizes;
    for (size_t b0 = 0; b0 < events_.size() && samples.size() < (8u << 20);) {
      const size_t b1 = BlockEnd(b0, block_bytes);
      size_t tail = 0;
      const std::string columns = Columns(Framed(b0, b1), static_cast<uint32_t>(b1 - b0), events_[b0].view.seq, &tail);
      samples.append(columns.data(), columns.size() - tail);
      sample_sizes.push_back(columns.size() - tail);
      b0 = b1;
    }
    std::string dict(112u << 10, '\0');
    const size_t dict_size =
        ZDICT_trainFromBuffer(dict.data(), dict.size(), samples.data(), sample_sizes.data(),
                              static_cast<unsigned>(sample_sizes.size()));
    if (ZDICT_isError(dict_size)) {
      std::fprintf(stderr, "zdict: %s\n", ZDICT_getErrorName(dict_size));
      std::exit(1);
    }
    cdict_ = ZSTD_createCDict(dict.data(), dict_size, 1);
    Result r;
    r.stored = dict_size;
    std::map<std::string_view, double> read_of;  // per lead: raw bytes of the blocks holding it
    for (size_t b0 = 0; b0 < events_.size();) {
      const size_t b1 = BlockEnd(b0, block_bytes);
      const std::string framed = Framed(b0, b1);
      r.stored += Store(framed, static_cast<uint32_t>(b1 - b0), events_[b0].view.seq);
      std::vector<std::string_view> leads;
      for (size_t i = b0; i < b1; ++i) leads.push_back(events_[i].view.lead_id);
      std::sort(leads.begin(), leads.end());
      leads.erase(std::unique(leads.begin(), leads.end()), leads.end());
      for (std::string_view lead : leads) read_of[lead] += static_cast<double>(framed.size());
      b0 = b1;
    }
    ZSTD_freeCDict(cdict_);
    cdict_ = nullptr;
    for (const auto& [lead, bytes] : read_of) {
      if (!lead.empty()) r.lookup_raw += Share(std::string(lead)) * bytes;
    }
    return r;
  }

  double Share(const std::string& lead) const {
    return static_cast<double>(lead_events_.at(lead)) / static_cast<double>(events_.size());
  }
  // Raw bytes of the seq-ordered blocks an average probe reads: those of
  // the windows holding its lead.
  double SeqPartRead(size_t window, const std::vector<double>& seq_part_raw) const {
    if (seq_part_raw.empty()) return 0;
    std::map<std::string_view, std::vector<size_t>> windows_of;
    for (size_t i = 0; i < events_.size(); ++i) {
      auto& w = windows_of[events_[i].view.lead_id];
      if (w.empty() || w.back() != i / window) w.push_back(i / window);
    }
    double read = 0;
    for (const auto& [lead, ws] : windows_of) {
      if (lead.empty()) continue;
      double bytes = 0;
      for (size_t w : ws) bytes += seq_part_raw[w];
      read += Share(std::string(lead)) * bytes;
    }
    return read;
  }

  std::vector<Event> events_;
  std::map<std::string, uint64_t> lead_events_;
  ZSTD_CCtx* cctx_ = ZSTD_createCCtx();
  ZSTD_CDict* cdict_ = nullptr;  // kDict's, while it runs
};

}  // namespace
}  // namespace stele

int main(int argc, char** argv) {
  using namespace stele;
  const std::string path = argc > 1 ? argv[1] : "";
  std::string only;
  if (argc > 2 && std::string_view(argv[2]).starts_with("--only=")) {
    only = argv[2] + 7;
    for (int i = 2; i + 1 < argc; ++i) argv[i] = argv[i + 1];
    --argc;
  }
  if (argc < 2 || argc % 2 != 0) {
    std::fprintf(stderr, "usage: %s SEGMENT_FILE [--only=LAYOUT] [WINDOW_FRAMES BLOCK_KIB]...\n", argv[0]);
    return 2;
  }
  const size_t slash = path.find_last_of('/');
  const uint64_t first = std::strtoull(path.c_str() + (slash == std::string::npos ? 0 : slash + 1), nullptr, 10);
  auto segment = SegmentReader::Open(Env::Default(), path, first);
  if (!segment.ok()) {
    std::fprintf(stderr, "%s\n", segment.status().ToString().c_str());
    return 1;
  }
  size_t stored = 0;
  std::vector<Event> events;
  std::string raw;
  for (size_t i = 0; i < (*segment)->frames().size(); ++i) {
    stored += (*segment)->frames()[i].stored_len;
    if (Status s = (*segment)->ReadFrame(i, &raw); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    for (size_t pos = 0; pos + 4 <= raw.size();) {
      const uint32_t len = GetU32(raw.data() + pos);
      events.push_back({raw.substr(pos + 4, len), {}});
      pos += 4 + len;
    }
  }
  for (Event& e : events) {
    if (!DecodeRecord(e.record, &e.view)) {
      std::fprintf(stderr, "malformed record\n");
      return 1;
    }
  }
  const size_t per_frame = events.size() / std::max<size_t>(1, (*segment)->frames().size());
  Study study(std::move(events));
  const double raw_total = static_cast<double>(study.raw_bytes());
  std::printf("%zu frames of about %zu events, %.1f MB raw, %.1f MB stored\n", (*segment)->frames().size(), per_frame,
              raw_total / 1e6, static_cast<double>(stored) / 1e6);
  std::printf("%-8s %8s %8s %12s %10s %14s\n", "layout", "window", "blockKiB", "stored MB", "vs frames",
              "lookup reads");
  for (int a = 2; a + 1 < argc; a += 2) {
    const size_t window = std::strtoull(argv[a], nullptr, 10) * per_frame;
    const size_t block = std::strtoull(argv[a + 1], nullptr, 10) << 10;
    const std::pair<const char*, Study::Layout> layouts[] = {{"seq", Study::Layout::kSeq},
                                                             {"records", Study::Layout::kRecords},
                                                             {"split", Study::Layout::kSplit},
                                                             {"keyed", Study::Layout::kKeyed},
                                                             {"dict", Study::Layout::kDict}};
    for (const auto& [name, layout] : layouts) {
      if (!only.empty() && only != name) continue;
      const Study::Result r = study.Run(layout, window, block);
      std::printf("%-8s %8s %8zu %12.2f %10.3f ", name, argv[a], block >> 10, static_cast<double>(r.stored) / 1e6,
                  static_cast<double>(r.stored) / static_cast<double>(stored));
      std::printf("%13.2f%%\n", 100.0 * r.lookup_raw / raw_total);
    }
  }
  return 0;
}
