// The active segment's field index in chunks, and its file (<segment>.lidx):
// merged chunks equal one builder's index, a reader in another process and
// the next open use the file, and a torn or damaged file costs only reads.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <tuple>
#include <utility>

#include "event/record.h"
#include "index/live_index.h"
#include "query/count.h"
#include "query/scan_iterator.h"
#include "stele/stats.h"
#include "test_util.h"
#include "util/coding.h"
#include "util/env.h"
#include "workload/generator.h"

namespace stele {
namespace {

namespace fs = std::filesystem;
using test::StoredEvent;

// Frames of generated events, as the writer hands them to the index.
struct Frames {
  std::vector<std::string> raw;
  std::vector<uint32_t> counts;
  std::vector<StoredEvent> events;
  std::vector<uint32_t> frame_of;  // per event
};

Frames MakeFrames(size_t n_frames, uint64_t seed) {
  WorkloadGenerator::Config config;
  config.leads = 400;
  WorkloadGenerator gen(config);
  std::mt19937_64 rng(seed);
  Frames f;
  uint64_t seq = 1;
  for (size_t i = 0; i < n_frames; ++i) {
    std::string raw;
    const uint32_t n = 1 + static_cast<uint32_t>(rng() % 60);
    for (uint32_t k = 0; k < n; ++k, ++seq) {
      f.events.push_back(test::ExpectedFromLine(seq, gen.Event(seq - 1)));
      f.frame_of.push_back(static_cast<uint32_t>(i));
      AppendFramedRecord(f.events.back().View(), &raw);
    }
    f.raw.push_back(std::move(raw));
    f.counts.push_back(n);
  }
  return f;
}

// (frame, events) of every frame holding the value, from the events alone.
std::vector<FrameCount> ExpectedCounts(const Frames& f, IndexedField field, const std::string& value, bool prefix,
                                       uint32_t frames_below = UINT32_MAX) {
  std::map<uint32_t, uint32_t> by_frame;
  for (size_t i = 0; i < f.events.size(); ++i) {
    const std::string_view v = FieldOf(f.events[i].View(), field);
    if (f.frame_of[i] < frames_below && !v.empty() && (prefix ? v.starts_with(value) : v == value)) {
      ++by_frame[f.frame_of[i]];
    }
  }
  std::vector<FrameCount> out;
  for (auto [frame, n] : by_frame) out.push_back({frame, n});
  return out;
}

// Probes: every field, present and absent values, a type prefix.
std::vector<std::tuple<IndexedField, std::string, bool>> Probes(const Frames& f) {
  std::vector<std::tuple<IndexedField, std::string, bool>> out;
  for (size_t i = 0; i < f.events.size(); i += f.events.size() / 17) {
    const StoredEvent& e = f.events[i];
    out.emplace_back(IndexedField::kType, e.type, false);
    out.emplace_back(IndexedField::kType, e.type.substr(0, e.type.find('.') + 1), true);
    out.emplace_back(IndexedField::kActor, e.actor, false);
    out.emplace_back(IndexedField::kSource, e.source, false);
    out.emplace_back(IndexedField::kLeadId, e.lead_id, false);
    out.emplace_back(IndexedField::kWorkflowId, e.workflow_id, false);
  }
  out.emplace_back(IndexedField::kLeadId, "L-none", false);
  out.emplace_back(IndexedField::kType, "zz.", true);
  return out;
}

TEST(LiveIndexChunks, MergedChunksAreByteForByteWhatOneBuilderWrites) {
  test::TempDir dir;
  const Frames f = MakeFrames(300, 1);
  const std::string segment = dir.Sub("00000000000000000001.seg");
  SegmentIndexBuilder whole;
  LiveSegmentIndex live(1, Env::Default(), segment, 700);
  for (uint32_t i = 0; i < f.raw.size(); ++i) {
    whole.AddFrame(i, f.raw[i]);
    live.AddFrame(i, f.raw[i], f.counts[i]);
    // Every due chunk persisted, except that one cut stays pending at the
    // end: Finish() and lookups must take chunks, the cut and the builder.
    if (live.ChunkDue()) {
      live.CutChunk();
      if (i + 20 < f.raw.size()) live.PersistCut();
    }
  }
  EXPECT_GE(live.chunk_count(), 10u);
  EXPECT_FALSE(live.write_failed());
  auto merged = live.Finish();
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_TRUE(*merged == whole.Finish()) << "the merge differs from the single builder's file";
  for (const auto& [field, value, prefix] : Probes(f)) {
    EXPECT_EQ(live.FrameCounts(field, value, prefix), ExpectedCounts(f, field, value, prefix)) << value;
    Query q;
    if (field == IndexedField::kLeadId) q.lead_id = value;
    if (field == IndexedField::kType) q.type = prefix ? value + "*" : value;
    if (!q.lead_id && !q.type) continue;
    std::vector<uint32_t> frames;
    for (const FrameCount& c : ExpectedCounts(f, field, value, prefix)) frames.push_back(c.frame);
    EXPECT_EQ(live.Candidates(q), std::optional<std::vector<uint32_t>>(frames)) << value;
  }
}

TEST(LiveIndexChunks, ALoadTakesTheWholeCheckedChunksThatTileTheFrames) {
  test::TempDir dir;
  const Frames f = MakeFrames(200, 2);
  const std::string segment = dir.Sub("00000000000000000001.seg");
  std::vector<uint32_t> chunk_ends;
  {
    LiveSegmentIndex live(1, Env::Default(), segment, 900);
    for (uint32_t i = 0; i < f.raw.size(); ++i) {
      live.AddFrame(i, f.raw[i], f.counts[i]);
      if (live.ChunkDue()) {
        live.CutChunk();
        live.PersistCut();
        chunk_ends.push_back(i + 1);
      }
    }
  }
  ASSERT_GE(chunk_ends.size(), 4u);
  const std::string path = LiveIndexPath(segment);
  const std::string file = test::ReadFileBytes(path);
  auto load = [&](uint32_t max_frames) { return LiveSegmentIndex::Load(Env::Default(), segment, 1, max_frames, false); };
  auto expect_answers = [&](const LiveSegmentIndex& index, uint32_t end) {
    EXPECT_EQ(index.indexed_frames(), end);
    for (const auto& [field, value, prefix] : Probes(f)) {
      EXPECT_EQ(index.FrameCounts(field, value, prefix), ExpectedCounts(f, field, value, prefix, end)) << value;
    }
  };
  expect_answers(*load(UINT32_MAX), chunk_ends.back());
  // A reader whose snapshot ends inside chunk 3 takes chunks 1 and 2.
  expect_answers(*load(chunk_ends[2] - 1), chunk_ends[1]);

  // A torn last chunk (a reader racing the writer) is left out.
  test::WriteFileBytes(path, file.substr(0, file.size() - 5));
  expect_answers(*load(UINT32_MAX), chunk_ends[chunk_ends.size() - 2]);
  // A damaged byte in the second chunk ends the file there.
  std::string damaged = file;
  const size_t first_chunk_bytes = 16 + 12 + GetU32(file.data() + 16 + 8) + 8;
  damaged[first_chunk_bytes + 40] ^= 0x20;
  test::WriteFileBytes(path, damaged);
  expect_answers(*load(UINT32_MAX), chunk_ends[0]);
  // Not a live index file at all, or none: nothing is indexed.
  test::WriteFileBytes(path, "STELEFIX" + file.substr(8));
  expect_answers(*load(UINT32_MAX), 0);
  fs::remove(path);
  expect_answers(*load(UINT32_MAX), 0);

  // The writer resuming a torn file cuts it back to its whole chunks and
  // appends after them.
  test::WriteFileBytes(path, file.substr(0, file.size() - 5));
  {
    auto resumed = LiveSegmentIndex::Load(Env::Default(), segment, 1, UINT32_MAX, true, 900);
    const uint32_t from = resumed->indexed_frames();
    ASSERT_EQ(from, chunk_ends[chunk_ends.size() - 2]);
    for (uint32_t i = from; i < f.raw.size(); ++i) resumed->AddFrame(i, f.raw[i], f.counts[i]);
    resumed->CutChunk();
    resumed->PersistCut();
    EXPECT_FALSE(resumed->write_failed());
  }
  expect_answers(*load(UINT32_MAX), static_cast<uint32_t>(f.raw.size()));
}

Options SmallChunks(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.frame_target_bytes = 4 << 10;
  o.live_index_chunk_events = 1500;
  return o;
}

TEST(LiveIndexFile, AnotherProcessQueriesTheActiveSegmentThroughIt) {
  test::TempDir dir;
  WorkloadGenerator::Config config;
  config.leads = 3000;
  WorkloadGenerator gen(config);
  std::vector<StoredEvent> expected;
  auto append_in_a_new_session = [&](size_t more_events) {
    auto log = Log::Open(SmallChunks(dir.path()));
    ASSERT_TRUE(log.ok());
    test::AppendGenerated(log->get(), gen, expected.size() + more_events, &expected);
    ASSERT_TRUE((*log)->Shutdown().ok());  // saves any chunk that is due
  };
  append_in_a_new_session(20'000);
  append_in_a_new_session(300);
  const auto segments = test::SegmentFiles(dir.path());
  ASSERT_EQ(segments.size(), 1u);
  ASSERT_TRUE(fs::exists(LiveIndexPath(segments[0])));
  auto frames_and_indexed = [&] {
    const auto n = static_cast<uint32_t>(test::FramesOf(test::ReadFileBytes(segments[0])).size());
    return std::pair{n, LiveSegmentIndex::Load(Env::Default(), segments[0], 1, n, false)->indexed_frames()};
  };
  auto [n_frames, indexed] = frames_and_indexed();
  // Where the last chunk ends depends on timing: a chunk that waits for a
  // busy indexer grows, and Shutdown saves one that is due.  If it ended at
  // the last frame, fewer events than a chunk put frames after it.
  if (indexed == n_frames) {
    append_in_a_new_session(300);
    std::tie(n_frames, indexed) = frames_and_indexed();
  }
  EXPECT_GT(indexed, n_frames / 2);
  EXPECT_LT(indexed, n_frames) << "some frames are after the last chunk";

  auto read = [&](const Query& q, uint64_t* frames_read) {
    auto it = ScanIterator::OpenDirectory(dir.path(), q);
    EXPECT_TRUE(it.ok());
    auto seqs = test::Seqs(test::Collect(it->get()));
    *frames_read = (*it)->frames_read();
    return seqs;
  };
  uint64_t all_frames = 0;
  read(Query{}, &all_frames);
  std::map<std::string, int> events_of_lead;
  for (const StoredEvent& e : expected) ++events_of_lead[e.lead_id];
  std::mt19937_64 rng(5);
  for (int k = 0; k < 40; ++k) {
    const StoredEvent& p = expected[rng() % expected.size()];
    Query q;
    q.lead_id = p.lead_id;
    if (k % 3 == 0) q.type = p.type;
    if (k % 4 == 1) q.descending = true;
    uint64_t frames = 0;
    EXPECT_EQ(read(q, &frames), test::ReferenceQuery(expected, q)) << *q.lead_id;
    // A lead of a few events: its frames, and those after the last chunk
    // (about 1,500 events' worth: a tenth of this segment's frames).
    if (events_of_lead[p.lead_id] <= 5) {
      EXPECT_LT(frames, all_frames / 4) << *q.lead_id;
    }
    CountStats stats;
    Query one;
    one.lead_id = p.lead_id;
    auto n = CountEvents(Env::Default(), dir.path(), one, {}, &stats);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, test::ReferenceQuery(expected, one).size());
    EXPECT_GT(stats.frames_from_index, 0u);
  }
  int rare = 0;
  for (const auto& [lead, n] : events_of_lead) {
    if (n > 3 || ++rare > 20) continue;
    Query q;
    q.lead_id = lead;
    uint64_t frames = 0;
    EXPECT_EQ(read(q, &frames), test::ReferenceQuery(expected, q)) << lead;
    EXPECT_LT(frames, all_frames / 4) << lead;
  }
  EXPECT_GT(rare, 10);

  // Stats by lead: the chunks' counts plus the frames after them.
  std::map<std::string, uint64_t> by_lead;
  uint64_t without = 0;
  for (const StoredEvent& e : expected) {
    if (e.lead_id.empty()) {
      ++without;
    } else {
      ++by_lead[e.lead_id];
    }
  }
  auto stats = StatsDirectory(dir.path(), Query{}, StatsBy::kLead, 100000);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->total, expected.size());
  EXPECT_EQ(stats->without, without);
  EXPECT_EQ(stats->segments_from_index, 1u);
  std::map<std::string, uint64_t> got;
  for (const StatsRow& row : stats->rows) got[row.key] = row.count;
  EXPECT_EQ(got, by_lead);

