#include "limits.hpp"

#include <string>

#include "error.hpp"

namespace outreach::limits {

std::size_t utf8_chars(std::string_view s) noexcept {
	std::size_t n = 0;
	for (const char c : s)
		n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
	return n;
}

void check_bytes(std::string_view s, std::size_t max, std::string_view what) {
	if (s.size() > max)
		throw Error(sqlstate::string_data_right_truncation,
		            std::string(what) + " is longer than the limit of " + std::to_string(max) + " bytes",
		            "It has " + std::to_string(s.size()) + " bytes.");
}

void check_name(std::string_view name, std::string_view what) {
	if (name.size() <= max_name_chars)
		return;
	if (name.size() > max_name_bytes || utf8_chars(name) > max_name_chars)
		throw Error(sqlstate::string_data_right_truncation,
		            std::string(what) + " is longer than the limit of " + std::to_string(max_name_chars) + " characters",
		            "It has " + std::to_string(name.size()) + " bytes.");
}

}  // namespace outreach::limits
