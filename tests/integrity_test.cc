// Integrity end to end on real data directories: checkpoints, proofs from
// the hash store, hash-store recovery, and tamper detection naming the
// right seq.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "event/record.h"
#include "integrity/checkpoint.h"
#include "integrity/hash_store.h"
#include "storage/format.h"
#include "storage/segment_reader.h"
#include "test_util.h"
#include "util/coding.h"
#include "util/hash.h"

namespace stele {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string Event(int i) {
  return R"({"type":"step.done","lead_id":"L)" + std::to_string(i % 97) + R"(","data":{"i":)" + std::to_string(i) +
         R"(,"note":"event number )" + std::to_string(i) + "\"}}";
}

// 3000 events in flushed batches of 50, small segments (several sealed), a
// checkpoint every 500 events; the last 150 in the active segment.
Options MakeLog(const std::string& dir, int events = 3000) {
  Options o;
  o.dir = dir;
  o.segment_max_bytes = 8 << 10;
  o.frame_target_bytes = 2 << 10;
  o.checkpoint_every_events = 500;
  auto log = Log::Open(o);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  std::string batch;
  for (int i = 1; i <= events; ++i) {
    if (i == events - 149) {
      // The last three batches go to an active segment that is not sealed
      // under them, whatever the compression makes of the rest.
      EXPECT_TRUE((*log)->Shutdown().ok());
      Options reopen = o;
      reopen.segment_max_bytes = 1 << 20;
      log = Log::Open(reopen);
      EXPECT_TRUE(log.ok()) << log.status().ToString();
    }
    batch += Event(i) + "\n";
    if (i % 50 == 0) {
      EXPECT_TRUE((*log)->AppendBatch(batch).ok());
      EXPECT_TRUE((*log)->Flush().ok());  // one writer batch each: checkpoints land every 500
      batch.clear();
    }
  }
  if (!batch.empty()) {
    EXPECT_TRUE((*log)->AppendBatch(batch).ok());
  }
  EXPECT_TRUE((*log)->Shutdown().ok());
  return o;
}

VerifyReport Verify(const std::string& dir, VerifyOptions options = {}) {
  auto r = VerifyLog(dir, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : VerifyReport{};
}

Hash HashOf(const std::string& hex) {
  Hash h;
  EXPECT_TRUE(FromHex(hex, &h));
  return h;
}

// Pulls "key":"<hex>" or "key":N out of a proof JSON.
std::string Field(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  const size_t start = at + key.size() + 3;
  if (json[start] == '"') return json.substr(start + 1, json.find('"', start + 1) - start - 1);
  return json.substr(start, json.find_first_of(",}", start) - start);
}

TEST(Integrity, IntactLogVerifiesAndEveryCheckpointMatchesTheTree) {
  TempDir dir;
  MakeLog(dir.path());
  auto sizes = ListCheckpoints(Env::Default(), dir.path());
  ASSERT_TRUE(sizes.ok());
  EXPECT_GE(sizes->size(), 6u);  // every 500, at each seal and at shutdown
  EXPECT_EQ(sizes->back(), 3000u);
  const VerifyReport r = Verify(dir.path());
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.events, 3000u);
  EXPECT_EQ(r.checkpoints, sizes->size());
  EXPECT_GT(r.raw_bytes, 3000u * 50);

  auto verifier = LoadVerifier(Env::Default(), dir.path(), "");
  ASSERT_TRUE(verifier.ok());
  std::mt19937_64 rng(5);
  for (uint64_t size : *sizes) {
    auto cp = OpenCheckpoint(*ReadCheckpointFile(Env::Default(), dir.path(), size), *verifier);
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    for (int k = 0; k < 5; ++k) {
      const uint64_t seq = 1 + rng() % size;
      auto json = ProveInclusionJson(dir.path(), seq, size);
      ASSERT_TRUE(json.ok()) << json.status().ToString();
      EXPECT_EQ(HashOf(Field(*json, "root_hash")), cp->root) << "size " << size;
      EXPECT_TRUE(VerifyProofJson(*json).ok());
    }
    auto cons = ProveConsistencyJson(dir.path(), size, 3000);
    ASSERT_TRUE(cons.ok()) << cons.status().ToString();
    EXPECT_EQ(HashOf(Field(*cons, "old_root")), cp->root);
    EXPECT_TRUE(VerifyProofJson(*cons).ok());
  }
}