  // Without its file the answers are the same, from reading every frame.
  fs::remove(LiveIndexPath(segments[0]));
  Query q;
  q.lead_id = expected[123].lead_id;
  uint64_t frames = 0;
  EXPECT_EQ(read(q, &frames), test::ReferenceQuery(expected, q));
  EXPECT_EQ(frames, all_frames);
}

TEST(LiveIndexFile, TheNextOpenReadsOnlyTheFramesAfterItsChunks) {
  test::TempDir dir;
  WorkloadGenerator gen({});
  std::vector<StoredEvent> expected;
  uint64_t frames_in_segment = 0;
  for (int round = 0; round < 3; ++round) {
    auto log = Log::Open(SmallChunks(dir.path()));
    ASSERT_TRUE(log.ok());
    if (round > 0) {
      // Only the frames after the last chunk.
      EXPECT_LT((*log)->recovery().frames_reindexed * 4, frames_in_segment) << "round " << round;
    }
    test::AppendGenerated(log->get(), gen, expected.size() + 12'000, &expected);
    // The reopened index answers for old and new frames alike.
    for (uint64_t i = 0; i < expected.size(); i += 997) {
      Query q;
      q.lead_id = expected[i].lead_id;
      auto it = (*log)->Query(q);
      ASSERT_TRUE(it.ok());
      EXPECT_EQ(test::Seqs(test::Collect(it->get())), test::ReferenceQuery(expected, q));
      auto n = (*log)->Count(q);
      ASSERT_TRUE(n.ok());
      EXPECT_EQ(*n, test::ReferenceQuery(expected, q).size());
    }
    ASSERT_TRUE((*log)->Shutdown().ok());
    frames_in_segment = test::FramesOf(test::ReadFileBytes(test::SegmentFiles(dir.path()).back())).size();
  }
  // Without the file, the open indexes every frame again.
  fs::remove(LiveIndexPath(test::SegmentFiles(dir.path()).back()));
  auto log = Log::Open(SmallChunks(dir.path()));
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->recovery().frames_reindexed, frames_in_segment);
  ASSERT_TRUE((*log)->Shutdown().ok());
}

// A writer with the field index off does not keep the file up to date, so
// it removes it: frames it appends after a torn tail must not be read
// through chunks that indexed the frames they replace.
TEST(LiveIndexFile, AWriterWithTheIndexOffRemovesIt) {
  test::TempDir dir;
  WorkloadGenerator gen({});
  std::vector<StoredEvent> expected;
  {
    auto log = Log::Open(SmallChunks(dir.path()));
    ASSERT_TRUE(log.ok());
    test::AppendGenerated(log->get(), gen, 6'000, &expected);
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  const std::string segment = test::SegmentFiles(dir.path()).back();
  ASSERT_TRUE(fs::exists(LiveIndexPath(segment)));
  Options off = SmallChunks(dir.path());
  off.field_index = false;
  {
    auto log = Log::Open(off);
    ASSERT_TRUE(log.ok());
    test::AppendGenerated(log->get(), gen, 8'000, &expected);
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  EXPECT_FALSE(fs::exists(LiveIndexPath(segment)));
  Query q;
  q.lead_id = expected.back().lead_id;
  EXPECT_EQ(test::Seqs(test::QueryAll(dir.path(), q)), test::ReferenceQuery(expected, q));
}

TEST(LiveIndexFile, SealingReplacesItWithTheSegmentIndex) {
  test::TempDir dir;
  Options o = SmallChunks(dir.path());
  o.segment_max_bytes = 256 << 10;
  WorkloadGenerator gen({});
  std::vector<StoredEvent> expected;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  test::AppendGenerated(log->get(), gen, 30'000, &expected);
  ASSERT_TRUE((*log)->Shutdown().ok());
  const auto segments = test::SegmentFiles(dir.path());
  ASSERT_GE(segments.size(), 3u);
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    EXPECT_FALSE(fs::exists(LiveIndexPath(segments[i]))) << segments[i];
    EXPECT_TRUE(fs::exists(SegmentIndexPath(segments[i]))) << segments[i];
  }
  for (uint64_t i = 0; i < expected.size(); i += 1999) {
    Query q;
    q.lead_id = expected[i].lead_id;
    EXPECT_EQ(test::Seqs(test::QueryAll(dir.path(), q)), test::ReferenceQuery(expected, q));
  }
}

}  // namespace
}  // namespace stele
