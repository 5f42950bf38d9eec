#include "core/line_chunks.hpp"

#include <algorithm>

namespace outreachd {

void LineChunker::feed(std::string_view bytes) {
  if (!skipping_) {
    buf_.append(bytes);
    return;
  }
  // The rest of a line already sent cut: dropped up to its line end.
  const auto lf = bytes.find('\n');
  if (lf == std::string_view::npos) return;
  skipping_ = false;
  buf_.append(bytes.substr(lf + 1));
}

std::optional<LineChunk> LineChunker::next(bool at_eof) {
  if (buf_.empty()) return std::nullopt;
  const auto cut = buf_.rfind('\n');
  LineChunk chunk;
  chunk.first_line = next_line_;
  if (cut != std::string::npos) {
    chunk.bytes.assign(buf_, 0, cut + 1);
    buf_.erase(0, cut + 1);
  } else if (at_eof) {
    chunk.bytes.swap(buf_);  // the last line, without a line end
  } else if (buf_.size() >= max_) {
    chunk.bytes.assign(buf_, 0, max_);
    chunk.bytes.push_back('\n');
    buf_.clear();
    skipping_ = true;
  } else {
    return std::nullopt;  // a line still being read
  }
  next_line_ += static_cast<int>(std::count(chunk.bytes.begin(), chunk.bytes.end(), '\n'));
  return chunk;
}

}  // namespace outreachd