TEST(Integrity, ASigningKeyOutsideTheDirectoryLeavesOnlyItsPublicHalfThere) {
  test::TempDir dir;
  const std::string key_path = dir.Sub("signing.key");
  auto signer = GenerateNoteSigner("stele-outside");
  ASSERT_TRUE(signer.ok());
  test::WriteFileBytes(key_path, signer->ToString() + "\n");
  Options o;
  o.dir = dir.Sub("data");
  o.signing_key_path = key_path;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*log)->Append("{\"type\":\"a.b\"}").ok());
  ASSERT_TRUE((*log)->Shutdown().ok());
  EXPECT_FALSE(std::filesystem::exists(o.dir + "/keys/checkpoint.key"));
  EXPECT_EQ(*VerifierKeyOf(o.dir), signer->Verifier().ToString());
  auto report = VerifyLog(o.dir, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_GE(report->checkpoints, 1u);
  // A verifier that trusts another key rejects the checkpoints.
  VerifyOptions other;
  other.verifier_key = GenerateNoteSigner("stele-outside")->Verifier().ToString();
  auto bad = VerifyLog(o.dir, other);
  EXPECT_TRUE(!bad.ok() || !bad->ok);
}

TEST(Integrity, ProofsWorkForEverySeqAgainstTheCurrentSize) {
  TempDir dir;
  MakeLog(dir.path(), 700);
  for (uint64_t seq = 1; seq <= 700; seq += 7) {
    auto json = ProveInclusionJson(dir.path(), seq, 0);
    ASSERT_TRUE(json.ok()) << json.status().ToString();
    EXPECT_EQ(Field(*json, "tree_size"), "700");
    ASSERT_TRUE(VerifyProofJson(*json).ok()) << seq;
    std::string bad = *json;
    bad[bad.find("\"leaf_hash\":\"") + 13] ^= 1;
    EXPECT_FALSE(VerifyProofJson(bad).ok());
  }
  EXPECT_FALSE(ProveInclusionJson(dir.path(), 701, 0).ok());
  EXPECT_FALSE(ProveInclusionJson(dir.path(), 5, 800).ok());
  EXPECT_FALSE(ProveConsistencyJson(dir.path(), 600, 500).ok());
}

TEST(Integrity, HashStoreIsRebuiltFromEventsWhenLostOrTorn) {
  TempDir dir;
  Options o = MakeLog(dir.path(), 2000);
  const std::string root = Verify(dir.path()).root_hex;
  fs::remove_all(dir.Sub("merkle"));
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  EXPECT_EQ(fs::file_size(dir.Sub("merkle/fp.bin")), 2000u * 4);
  EXPECT_EQ(fs::file_size(dir.Sub("merkle/h8.bin")), (2000u / 256) * 32);
  const VerifyReport r = Verify(dir.path());
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.root_hex, root);
  // A torn hash file (as a crash leaves) is trimmed and completed.
  fs::resize_file(dir.Sub("merkle/h8.bin"), 3 * 32 + 5);
  fs::resize_file(dir.Sub("merkle/fp.bin"), 1000 * 4 + 3);
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Event(2001)).ok());
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  EXPECT_TRUE(Verify(dir.path()).ok);
  auto json = ProveInclusionJson(dir.path(), 1500, 0);
  ASSERT_TRUE(json.ok());
  EXPECT_TRUE(VerifyProofJson(*json).ok());
}

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override {
    o_ = MakeLog(dir_.path());
    files_ = test::SegmentFiles(dir_.path());
    ASSERT_GE(files_.size(), 3u);
  }
  void ExpectFailure(uint64_t seq, const std::string& reason_part, VerifyOptions options = {}) {
    const VerifyReport r = Verify(dir_.path(), options);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.first_bad_seq, seq) << r.reason;
    EXPECT_NE(r.reason.find(reason_part), std::string::npos) << r.reason;
  }
  TempDir dir_;
  Options o_;
  std::vector<std::string> files_;
};

TEST_F(Tamper, FlippedByteInASealedSegmentIsACorruptFrame) {
  std::string bytes = test::ReadFileBytes(files_[1]);
  auto frames = test::FramesOf(bytes);
  ASSERT_GE(frames.size(), 3u);
  bytes[frames[2].offset + format::kFrameHeaderSize + 10] ^= 0x04;
  test::WriteFileBytes(files_[1], bytes);
  ExpectFailure(frames[2].first_seq, "corrupt frame");
}

