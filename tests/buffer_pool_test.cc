#include "util/buffer_pool.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "query/frame_cache.h"

namespace stele {
namespace {

std::string BufferOf(size_t bytes, char fill) { return std::string(bytes, fill); }

TEST(BufferPool, ATakenBufferIsOneGivenBackAsItWas) {
  BufferPool pool(4, 1 << 20);
  std::string a = BufferOf(300 << 10, 'x');
  const char* memory = a.data();
  pool.Give(std::move(a));
  EXPECT_EQ(pool.size(), 1u);
  std::string b = pool.Take();
  // Its size too: resizing it to a frame's length then fills no zeros.
  EXPECT_EQ(b.size(), size_t{300} << 10);
  EXPECT_EQ(b.back(), 'x');
  EXPECT_GE(b.capacity(), size_t{300} << 10);
  EXPECT_EQ(b.data(), memory);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_TRUE(pool.Take().empty()) << "an empty pool gives a new string";
}

TEST(BufferPool, KeepsNoMoreBuffersThanItsBoundAndNoneTooLargeOrTooSmall) {
  BufferPool pool(3, 1 << 20);
  for (int i = 0; i < 5; ++i) pool.Give(BufferOf(64 << 10, 'a'));
  EXPECT_EQ(pool.size(), 3u);
  BufferPool other(3, 1 << 20);
  other.Give(BufferOf(2 << 20, 'b'));  // over max_capacity: freed
  other.Give(BufferOf(100, 'c'));      // no heap memory worth keeping
  EXPECT_EQ(other.size(), 0u);
}

// Buffers taken on one thread and given back on another (a cached frame is
// dropped by whichever thread evicts it); run under TSan by sanitize.sh.
TEST(BufferPool, ThreadsTakeAndGiveConcurrently) {
  BufferPool pool(4, 1 << 20);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string b = pool.Take();
        // New, or one given back whole by some thread: never half written.
        ASSERT_TRUE(b.empty() || (b.size() >= 8192 && b.find_first_not_of(b[0]) == std::string::npos));
        b.assign(8192 + i, static_cast<char>('a' + t));
        pool.Give(std::move(b));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(pool.size(), 4u);
  EXPECT_GE(pool.size(), 1u);
}

// A frame's records go back to the process's pool when the last holder of
// the frame drops it, and the next frame is decoded into that memory.
TEST(BufferPool, ADroppedFrameGivesItsRecordsToTheFramePool) {
  BufferPool& pool = BufferPool::Frames();
  while (pool.size() > 0) pool.Take();
  std::string raw;
  for (int i = 0; i < 100; ++i) {
    const std::string rec(200, 'r');
    const uint32_t len = rec.size();
    raw.append(reinterpret_cast<const char*>(&len), 4);  // little-endian, as the format
    raw += rec;
  }
  const char* memory = raw.data();
  {
    auto frame = CachedFrame::Make(std::move(raw), 100);
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_EQ((*frame)->raw().data(), memory);
    EXPECT_EQ(pool.size(), 0u);
  }  // the last reference goes
  ASSERT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.Take().data(), memory);
}

// A frame decoded into a recycled buffer larger than itself is charged what
// it holds, so the frame cache's byte bound stays true.
TEST(BufferPool, AFrameInALargerRecycledBufferIsChargedItsCapacity) {
  std::string raw;
  raw.reserve(1 << 20);
  const std::string rec(200, 'r');
  const uint32_t len = rec.size();
  raw.append(reinterpret_cast<const char*>(&len), 4);
  raw += rec;
  auto frame = CachedFrame::Make(std::move(raw), 1);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_GE((*frame)->charge(), size_t{1} << 20);
}

}  // namespace
}  // namespace stele
