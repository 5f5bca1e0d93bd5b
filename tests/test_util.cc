#include "test_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "storage/format.h"
#include "workload/generator.h"
#include "util/time.h"

namespace stele::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/stele-test-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  EXPECT_NE(p, nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

StoredEvent Own(const EventView& e) {
  return {e.seq,
          e.ts_ns,
          std::string(e.type),
          std::string(e.actor),
          std::string(e.source),
          std::string(e.lead_id),
          std::string(e.workflow_id),
          std::string(e.data)};
}

std::vector<StoredEvent> Collect(EventIterator* it) {
  std::vector<StoredEvent> out;
  EventView e;
  while (it->Next(&e)) out.push_back(Own(e));
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

std::vector<StoredEvent> QueryAll(const std::string& dir, const Query& q) {
  auto it = QueryDirectory(dir, q);
  EXPECT_TRUE(it.ok()) << it.status().ToString();
  if (!it.ok()) return {};
  return Collect(it->get());
}

std::vector<uint64_t> Seqs(const std::vector<StoredEvent>& events) {
  std::vector<uint64_t> s;
  for (const auto& e : events) s.push_back(e.seq);
  return s;
}

std::vector<uint64_t> ReferenceQuery(const std::vector<StoredEvent>& events, const Query& q) {
  auto match = [&](const StoredEvent& e) {
    if (q.type && *q.type != "*") {
      if (q.type->ends_with(".*")) {
        if (e.type.rfind(q.type->substr(0, q.type->size() - 1), 0) != 0) return false;
      } else if (e.type != *q.type) {
        return false;
      }
    }
    if (q.actor && e.actor != *q.actor) return false;
    if (q.source && e.source != *q.source) return false;
    if (q.lead_id && e.lead_id != *q.lead_id) return false;
    if (q.workflow_id && e.workflow_id != *q.workflow_id) return false;
    if (q.since_ns && e.ts_ns < *q.since_ns) return false;
    if (q.until_ns && e.ts_ns >= *q.until_ns) return false;
    if (q.after && (q.descending ? e.seq >= q.after : e.seq <= q.after)) return false;
    if (q.seq_from && e.seq < *q.seq_from) return false;
    if (q.seq_to && e.seq > *q.seq_to) return false;
    return true;
  };
  std::vector<uint64_t> out;
  if (q.descending) {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (match(*it)) out.push_back(it->seq);
    }
  } else {
    for (const auto& e : events) {
      if (match(e)) out.push_back(e.seq);
    }
  }
  if (q.limit && out.size() > q.limit) out.resize(q.limit);
  return out;
}

StoredEvent ExpectedFromLine(uint64_t seq, const std::string& line) {
  auto field = [&](const std::string& key) -> std::string {
    const std::string k = "\"" + key + "\":\"";
    const size_t at = line.find(k);
    if (at == std::string::npos) return {};
    const size_t start = at + k.size();
    return line.substr(start, line.find('"', start) - start);
  };
  StoredEvent e;
  e.seq = seq;
  std::string why;
  e.ts_ns = *ParseRfc3339(field("ts"), &why);
  e.type = field("type");
  e.actor = field("actor");
  e.source = field("source");
  e.lead_id = field("lead_id");
  e.workflow_id = field("workflow_id");
  const size_t d = line.find("\"data\":");
  e.data = line.substr(d + 7, line.size() - 1 - (d + 7));
  return e;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(dir + "/segments")) {
    if (e.path().extension() == ".seg") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<FrameLoc> FramesOf(const std::string& bytes) {
  std::vector<FrameLoc> out;
  size_t off = format::kSegmentHeaderSize;
  while (off + format::kFrameHeaderSize <= bytes.size()) {
    format::FrameHeader h;
    if (!format::DecodeFrameHeader(bytes.data() + off, &h)) break;
    const size_t size = format::kFrameHeaderSize + h.stored_len;
    out.push_back({off, size, h.first_seq, h.count});
    off += size;
  }
  return out;
}

EventView StoredEvent::View() const {
  EventView e;
  e.seq = seq;
  e.ts_ns = ts_ns;
  e.type = type;
  e.actor = actor;
  e.source = source;
  e.lead_id = lead_id;
  e.workflow_id = workflow_id;
  e.data = data;
  return e;
}

void AppendGenerated(Log* log, WorkloadGenerator& gen, uint64_t n, std::vector<StoredEvent>* expected) {
  std::string batch;
  for (uint64_t i = expected->size(); i < n; ++i) {
    std::string line = gen.Event(i);
    expected->push_back(ExpectedFromLine(i + 1, line));
    batch += line + "\n";
    if (batch.size() > (64 << 10) || i + 1 == n) {
      auto r = log->AppendBatch(batch);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      batch.clear();
    }
  }
}

}  // namespace stele::test
