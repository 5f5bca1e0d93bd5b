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

}  // namespace stele::test
