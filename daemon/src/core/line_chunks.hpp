// Cuts a file read in blocks into chunks that end at line ends, each with the number of the
// file's line it begins on, for outreach.area_lookup_append() (which numbers the lines it reports
// from there). Memory stays bounded whatever the input: a line longer than max_chunk is sent cut
// at max_chunk with a line end added (the database then reports it as too long, at its number)
// and the rest of it is skipped. Lines are counted by LF; a file whose last line has no line end
// gives it as the last chunk.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace outreachd {

struct LineChunk {
  std::string bytes;
  int first_line = 1;
};

class LineChunker {
 public:
  explicit LineChunker(std::size_t max_chunk) : max_(max_chunk) {}
  // Adds bytes read from the file; at most max_chunk bytes are kept between calls of next().
  // The caller feeds no more than room() bytes at a time.
  void feed(std::string_view bytes);
  std::size_t room() const { return max_ > buf_.size() ? max_ - buf_.size() : 0; }
  // The next whole chunk, if one is ready (at_eof: no more bytes will come).
  std::optional<LineChunk> next(bool at_eof);

 private:
  std::size_t max_;
  std::string buf_;
  int next_line_ = 1;
  bool skipping_ = false;  // inside the rest of a line that was sent cut
};

}  // namespace outreachd