TEST_F(Tamper, FlippedByteInTheActiveSegmentIsACorruptFrame) {
  std::string bytes = test::ReadFileBytes(files_.back());
  auto frames = test::FramesOf(bytes);
  ASSERT_GE(frames.size(), 2u);
  bytes[frames[0].offset + format::kFrameHeaderSize + 3] ^= 0x40;
  test::WriteFileBytes(files_.back(), bytes);
  ExpectFailure(frames[0].first_seq, "checksum");
}

// Rewrites the last frame of the active segment with one record changed,
// re-encoding the frame with valid checksums: only the Merkle tree sees it.
uint64_t ModifyLastEventWithValidChecksums(const std::string& path, bool also_fix_fingerprint, const std::string& dir) {
  std::string bytes = test::ReadFileBytes(path);
  auto frames = test::FramesOf(bytes);
  const auto& f = frames.back();
  format::FrameHeader h;
  EXPECT_TRUE(format::DecodeFrameHeader(bytes.data() + f.offset, &h));
  std::string raw;
  EXPECT_TRUE(
      DecodeFramePayload(h, std::string_view(bytes.data() + f.offset + format::kFrameHeaderSize, h.stored_len), &raw)
          .ok());
  // Change one digit inside the data of the frame's second record.
  const uint32_t len0 = GetU32(raw.data());
  const size_t rec1 = 4 + len0;
  const uint32_t len1 = GetU32(raw.data() + rec1);
  const size_t digit = raw.find("\"i\":", rec1) + 4;
  EXPECT_LT(digit, rec1 + 4 + len1);
  raw[digit] = raw[digit] == '9' ? '8' : '9';
  h.codec = format::kCodecNone;
  h.stored_len = static_cast<uint32_t>(raw.size());
  h.payload_checksum = Checksum(raw);
  std::string frame(format::kFrameHeaderSize, '\0');
  format::EncodeFrameHeader(h, frame.data());
  frame += raw;
  test::WriteFileBytes(path, bytes.substr(0, f.offset) + frame);
  // A careful attacker also drops the side index, whose stale entry would
  // otherwise give the rewrite away as a corrupt frame.
  fs::remove(format::SideIndexPath(path));
  const uint64_t seq = h.first_seq + 1;
  if (also_fix_fingerprint) {
    EventView e;
    EXPECT_TRUE(DecodeRecord(std::string_view(raw.data() + rec1 + 4, len1), &e));
    std::string rec;
    AppendRecord(e, &rec);
    const Hash leaf = ThreadSha256().LeafHash(rec);
    std::string fp = test::ReadFileBytes(dir + "/merkle/fp.bin");
    std::memcpy(fp.data() + (seq - 1) * 4, leaf.data(), 4);
    test::WriteFileBytes(dir + "/merkle/fp.bin", fp);
  }
  return seq;
}

TEST_F(Tamper, ModifiedEventWithFixedChecksumsIsNamedBySeq) {
  const uint64_t seq = ModifyLastEventWithValidChecksums(files_.back(), false, dir_.path());
  ExpectFailure(seq, "event seq " + std::to_string(seq) + " was modified");
}

TEST_F(Tamper, ModifiedEventWithForgedFingerprintIsCaughtByTheSignedRoot) {
  const uint64_t seq = ModifyLastEventWithValidChecksums(files_.back(), true, dir_.path());
  const VerifyReport r = Verify(dir_.path());
  EXPECT_FALSE(r.ok);
  EXPECT_LE(r.first_bad_seq, seq);
  EXPECT_GT(r.first_bad_seq + 500, seq) << "localized to the checkpoint interval: " << r.reason;
  EXPECT_NE(r.reason.find("checkpoint"), std::string::npos) << r.reason;
}

TEST_F(Tamper, DeletedSegmentIsMissingEvents) {
  auto first_of = [](const std::string& path) { return std::stoull(fs::path(path).filename().string().substr(0, 20)); };
  const uint64_t gone = first_of(files_[1]);
  fs::remove(files_[1]);
  ExpectFailure(gone, "missing");
}

