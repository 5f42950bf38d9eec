#include "text_encoding.hpp"

#include "error.hpp"

#include <cstdint>

namespace outreach::text_encoding {

namespace {

// Windows-1252's 0x80-0x9F (0: undefined, kept as the C1 control of Latin-1, which the line
// checks then refuse as a control character).
constexpr char16_t cp1252_high[32] = {
	0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178};

void append_utf8(std::string &out, std::uint32_t cp) {
	if (cp < 0x80) {
		out.push_back(static_cast<char>(cp));
	} else if (cp < 0x800) {
		out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	} else {
		out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	}
}

// The length of a valid UTF-8 sequence starting at s[i] (2 to 4), or 0.
std::size_t valid_sequence(std::string_view s, std::size_t i) noexcept {
	const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
	const unsigned char c = b(i);
	std::size_t n;
	std::uint32_t cp;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2, cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3, cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4, cp = c & 0x07;
	} else {
		return 0;
	}
	if (i + n > s.size())
		return 0;
	for (std::size_t k = 1; k < n; ++k) {
		if ((b(i + k) & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (b(i + k) & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

std::string from_utf16(std::string_view bytes, bool little_endian) {
	if (bytes.size() % 2 != 0)
		throw Error("22021", "the file is UTF-16 (it begins with a byte order mark) but has an odd number of bytes",
					{}, "Save it again as UTF-8, or as UTF-16 whole.");
	const auto unit = [&](std::size_t i) -> std::uint32_t {
		const auto a = static_cast<unsigned char>(bytes[i]), b = static_cast<unsigned char>(bytes[i + 1]);
		return little_endian ? (a | (b << 8)) : ((a << 8) | b);
	};
	std::string out;
	out.reserve(bytes.size() / 2 + bytes.size() / 8);
	for (std::size_t i = 2; i < bytes.size(); i += 2) {  // after the byte order mark
		std::uint32_t u = unit(i);
		if (u >= 0xD800 && u <= 0xDBFF && i + 3 < bytes.size()) {
			const std::uint32_t low = unit(i + 2);
			if (low >= 0xDC00 && low <= 0xDFFF) {
				append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
				i += 2;
				continue;
			}
		}
		if (u >= 0xD800 && u <= 0xDFFF)
			throw Error("22021", "invalid UTF-16 (a lone surrogate) at byte offset " + std::to_string(i) + " of the file");
		append_utf8(out, u);
	}
	return out;
}

}  // namespace

const char *name(Encoding e) noexcept {
	switch (e) {
	case Encoding::utf8: return "UTF-8";
	case Encoding::utf8_bom: return "UTF-8 with BOM";
	case Encoding::utf16le: return "UTF-16LE";
	case Encoding::utf16be: return "UTF-16BE";
	case Encoding::windows1252: return "Windows-1252";
	}
	return "?";
}

Encoding decide(std::string_view s) noexcept {
	if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0xFF && static_cast<unsigned char>(s[1]) == 0xFE)
		return Encoding::utf16le;
	if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0xFE && static_cast<unsigned char>(s[1]) == 0xFF)
		return Encoding::utf16be;
	if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF")
		return Encoding::utf8_bom;
	bool high = false;
	for (std::size_t i = 0; i < s.size(); ++i) {
		if (static_cast<unsigned char>(s[i]) < 0x80)
			continue;
		if (valid_sequence(s, i) != 0)
			return Encoding::utf8;
		high = true;
	}
	return high ? Encoding::windows1252 : Encoding::utf8;
}

std::string to_utf8(std::string_view bytes, Encoding e) {
	switch (e) {
	case Encoding::utf8: return std::string(bytes);
	case Encoding::utf8_bom: return std::string(bytes.substr(3));
	case Encoding::utf16le: return from_utf16(bytes, true);
	case Encoding::utf16be: return from_utf16(bytes, false);
	case Encoding::windows1252: break;
	}
	std::string out;
	out.reserve(bytes.size() + bytes.size() / 4);
	for (char ch : bytes) {
		const auto c = static_cast<unsigned char>(ch);
		if (c < 0x80)
			out.push_back(ch);
		else if (c < 0xA0 && cp1252_high[c - 0x80] != 0)
			append_utf8(out, cp1252_high[c - 0x80]);
		else
			append_utf8(out, c);
	}
	return out;
}

}  // namespace outreach::text_encoding
