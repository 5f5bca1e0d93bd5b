// LruCache: the eviction order, the charge bound, erasure for retention, and
// sharing between threads (run under TSan by scripts/sanitize.sh).
#include "util/lru_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace stele {
namespace {

LruCache<std::string> BytesCache(size_t capacity) {
  return LruCache<std::string>(capacity, [](const std::string& v) { return v.size(); });
}

std::shared_ptr<const std::string> Value(size_t bytes, char c = 'x') {
  return std::make_shared<const std::string>(bytes, c);
}

TEST(LruCache, EvictsTheLeastRecentlyUsedOnceOverItsCharge) {
  auto cache = BytesCache(30);
  cache.Insert("a", Value(10));
  cache.Insert("b", Value(10));
  cache.Insert("c", Value(10));
  EXPECT_EQ(cache.charge(), 30u);
  ASSERT_NE(cache.Get("a"), nullptr);  // a is now the most recent, b the least
  cache.Insert("d", Value(10));
  EXPECT_EQ(cache.Get("b"), nullptr);
  EXPECT_NE(cache.Get("a"), nullptr);
  EXPECT_NE(cache.Get("c"), nullptr);
  EXPECT_NE(cache.Get("d"), nullptr);
  EXPECT_EQ(cache.charge(), 30u);
}

TEST(LruCache, TheFirstInsertOfAKeyStays) {
  auto cache = BytesCache(100);
  auto first = cache.Insert("k", Value(5, '1'));
  auto second = cache.Insert("k", Value(7, '2'));
  EXPECT_EQ(second, first);
  EXPECT_EQ(*cache.Get("k"), "11111");
  EXPECT_EQ(cache.charge(), 5u);
}

TEST(LruCache, AnOversizedValueIsKeptAloneAndHandedOutValuesOutliveEviction) {
  auto cache = BytesCache(10);
  auto small = cache.Insert("small", Value(4));
  auto big = cache.Insert("big", Value(50));
  EXPECT_EQ(cache.Get("small"), nullptr);
  EXPECT_EQ(cache.Get("big"), big);
  EXPECT_EQ(cache.charge(), 50u);
  EXPECT_EQ(*small, "xxxx") << "the caller's reference survives its eviction";
  cache.Insert("next", Value(3));
  EXPECT_EQ(cache.Get("big"), nullptr);
  EXPECT_EQ(cache.charge(), 3u);
}

TEST(LruCache, InsertIfRoomTakesOnlyFreeRoomAndGoesFirst) {
  auto cache = BytesCache(30);
  cache.Insert("hot", Value(10));
  auto scanned = cache.InsertIfRoom("s1", Value(10, 's'));
  EXPECT_EQ(*scanned, "ssssssssss");
  EXPECT_EQ(cache.Get("s1"), scanned) << "there was room";
  cache.InsertIfRoom("s2", Value(10));
  EXPECT_EQ(cache.charge(), 30u);
  // Full: no room, nothing evicted, the value handed back all the same.
  auto refused = cache.InsertIfRoom("s3", Value(1, 'r'));
  EXPECT_EQ(*refused, "r");
  EXPECT_EQ(cache.Get("s3"), nullptr);
  EXPECT_NE(cache.Get("hot"), nullptr);
  EXPECT_EQ(cache.charge(), 30u);
  // An existing key keeps its first value.
  EXPECT_EQ(cache.InsertIfRoom("hot", Value(2)), cache.Get("hot"));
  // Inserted as the least recently used: a hot insert evicts the scanned
  // entries first: s2 went in at the least recently used end, never read.
  cache.Insert("new", Value(10));
  EXPECT_EQ(cache.Get("s2"), nullptr);
  EXPECT_NE(cache.Get("hot"), nullptr);
  EXPECT_NE(cache.Get("new"), nullptr);
}

TEST(LruCache, EraseAndEraseIfDropEntriesAndTheirCharge) {
  auto cache = BytesCache(1000);
  for (int frame = 0; frame < 5; ++frame) {
    cache.Insert("seg1#" + std::to_string(frame), Value(10));
    cache.Insert("seg2#" + std::to_string(frame), Value(10));
  }
  cache.EraseIf([](const std::string& key) { return key.starts_with("seg1#"); });
  EXPECT_EQ(cache.charge(), 50u);
  EXPECT_EQ(cache.Get("seg1#3"), nullptr);
  EXPECT_NE(cache.Get("seg2#3"), nullptr);
  cache.Erase("seg2#3");
  cache.Erase("absent");
  EXPECT_EQ(cache.Get("seg2#3"), nullptr);
  EXPECT_EQ(cache.charge(), 40u);
}

TEST(LruCache, ThreadsShareItAndTheChargeStaysBounded) {
  auto cache = BytesCache(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = std::to_string((i * 7 + t) % 40);
        if (auto hit = cache.Get(key)) {
          EXPECT_EQ(hit->size(), 8u);
        } else {
          cache.Insert(key, Value(8));
        }
        if (i % 97 == 0) cache.EraseIf([](const std::string& k) { return k == "3"; });
        EXPECT_LE(cache.charge(), 64u);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.charge(), 64u);
}

}  // namespace
}  // namespace stele