TEST_F(Tamper, SwappedFramesAreNamed) {
  std::string bytes = test::ReadFileBytes(files_.back());
  auto frames = test::FramesOf(bytes);
  ASSERT_GE(frames.size(), 3u);
  const auto &a = frames[0], &b = frames[1];
  std::string swapped = bytes.substr(0, a.offset) + bytes.substr(b.offset, b.size) + bytes.substr(a.offset, a.size) +
                        bytes.substr(b.offset + b.size);
  test::WriteFileBytes(files_.back(), swapped);
  ExpectFailure(a.first_seq, "reordered");
  // The writer refuses to "repair" it by truncation.
  auto log = Log::Open(o_);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
}

// Frames before the damage are read (and their jobs still point at the
// segment's reader) while the damage is reported.
TEST_F(Tamper, FramesSwappedAfterAGoodOneAreNamedAtTheFirstMisplacedSeq) {
  std::string bytes = test::ReadFileBytes(files_.back());
  auto frames = test::FramesOf(bytes);
  ASSERT_GE(frames.size(), 4u);
  const auto &a = frames[1], &b = frames[2];
  test::WriteFileBytes(files_.back(), bytes.substr(0, a.offset) + bytes.substr(b.offset, b.size) +
                                          bytes.substr(a.offset, a.size) + bytes.substr(b.offset + b.size));
  ExpectFailure(a.first_seq, "reordered");
}

TEST_F(Tamper, TruncatedTailIsCaughtByTheLastCheckpoint) {
  std::string bytes = test::ReadFileBytes(files_.back());
  auto frames = test::FramesOf(bytes);
  const auto& cut = frames[frames.size() - 2];
  test::WriteFileBytes(files_.back(), bytes.substr(0, cut.offset));
  ExpectFailure(cut.first_seq, "truncated");
}

TEST_F(Tamper, CheckpointsResignedWithAnotherKeyAreRejected) {
  auto impostor = GenerateNoteSigner(LoadVerifier(Env::Default(), dir_.path(), "")->name);
  ASSERT_TRUE(impostor.ok());
  auto sizes = *ListCheckpoints(Env::Default(), dir_.path());
  for (uint64_t size : sizes) {
    auto note = *ReadCheckpointFile(Env::Default(), dir_.path(), size);
    const std::string body = note.substr(0, note.rfind("\n\n") + 1);
    auto resigned = SignNote(body, *impostor);
    ASSERT_TRUE(resigned.ok());
    test::WriteFileBytes(dir_.Sub("checkpoints/" + CheckpointFileName(size)), *resigned);
  }
  ExpectFailure(sizes.front(), "no signature by");
  // Replacing the key file too fools the local check, not a trusted key.
  const std::string trusted = LoadVerifier(Env::Default(), dir_.path(), "")->ToString();
  test::WriteFileBytes(dir_.Sub("keys/checkpoint.key"), impostor->ToString() + "\n");
  EXPECT_TRUE(Verify(dir_.path()).ok);
  VerifyOptions with_key;
  with_key.verifier_key = trusted;
  ExpectFailure(sizes.front(), "no signature by", with_key);
}

TEST_F(Tamper, AgainstAnOutsideCheckpointCatchesARewrittenHistory) {
  // Keep the newest checkpoint elsewhere, then truncate and delete the local
  // checkpoints that would reveal it.
  test::TempDir elsewhere;  // its own directory: tests may run in parallel processes
  const std::string outside = elsewhere.Sub("outside.cp");
  test::WriteFileBytes(outside, *LatestCheckpointNote(dir_.path()));
  std::string bytes = test::ReadFileBytes(files_.back());
  auto frames = test::FramesOf(bytes);
  test::WriteFileBytes(files_.back(), bytes.substr(0, frames.back().offset));
  const uint64_t remaining = frames.back().first_seq - 1;
  const std::vector<uint64_t> sizes = *ListCheckpoints(Env::Default(), dir_.path());
  for (uint64_t size : sizes) {
    if (size > remaining) fs::remove(dir_.Sub("checkpoints/" + CheckpointFileName(size)));
  }
  EXPECT_TRUE(Verify(dir_.path()).ok) << "locally consistent after the attacker's clean-up";
  VerifyOptions against;
  against.against_file = outside;
  ExpectFailure(remaining + 1, "truncated", against);
}

}  // namespace
}  // namespace stele
