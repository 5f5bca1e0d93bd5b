// Lead runs (index/lead_runs.h): the sealed segments' events of their busiest
// leads, grouped by lead, which lead lookups read instead of frames.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "event/record.h"
#include "index/lead_runs.h"
#include "index/name_table.h"
#include "ingest/retention.h"
#include "query/scan_iterator.h"
#include "stele/integrity.h"
#include "storage/format.h"
#include "test_util.h"
#include "util/coding.h"
#include "workload/generator.h"

namespace stele {
namespace {

namespace fs = std::filesystem;
using test::StoredEvent;

class LeadRunsTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kEvents = 40'000;

  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    expected_ = new std::vector<StoredEvent>();
    WorkloadGenerator::Config config;
    config.leads = 2000;  // Zipf: a few leads in every frame, most in a few
    WorkloadGenerator gen(config);
    Options o;
    o.dir = dir_->path();
    o.segment_max_bytes = 256 << 10;
    o.frame_target_bytes = 8 << 10;
    o.lead_run_min_events = 8;
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    test::AppendGenerated(log->get(), gen, kEvents, expected_);
    ASSERT_TRUE((*log)->Shutdown().ok());
    ASSERT_GE((*log)->stats().segments_sealed, 3u);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete expected_;
  }

  struct Answer {
    std::vector<uint64_t> seqs;
    uint64_t run_blocks = 0;
    uint64_t frames_read = 0;
  };
  static Answer Run(const std::string& dir, const Query& q) {
    auto it = ScanIterator::Open(Env::Default(), dir, q);
    EXPECT_TRUE(it.ok());
    Answer a;
    a.seqs = test::Seqs(test::Collect(it->get()));
    a.run_blocks = (*it)->run_blocks_visited();
    a.frames_read = (*it)->frames_read();
    return a;
  }

