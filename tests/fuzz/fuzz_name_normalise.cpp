// Properties of outreach::names::normalise:
//  - the output is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF);
//  - its only ASCII bytes are a-z and 0-9 (no punctuation, space, control or upper case, so in
//    particular never the 0x1F separator of the pseudonym message);
//  - it is idempotent: normalise(normalise(x)) == normalise(x);
//  - normalise_into appends exactly normalise(x), keeping what the string held;
//  - ASCII input gives its letters and digits, lower-cased, in order (nothing else dropped);
//  - it works code point by code point: splitting the input where a character starts (not on a
//    continuation byte) and normalising the halves gives the same result.
#include "core/name_normalise.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace nn = outreach::names;

namespace {

bool valid_utf8(std::string_view s) {
	std::size_t i = 0;
	while (i < s.size()) {
		const auto b0 = static_cast<unsigned char>(s[i]);
		std::size_t len;
		std::uint32_t cp;
		if (b0 < 0x80) {
			++i;
			continue;
		} else if (b0 >= 0xC2 && b0 <= 0xDF) {
			len = 2;
			cp = b0 & 0x1F;
		} else if (b0 >= 0xE0 && b0 <= 0xEF) {
			len = 3;
			cp = b0 & 0x0F;
		} else if (b0 >= 0xF0 && b0 <= 0xF4) {
			len = 4;
			cp = b0 & 0x07;
		} else {
			return false;
		}
		if (i + len > s.size())
			return false;
		for (std::size_t k = 1; k < len; ++k) {
			const auto b = static_cast<unsigned char>(s[i + k]);
			if ((b & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (b & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	const std::string_view in(reinterpret_cast<const char *>(data), size);
	const std::string out = nn::normalise(in);

	FUZZ_CHECK(valid_utf8(out));
	for (char ch : out) {
		const auto c = static_cast<unsigned char>(ch);
		if (c < 0x80)
			FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
	}
	FUZZ_CHECK(out.size() <= 18 * 4 * size + 64);  // bounded growth (NFKD expands at most 18x)

	FUZZ_CHECK(nn::normalise(out) == out);

	std::string into = "prefix\x1F";
	nn::normalise_into(in, into);
	FUZZ_CHECK(into == "prefix\x1F" + out);

	std::string ascii, expected;
	for (std::uint8_t c : std::string_view(in)) {
		if (c >= 0x80)
			continue;
		ascii.push_back(static_cast<char>(c));
		if (c >= 'A' && c <= 'Z')
			expected.push_back(static_cast<char>(c - 'A' + 'a'));
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			expected.push_back(static_cast<char>(c));
	}
	FUZZ_CHECK(nn::normalise(ascii) == expected);

	if (size >= 2) {
		std::size_t cut = data[0] % size;
		while (cut < size && (data[cut] & 0xC0) == 0x80)
			++cut;
		FUZZ_CHECK(nn::normalise(in.substr(0, cut)) + nn::normalise(in.substr(cut)) == out);
	}
	return 0;
}
