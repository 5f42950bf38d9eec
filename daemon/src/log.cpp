#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace outreachd::log {
namespace {
Level g_min = Level::info;
bool g_json = false;

const char* name_of(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "info";
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms);
}
}  // namespace

void configure(Level min_level, bool json) {
  g_min = min_level;
  g_json = json;
}

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warning") return Level::warning;
  if (name == "error") return Level::error;
  throw std::invalid_argument("unknown log level");
}

bool enabled(Level level) { return level >= g_min; }

void write(Level level, std::string_view message) {
  std::string line;
  if (g_json) {
    line = "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + name_of(level) + "\",\"msg\":";
    append_json_string(line, message);
    line += "}\n";
  } else {
    line = fmt::format("{} {:7} {}\n", timestamp(), name_of(level), message);
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace outreachd::log