  // The most frequent lead of the log.
  static std::string BusiestLead() {
    std::map<std::string, int> n;
    for (const auto& e : *expected_) ++n[e.lead_id];
    return std::max_element(n.begin(), n.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  }

  static test::TempDir* dir_;
  static std::vector<StoredEvent>* expected_;
};
test::TempDir* LeadRunsTest::dir_ = nullptr;
std::vector<StoredEvent>* LeadRunsTest::expected_ = nullptr;

TEST_F(LeadRunsTest, SealedSegmentsHaveRunsOfTheirBusiestLeadsOnly) {
  auto files = test::SegmentFiles(dir_->path());
  ASSERT_GE(files.size(), 4u);
  size_t column_blocks = 0;
  for (size_t i = 0; i + 1 < files.size(); ++i) {
    const uint64_t first = std::stoull(fs::path(files[i]).stem().string());
    auto runs = LeadRuns::Load(Env::Default(), files[i], first);
    ASSERT_TRUE(runs.ok()) << files[i] << ": " << runs.status().ToString();
    ASSERT_GT((*runs)->lead_count(), 0u);
    // Each run holds its lead's events of the segment, and leads under the
    // threshold have none.
    std::map<std::string, uint64_t> in_segment;
    const uint64_t next = std::stoull(fs::path(files[i + 1]).stem().string());
    for (uint64_t seq = first; seq < next; ++seq) ++in_segment[(*expected_)[seq - 1].lead_id];
    for (const auto& [lead, n] : in_segment) {
      auto blocks = (*runs)->BlocksOf(lead);
      if (n < 8) {
        EXPECT_TRUE(blocks.empty()) << lead;
        continue;
      }
      uint64_t held = 0;
      for (const LeadRunBlock& b : blocks) {
        held += b.count;
        column_blocks += b.layout == kRunBlockColumns;
      }
      EXPECT_EQ(held, n) << lead;
    }
  }
  EXPECT_FALSE(fs::exists(LeadRunsPath(files.back()))) << "the active segment has none";
  EXPECT_GT(column_blocks, 0u) << "blocks of canonical records are stored as columns";
}

TEST_F(LeadRunsTest, LeadLookupsReadTheRunsAndMatchBruteForceWithPaging) {
  std::mt19937_64 rng(99);
  uint64_t run_blocks = 0;
  for (int round = 0; round < 200; ++round) {
    const StoredEvent& p = (*expected_)[rng() % kEvents];
    Query q;
    q.lead_id = p.lead_id;
    if (rng() % 3 == 0) q.type = p.type;
    if (rng() % 4 == 0) q.workflow_id = p.workflow_id;
    if (rng() % 4 == 0) q.since_ns = p.ts_ns - static_cast<int64_t>(rng() % 20'000'000'000);
    if (rng() % 4 == 0) q.until_ns = p.ts_ns + static_cast<int64_t>(rng() % 20'000'000'000);
    if (rng() % 5 == 0) q.seq_from = 1 + rng() % kEvents;
    if (rng() % 5 == 0) q.seq_to = 1 + rng() % kEvents;
    if (rng() % 6 == 0) q.actor = p.actor;
    if (rng() % 6 == 0) q.source = rng() % 2 ? p.source : "nowhere";
    q.descending = rng() % 2;
    const auto want = test::ReferenceQuery(*expected_, q);
    const Answer got = Run(dir_->path(), q);
    ASSERT_EQ(got.seqs, want) << "round " << round;
    run_blocks += got.run_blocks;
    q.limit = 1 + rng() % 50;
    std::vector<uint64_t> paged;
    for (int pages = 0; pages < 10000; ++pages) {
      auto page = Run(dir_->path(), q).seqs;
      if (page.empty()) break;
      paged.insert(paged.end(), page.begin(), page.end());
      q.after = page.back();
    }
    ASSERT_EQ(paged, want) << "round " << round << " paged by " << q.limit;
  }
  EXPECT_GT(run_blocks, 0u);
}

TEST_F(LeadRunsTest, ABusyLeadReadsFarLessThanWithoutRuns) {
  Query q;
  q.lead_id = BusiestLead();
  const Answer with = Run(dir_->path(), q);
  test::TempDir copy;
  fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  for (const auto& f : test::SegmentFiles(copy.path())) fs::remove(LeadRunsPath(f));
  const Answer without = Run(copy.path(), q);
  EXPECT_EQ(with.seqs, without.seqs);
  EXPECT_EQ(with.seqs, test::ReferenceQuery(*expected_, q));
  EXPECT_GT(with.run_blocks, 0u);
  EXPECT_EQ(without.run_blocks, 0u);
  // Without runs the lead sits in nearly every frame; with them only the
  // active segment's frames and the runs' blocks are decompressed.
  EXPECT_LT(with.frames_read * 3, without.frames_read) << with.frames_read << " vs " << without.frames_read;
}

TEST_F(LeadRunsTest, AnOpenLogsQueriesUseTheRunsThroughItsCaches) {
  Options o;
  o.dir = dir_->path();
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  std::mt19937_64 rng(4);
  for (int round = 0; round < 60; ++round) {
    Query q;
    q.lead_id = (*expected_)[rng() % kEvents].lead_id;
    q.descending = rng() % 2;
    for (int again = 0; again < 2; ++again) {  // the second from the frame cache
      auto it = (*log)->Query(q);
      ASSERT_TRUE(it.ok());
      ASSERT_EQ(test::Seqs(test::Collect(it->get())), test::ReferenceQuery(*expected_, q)) << "round " << round;
    }
  }
  ASSERT_TRUE((*log)->Shutdown().ok());
}

TEST_F(LeadRunsTest, AMissingOrDamagedFileFallsBackToTheFrames) {
  test::TempDir copy;
  fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  auto files = test::SegmentFiles(copy.path());
  fs::remove(LeadRunsPath(files[0]));
  std::string bytes = test::ReadFileBytes(LeadRunsPath(files[1]));
  bytes[bytes.size() - 20] ^= 0x40;  // the trailer's checksum
  test::WriteFileBytes(LeadRunsPath(files[1]), bytes);
  Query q;
  q.lead_id = BusiestLead();
  const Answer got = Run(copy.path(), q);
  EXPECT_EQ(got.seqs, test::ReferenceQuery(*expected_, q));
  EXPECT_GT(got.run_blocks, 0u) << "the other segments' runs are still read";
}

TEST_F(LeadRunsTest, ADamagedBlockIsReportedNotServed) {
  test::TempDir copy;
  fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string file = test::SegmentFiles(copy.path())[0];
  std::string bytes = test::ReadFileBytes(LeadRunsPath(file));
  bytes[20] ^= 0x01;  // inside the first block
  test::WriteFileBytes(LeadRunsPath(file), bytes);
  auto runs = LeadRuns::Load(Env::Default(), file, 1);
  ASSERT_TRUE(runs.ok());
  // The lead whose block starts the file.
  std::string lead;
  for (size_t i = 0; i < (*runs)->lead_count(); ++i) {
    if ((*runs)->blocks(i).front().offset == 16) lead = std::string((*runs)->lead(i));
  }
  ASSERT_FALSE(lead.empty());
  Query q;
  q.lead_id = lead;
  auto it = ScanIterator::Open(Env::Default(), copy.path(), q);
  ASSERT_TRUE(it.ok());
  EventView e;
  while ((*it)->Next(&e)) {
  }
  EXPECT_EQ((*it)->status().code(), StatusCode::kCorruption);
  EXPECT_NE((*it)->status().message().find("fails its checksum"), std::string::npos) << (*it)->status().ToString();
}

// Rewrites the runs of the segment at `file` through `edit`, which may change
// each lead's records (canonical records, seq order) before they are written.
void RewriteRuns(const std::string& file, uint64_t first,
                 const std::function<void(const std::string& lead, std::vector<std::string>*)>& edit) {
  auto runs = LeadRuns::Load(Env::Default(), file, first);
  ASSERT_TRUE(runs.ok());
  std::vector<std::string> leads;
  std::vector<std::vector<std::string>> records((*runs)->lead_count());
  std::string raw;
  for (size_t i = 0; i < (*runs)->lead_count(); ++i) {
    leads.emplace_back((*runs)->lead(i));
    for (const LeadRunBlock& b : (*runs)->blocks(i)) {
      ASSERT_TRUE((*runs)->ReadBlock(b, &raw).ok());
      for (size_t pos = 0; pos < raw.size();) {
        const uint32_t len = GetU32(raw.data() + pos);
        records[i].emplace_back(raw.substr(pos + 4, len));
        pos += 4 + len;
      }
    }
    edit(leads[i], &records[i]);
  }
  runs->reset();
  const std::string path = LeadRunsPath(file);
  fs::remove(path);
  auto out = Env::Default()->OpenAppendable(path);
  ASSERT_TRUE(out.ok());
  LeadRunsBuilder builder(std::move(out).value(), first, leads, LeadRunOptions{});
  for (size_t i = 0; i < leads.size(); ++i) {
    for (const std::string& r : records[i]) {
      ASSERT_TRUE(builder.Add(static_cast<int>(i), r, GetU64(r.data()), static_cast<int64_t>(GetU64(r.data() + 8))).ok());
    }
  }
  ASSERT_TRUE(builder.Finish().ok());
}

TEST_F(LeadRunsTest, VerifyChecksEveryRunAgainstItsSegment) {
  auto intact = VerifyLog(dir_->path(), {});
  ASSERT_TRUE(intact.ok());
  EXPECT_TRUE(intact->ok) << intact->reason;
  EXPECT_GE(intact->lead_run_files, 3u);

  struct Tamper {
    const char* name;
    std::function<void(const std::string&, std::vector<std::string>*)> edit;
    const char* says;
  };
  const std::vector<Tamper> tampers = {
      {"a data byte changed",
       [](const std::string&, std::vector<std::string>* r) { r->back()[r->back().size() - 3] ^= 0x02; },
       "differs from the segment"},
      {"an event dropped", [](const std::string&, std::vector<std::string>* r) { r->erase(r->begin()); },
       "events where the segment holds"},
      {"an event doubled", [](const std::string&, std::vector<std::string>* r) { r->push_back(r->back()); },
       "out of seq order"},
  };
  for (const Tamper& t : tampers) {
    test::TempDir copy;
    fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    const std::string file = test::SegmentFiles(copy.path())[1];
    const uint64_t first = std::stoull(fs::path(file).stem().string());
    RewriteRuns(file, first, [&](const std::string& lead, std::vector<std::string>* r) {
      if (lead == BusiestLead()) t.edit(lead, r);
    });
    auto report = VerifyLog(copy.path(), {});
    ASSERT_TRUE(report.ok());
    EXPECT_FALSE(report->ok) << t.name;
    EXPECT_EQ(report->first_bad_seq, first) << t.name;
    EXPECT_NE(report->reason.find("lead runs"), std::string::npos) << t.name << ": " << report->reason;
    EXPECT_NE(report->reason.find(t.says), std::string::npos) << t.name << ": " << report->reason;
  }
}

// Past its memory budget the builder cuts a lead's block as soon as it holds
// an eighth of block_bytes: blocks get smaller, the events stay the same.
TEST_F(LeadRunsTest, ABuilderPastItsMemoryBudgetCutsBlocksEarlyAndHoldsTheSameEvents) {
  test::TempDir copy;
  fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string file = test::SegmentFiles(copy.path())[1];
  const uint64_t first = std::stoull(fs::path(file).stem().string());
  auto before = LeadRuns::Load(Env::Default(), file, first);
  ASSERT_TRUE(before.ok());
  auto index = SegmentIndex::Load(Env::Default(), file);
  ASSERT_TRUE(index.ok());
  LeadRunOptions o;
  o.min_events = 8;
  o.block_bytes = 8u << 10;
  o.pending_budget_bytes = 1;  // always past it
  fs::remove(LeadRunsPath(file));
  ASSERT_TRUE(WriteLeadRuns(Env::Default(), file, first, *index, o).ok());
  auto after = LeadRuns::Load(Env::Default(), file, first);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ((*after)->lead_count(), (*before)->lead_count());
  size_t blocks_before = 0, blocks_after = 0;
  for (size_t i = 0; i < (*after)->lead_count(); ++i) {
    ASSERT_EQ((*after)->lead(i), (*before)->lead(i));
    EXPECT_EQ((*after)->events(i), (*before)->events(i)) << (*after)->lead(i);
    blocks_before += (*before)->blocks(i).size();
    blocks_after += (*after)->blocks(i).size();
    for (const LeadRunBlock& b : (*after)->blocks(i)) {
      // Cut once it reached block_bytes / 8: at most that plus one record.
      EXPECT_LT(b.raw_len, o.block_bytes / 8 + 1024) << (*after)->lead(i);
    }
  }
  EXPECT_GT(blocks_after, blocks_before);
  auto report = VerifyLog(copy.path(), {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
  Query q;
  q.lead_id = BusiestLead();
  const Answer a = Run(copy.path(), q);
  EXPECT_EQ(a.seqs, test::ReferenceQuery(*expected_, q));
  EXPECT_GT(a.run_blocks, 0u);
}

TEST_F(LeadRunsTest, RetentionRemovesARunWithItsSegment) {
  test::TempDir copy;
  fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string file = test::SegmentFiles(copy.path())[0];
  ASSERT_TRUE(fs::exists(LeadRunsPath(file)));
  ASSERT_TRUE(RemoveSegmentFiles(Env::Default(), fs::path(file).parent_path().string(), 1).ok());
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(LeadRunsPath(file)));
}

TEST_F(LeadRunsTest, OpenRebuildsTheRunsACrashLeftUnwrittenAndRemovesTemporaryFiles) {
  test::TempDir copy;
  fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  auto files = test::SegmentFiles(copy.path());
  const std::string newest_sealed = files[files.size() - 2];
  const std::string run = LeadRunsPath(newest_sealed);
  const std::string intact = test::ReadFileBytes(run);
  // What a kill -9 while the indexer thread wrote the file leaves.
  fs::remove(run);
  test::WriteFileBytes(run + ".tmp", intact.substr(0, intact.size() / 2));
  Options o;
  o.dir = copy.path();
  o.lead_run_min_events = 8;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->Shutdown().ok());
  EXPECT_FALSE(fs::exists(run + ".tmp"));
  ASSERT_TRUE(fs::exists(run));
  EXPECT_EQ(test::ReadFileBytes(run), intact) << "the same leads, the same blocks";
}

TEST_F(LeadRunsTest, ACacheRemembersMissingRunsOnlyWhenAskedTo) {
  test::TempDir copy;
  fs::copy(dir_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string file = test::SegmentFiles(copy.path())[0];
  const std::string run = test::ReadFileBytes(LeadRunsPath(file));
  fs::remove(LeadRunsPath(file));
  LeadRunsCache remembering(1 << 20, true), looking(1 << 20, false);
  EXPECT_EQ(remembering.Get(Env::Default(), file, 1), nullptr);
  EXPECT_EQ(looking.Get(Env::Default(), file, 1), nullptr);
  test::WriteFileBytes(LeadRunsPath(file), run);  // as the indexer thread would, later
  EXPECT_EQ(remembering.Get(Env::Default(), file, 1), nullptr) << "a Log writing no runs does not look again";
  EXPECT_NE(looking.Get(Env::Default(), file, 1), nullptr);
  remembering.Erase(file);  // retention forgets the segment, and what was missing
  EXPECT_NE(remembering.Get(Env::Default(), file, 1), nullptr);
}

TEST(LeadRunsWhileWriting, LookupsOfAnOpenLogWhileItSealsAndWritesRunsMatchBruteForce) {
  test::TempDir dir;
  Options o;
  o.dir = dir.path();
  o.frame_target_bytes = 4 << 10;
  o.segment_max_bytes = 64 << 10;  // runs written on the indexer thread while queries read
  o.lead_run_min_events = 4;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  WorkloadGenerator::Config config;
  config.leads = 300;
  WorkloadGenerator gen(config);
  std::vector<StoredEvent> expected;
  std::mt19937_64 rng(12);
  for (uint64_t i = 0; i < 20'000; ++i) {
    std::string line = gen.Event(i);
    expected.push_back(test::ExpectedFromLine(i + 1, line));
    ASSERT_TRUE((*log)->Append(line).ok());
    if (i % 400 == 399) {
      Query q;
      q.lead_id = expected[rng() % expected.size()].lead_id;
      q.descending = rng() % 2;
      auto it = (*log)->Query(q);
      ASSERT_TRUE(it.ok());
      ASSERT_EQ(test::Seqs(test::Collect(it->get())), test::ReferenceQuery(expected, q)) << "after " << i + 1;
    }
  }
  ASSERT_TRUE((*log)->Shutdown().ok());
  EXPECT_GE((*log)->stats().segments_sealed, 5u);
  auto files = test::SegmentFiles(dir.path());
  EXPECT_TRUE(fs::exists(LeadRunsPath(files[files.size() - 2])));
  auto report = VerifyLog(dir.path(), {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_GE(report->lead_run_files, 5u);
}

// The table that tags records with their lead's run: every name maps to
// its position, and no other name (a prefix, an extension, the empty name,
// a name differing in one byte) is found.
TEST(NameTable, FindsEveryNameAtItsPositionAndNothingElse) {
  EXPECT_EQ(NameTable().Find("L1"), -1);
  std::vector<std::string> owned;
  for (int i = 0; i < 5000; ++i) owned.push_back("L" + std::to_string(1000000 + i * 7));
  owned.push_back("a-name-longer-than-sixteen-bytes");
  std::vector<std::string_view> names(owned.begin(), owned.end());
  const NameTable table(names);
  for (size_t i = 0; i < owned.size(); ++i) ASSERT_EQ(table.Find(owned[i]), static_cast<int>(i)) << owned[i];
  for (const std::string_view absent : {"", "L", "L100000", "L10000000", "L1000001", "a-name-longer-than-sixteen-bytez"}) {
    EXPECT_EQ(table.Find(absent), -1) << absent;
  }
}

}  // namespace
}  // namespace stele
