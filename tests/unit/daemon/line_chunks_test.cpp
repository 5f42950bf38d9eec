#include "core/line_chunks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using outreachd::LineChunk;
using outreachd::LineChunker;

namespace {
// Feeds text in blocks of `block` bytes (at most room()) and collects every chunk.
std::vector<LineChunk> cut(const std::string& text, std::size_t max, std::size_t block) {
  LineChunker c(max);
  std::vector<LineChunk> out;
  std::size_t pos = 0;
  while (true) {
    const bool eof = pos >= text.size();
    if (!eof) {
      const std::size_t n = std::min({block, c.room(), text.size() - pos});
      c.feed(std::string_view(text).substr(pos, n));
      pos += n;
    }
    const bool done = pos >= text.size();
    while (auto chunk = c.next(done)) out.push_back(*chunk);
    if (done) break;
  }
  return out;
}
}  // namespace

TEST(LineChunks, CutsAtLineEndsAndNumbersLines) {
  auto chunks = cut("h\na\nbb\nccc\n", 6, 3);
  std::string joined;
  int expected_line = 1;
  for (const auto& c : chunks) {
    EXPECT_EQ(c.first_line, expected_line);
    EXPECT_EQ(c.bytes.back(), '\n');
    expected_line += static_cast<int>(std::count(c.bytes.begin(), c.bytes.end(), '\n'));
    joined += c.bytes;
  }
  EXPECT_EQ(joined, "h\na\nbb\nccc\n");
  EXPECT_EQ(chunks.front().first_line, 1);
}

TEST(LineChunks, LastLineWithoutLineEndComesLast) {
  auto chunks = cut("h\nlast", 100, 100);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].bytes, "h\n");
  EXPECT_EQ(chunks[1].bytes, "last");
  EXPECT_EQ(chunks[1].first_line, 2);
}

TEST(LineChunks, OverlongLineIsSentCutAndTheRestSkipped) {
  const std::string text = "h\n" + std::string(50, 'x') + "\nnext\n";
  auto chunks = cut(text, 8, 8);
  std::string joined;
  for (const auto& c : chunks) joined += c.bytes;
  EXPECT_EQ(joined, "h\n" + std::string(8, 'x') + "\nnext\n");
  // "next" keeps its number, 3, in whichever chunk it is.
  int line = 1;
  bool found = false;
  for (const auto& c : chunks) {
    int l = c.first_line;
    std::size_t start = 0;
    for (std::size_t i = 0; i < c.bytes.size(); ++i)
      if (c.bytes[i] == '\n') {
        if (c.bytes.substr(start, i - start) == "next") { EXPECT_EQ(l, 3); found = true; }
        ++l;
        start = i + 1;
      }
    line = l;
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(line, 4);
}

TEST(LineChunks, EmptyInputGivesNoChunk) {
  EXPECT_TRUE(cut("", 10, 10).empty());
}
