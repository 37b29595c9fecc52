// sipwarden/delimiter_search.h: finds what std::string_view::find finds, on
// random texts over a small alphabet (where partial matches and overlaps are
// common), and on the near-repeats that made find quadratic.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "sipwarden/delimiter_search.h"

namespace sipwarden {
namespace {

TEST(DelimiterSearch, FindsWhatFindFinds) {
  std::mt19937 random(20261207);
  std::uniform_int_distribution<int> letter(0, 2);
  std::uniform_int_distribution<int> length(1, 8);
  auto word = [&](int size) {
    std::string out;
    for (int i = 0; i < size; ++i) out.push_back(static_cast<char>('a' + letter(random)));
    return out;
  };
  for (int round = 0; round < 20000; ++round) {
    const std::string delimiter = word(length(random));
    const std::string text = word(length(random) * 6);
    const DelimiterSearch search(delimiter);
    for (std::size_t from = 0; from <= text.size(); ++from) {
      ASSERT_EQ(search.find(text, from), std::string_view(text).find(delimiter, from))
          << "delimiter " << delimiter << " text " << text << " from " << from;
    }
  }
}

TEST(DelimiterSearch, NearRepeatsOfALongDelimiter) {
  const std::string delimiter = "--" + std::string(4096, '-');
  const std::string text = std::string(100000, '-') + "x" + delimiter + "tail";
  const DelimiterSearch search(delimiter);
  EXPECT_EQ(search.find(text, 0), 0u);
  EXPECT_EQ(search.find(text, 100000 - delimiter.size() + 1), 100001u);
  EXPECT_EQ(search.find(text, 100002), std::string_view::npos);
}

}  // namespace
}  // namespace sipwarden
