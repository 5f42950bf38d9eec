// Small text helpers shared by the checks of members' and recipients' files.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace outreach::ascii {

// Non-empty and only the digits 0-9.
inline bool digits(std::string_view s) noexcept {
	if (s.empty())
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

// ASCII letters lowered or raised; other bytes (UTF-8 included) as they are.
inline std::string lower(std::string_view s) {
	std::string out(s);
	for (char &c : out)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return out;
}
inline std::string upper(std::string_view s) {
	std::string out(s);
	for (char &c : out)
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
	return out;
}

// Characters in UTF-8 text (bytes that do not continue a sequence).
inline std::size_t utf8_length(std::string_view s) noexcept {
	std::size_t n = 0;
	for (char c : s)
		if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
			++n;
	return n;
}

}  // namespace outreach::ascii

#include "cpp_only.hpp"
