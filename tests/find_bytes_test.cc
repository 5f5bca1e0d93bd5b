#include "util/find_bytes.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace stele {
namespace {

// FindBytes against std::string_view::find on random texts over a small
// alphabet (so partial matches abound), with needles of every length from
// 0 to 40 taken from the text or made up, at every alignment: the SIMD
// block, its last partial block and the memmem tail all get exercised.
TEST(FindBytes, FindsWhatStringViewFindFinds) {
  std::mt19937_64 rng(11);
  const std::string alphabet = "ab\"{}:,";
  for (int round = 0; round < 3000; ++round) {
    std::string text(rng() % 200, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    const size_t n = rng() % 41;
    std::string needle;
    if (n <= text.size() && rng() % 2) {
      needle = text.substr(rng() % (text.size() - n + 1), n);
    } else {
      for (size_t i = 0; i < n; ++i) needle.push_back(alphabet[rng() % alphabet.size()]);
    }
    const std::string_view t(text);
    const size_t want = t.find(needle);
    const char* got = FindBytes(t, needle);
    if (want == std::string_view::npos) {
      EXPECT_EQ(got, nullptr) << "text \"" << text << "\" needle \"" << needle << "\"";
    } else {
      ASSERT_NE(got, nullptr) << "text \"" << text << "\" needle \"" << needle << "\"";
      EXPECT_EQ(static_cast<size_t>(got - text.data()), want) << "text \"" << text << "\" needle \"" << needle << "\"";
    }
  }
}

TEST(FindBytes, NeverReadsPastTheText) {
  // The needle's last byte sits right at the end of a text whose buffer
  // ends there too (ASan would see a read past it).
  const std::string needle = "worker-07\"";
  for (size_t len = needle.size(); len < 100; ++len) {
    auto* buf = new char[len];
    std::memset(buf, 'x', len);
    std::memcpy(buf + len - needle.size(), needle.data(), needle.size());
    const char* got = FindBytes(std::string_view(buf, len), needle);
    EXPECT_EQ(got, buf + len - needle.size()) << len;
    EXPECT_EQ(FindBytes(std::string_view(buf, len - 1), needle), nullptr) << len;
    delete[] buf;
  }
}

}  // namespace
}  // namespace stele
