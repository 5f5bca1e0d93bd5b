// Helpers shared by the tests: scratch directories, collecting query results.
#pragma once

#include <string>
#include <vector>

#include "stele/stele.h"
#include "workload/generator.h"

namespace stele::test {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An owned copy of an EventView.
struct StoredEvent {
  uint64_t seq = 0;
  int64_t ts_ns = 0;
  std::string type, actor, source, lead_id, workflow_id, data;
  bool operator==(const StoredEvent&) const = default;
  // A view of it (valid while it lives), e.g. for AppendEventJson.
  EventView View() const;
};
StoredEvent Own(const EventView& e);

// Runs the query to the end; fails the test on a non-OK status.
std::vector<StoredEvent> Collect(EventIterator* it);
std::vector<StoredEvent> QueryAll(const std::string& dir, const Query& q);
std::vector<uint64_t> Seqs(const std::vector<StoredEvent>& events);

// The brute-force answer to q over events held in memory (ascending seq),
// written from the Query contract independently of the engine.
std::vector<uint64_t> ReferenceQuery(const std::vector<StoredEvent>& events, const Query& q);
// The stored form of a generated workload line with the given seq.
StoredEvent ExpectedFromLine(uint64_t seq, const std::string& line);

// Appends gen's events [expected->size(), n) to log in batches of about 64
// KiB, and their stored form to *expected; fails the test on an error.
void AppendGenerated(Log* log, WorkloadGenerator& gen, uint64_t n, std::vector<StoredEvent>* expected);

// Segment files of a data directory, oldest first (full paths).
std::vector<std::string> SegmentFiles(const std::string& dir);
uint64_t FileSize(const std::string& path);
std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);

// Frame headers of a segment file, walked from the segment header until the
// first bytes that are not a frame (the index of a sealed segment, or EOF).
struct FrameLoc {
  size_t offset = 0;  // of the frame header
  size_t size = 0;    // header + payload
  uint64_t first_seq = 0;
  uint32_t count = 0;
};
std::vector<FrameLoc> FramesOf(const std::string& segment_bytes);

}  // namespace stele::test
