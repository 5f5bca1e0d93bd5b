#include "ingest/write_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "event/record.h"
#include "util/coding.h"

namespace stele {
namespace {

// One framed record: u32 length | u64 seq placeholder | payload.
void AddRecord(std::string_view payload, std::string* out) {
  const size_t at = out->size();
  out->resize(at + 4 + 8);
  const auto len = static_cast<uint32_t>(8 + payload.size());
  std::memcpy(out->data() + at, &len, 4);
  PutU64(out->data() + at + 4 + kRecordSeqOffset, 0);
  out->append(payload);
}

// The (seq, payload) of every record in a batch, in order.
std::vector<std::pair<uint64_t, std::string>> Records(std::string_view bytes) {
  std::vector<std::pair<uint64_t, std::string>> out;
  for (const char* p = bytes.data(); p < bytes.data() + bytes.size();) {
    const uint32_t len = GetU32(p);
    uint64_t seq;
    std::memcpy(&seq, p + 4 + kRecordSeqOffset, 8);
    out.emplace_back(seq, std::string(p + 12, len - 8));
    p += 4 + len;
  }
  return out;
}

TEST(WriteQueue, ConcurrentPushesGetGaplessSeqsInByteOrderAndEachLandsOnce) {
  constexpr int kProducers = 8, kPerProducer = 20'000;
  WriteQueue queue(64 << 10, 101);  // small: producers often find it full
  std::vector<std::map<uint64_t, std::string>> pushed(kProducers);
  std::atomic<int> running{kProducers};
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t] {
      std::string records;
      for (int i = 0; i < kPerProducer;) {
        // Mostly one record, sometimes a batch of three (AppendBatch).
        const int n = i % 7 == 0 ? std::min(3, kPerProducer - i) : 1;
        records.clear();
        for (int k = 0; k < n; ++k) AddRecord("p" + std::to_string(t) + "-" + std::to_string(i + k), &records);
        uint64_t first = 0;
        bool was_empty = false;
        WriteQueue::PushResult r;
        while ((r = queue.Push(&records, n, &first, &was_empty)) == WriteQueue::PushResult::kFull) {
          std::this_thread::yield();
        }
        if (r != WriteQueue::PushResult::kOk) {
          ADD_FAILURE() << "push refused: " << static_cast<int>(r);
          break;
        }
        for (int k = 0; k < n; ++k) pushed[t][first + k] = "p" + std::to_string(t) + "-" + std::to_string(i + k);
        i += n;
      }
      --running;
    });
  }
  std::map<uint64_t, std::string> taken;
  uint64_t expect_first = 101;
  auto take = [&] {
    const WriteQueue::Batch b = queue.Take();
    ASSERT_EQ(b.first_seq, expect_first);
    const auto records = Records(b.bytes);
    ASSERT_EQ(records.size(), b.last_seq + 1 - b.first_seq);
    for (size_t k = 0; k < records.size(); ++k) {
      ASSERT_EQ(records[k].first, b.first_seq + k) << "seq order is byte order";
      taken[records[k].first] = records[k].second;
    }
    expect_first = b.last_seq + 1;
  };
  while (running.load() > 0) take();
  for (auto& t : producers) t.join();
  take();
  EXPECT_EQ(queue.waiting_bytes(), 0u);
  size_t total = 0;
  for (const auto& mine : pushed) {
    total += mine.size();
    for (const auto& [seq, payload] : mine) {
      auto it = taken.find(seq);
      ASSERT_NE(it, taken.end()) << seq;
      EXPECT_EQ(it->second, payload);
    }
  }
  EXPECT_EQ(total, taken.size());
  EXPECT_EQ(taken.size(), size_t{kProducers * kPerProducer});
  EXPECT_EQ(queue.next_seq(), 101u + kProducers * kPerProducer);
}

TEST(WriteQueue, AFullQueueRefusesUntilTheWriterTakesABatch) {
  WriteQueue queue(200, 1);  // buffers of 100 bytes
  std::string r;
  AddRecord(std::string(40, 'a'), &r);  // 52 bytes framed
  uint64_t first;
  bool was_empty;
  ASSERT_EQ(queue.Push(&r, 1, &first, &was_empty), WriteQueue::PushResult::kOk);
  EXPECT_TRUE(was_empty);
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(queue.Push(&r, 1, &first, &was_empty), WriteQueue::PushResult::kFull);
  EXPECT_EQ(queue.next_seq(), 2u) << "a refused push takes no seq";
  const WriteQueue::Batch b = queue.Take();
  EXPECT_EQ(b.bytes.size(), 52u);
  EXPECT_EQ(b.first_seq, 1u);
  EXPECT_EQ(b.last_seq, 1u);
  ASSERT_EQ(queue.Push(&r, 1, &first, &was_empty), WriteQueue::PushResult::kOk);
  EXPECT_TRUE(was_empty);
  EXPECT_EQ(first, 2u);
  const WriteQueue::Batch empty_after = (queue.Take(), queue.Take());
  EXPECT_TRUE(empty_after.bytes.empty());
  EXPECT_EQ(empty_after.first_seq, 3u);
  EXPECT_EQ(empty_after.last_seq, 2u);
}

TEST(WriteQueue, APushLargerThanTheQueueGoesAloneIntoAnEmptyOne) {
  WriteQueue queue(128, 1);  // buffers of 64 bytes
  std::string small, big;
  AddRecord("x", &small);
  for (int i = 0; i < 10; ++i) AddRecord(std::string(30, static_cast<char>('a' + i)), &big);  // 420 bytes
  uint64_t first;
  bool was_empty;
  ASSERT_EQ(queue.Push(&small, 1, &first, &was_empty), WriteQueue::PushResult::kOk);
  EXPECT_EQ(queue.Push(&big, 10, &first, &was_empty), WriteQueue::PushResult::kFull) << "not beside other records";
  (void)queue.Take();
  ASSERT_EQ(queue.Push(&big, 10, &first, &was_empty), WriteQueue::PushResult::kOk);
  EXPECT_EQ(first, 2u);
  EXPECT_EQ(queue.Push(&small, 1, &first, &was_empty), WriteQueue::PushResult::kFull) << "nothing beside it";
  const WriteQueue::Batch b = queue.Take();
  const auto records = Records(b.bytes);
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(records[9], std::make_pair(uint64_t{11}, std::string(30, 'j')));
  // The buffer grew for it and is reused.
  ASSERT_EQ(queue.Push(&small, 1, &first, &was_empty), WriteQueue::PushResult::kOk);
  EXPECT_EQ(first, 12u);
}

TEST(WriteQueue, NoPushSucceedsAfterCloseAndEarlierOnesAreStillTaken) {
  WriteQueue queue(1 << 10, 7);
  std::string r;
  AddRecord("before", &r);
  uint64_t first;
  bool was_empty;
  ASSERT_EQ(queue.Push(&r, 1, &first, &was_empty), WriteQueue::PushResult::kOk);
  queue.Close();
  EXPECT_TRUE(queue.closed());
  r.clear();
  AddRecord("after", &r);
  EXPECT_EQ(queue.Push(&r, 1, &first, &was_empty), WriteQueue::PushResult::kClosed);
  const WriteQueue::Batch b = queue.Take();
  EXPECT_EQ(Records(b.bytes), (std::vector<std::pair<uint64_t, std::string>>{{7, "before"}}));
  EXPECT_TRUE(queue.closed()) << "a Take keeps the queue closed";
  EXPECT_EQ(queue.Push(&r, 1, &first, &was_empty), WriteQueue::PushResult::kClosed);
}

}  // namespace
}  // namespace stele
