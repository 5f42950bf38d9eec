// Logging to stderr (journald picks it up), human-readable or JSON lines, with levels.
// Nothing secret is ever passed here: connection strings are logged only after redaction.
#pragma once
#include <fmt/format.h>
#include <string>
#include <string_view>

namespace outreachd::log {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

void configure(Level min_level, bool json);
Level parse_level(std::string_view name);  // throws std::invalid_argument
bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::warning)) write(Level::warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::error)) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace outreachd::log
