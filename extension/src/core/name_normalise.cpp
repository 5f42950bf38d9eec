// utf8proc rather than ICU: a small C library with exactly the operations needed here
// (compatibility decomposition, case folding, mark stripping, categories), one Debian package,
// and no locale state, so the result never depends on the server's locale settings.
#include "name_normalise.hpp"

#include <utf8proc.h>

namespace outreach::names {
namespace {

bool is_kept(utf8proc_int32_t cp) {
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_ND:
		return true;
	default:
		return false;
	}
}

void append_utf8(utf8proc_int32_t cp, std::string &out) {
	utf8proc_uint8_t buf[4];
	const auto n = utf8proc_encode_char(cp, buf);
	out.append(reinterpret_cast<const char *>(buf), static_cast<std::size_t>(n));
}

constexpr auto options = static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                                                        UTF8PROC_STRIPMARK);

}  // namespace

void normalise_into(std::string_view utf8, std::string &out) {
	const auto *p = reinterpret_cast<const utf8proc_uint8_t *>(utf8.data());
	auto left = static_cast<utf8proc_ssize_t>(utf8.size());
	while (left > 0) {
		const unsigned char c = *p;
		if (c < 0x80) {  // ASCII: NFKD, folding and filtering reduce to this
			if (c >= 'A' && c <= 'Z')
				out.push_back(static_cast<char>(c - 'A' + 'a'));
			else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
				out.push_back(static_cast<char>(c));
			++p;
			--left;
			continue;
		}
		utf8proc_int32_t cp;
		const auto used = utf8proc_iterate(p, left, &cp);
		if (used <= 0) {  // malformed: skip one byte
			++p;
			--left;
			continue;
		}
		p += used;
		left -= used;
		// One code point decomposes to at most 18 under NFKD (U+FDFA); folding can add a few.
		utf8proc_int32_t parts[32];
		int boundclass = UTF8PROC_BOUNDCLASS_START;
		const auto n = utf8proc_decompose_char(cp, parts, 32, options, &boundclass);
		for (utf8proc_ssize_t i = 0; i < n && i < 32; ++i)
			if (is_kept(parts[i]))
				append_utf8(parts[i], out);
	}
}

std::string normalise(std::string_view utf8) {
	std::string out;
	out.reserve(utf8.size());
	normalise_into(utf8, out);
	return out;
}

const char *unicode_version() { return utf8proc_unicode_version(); }

}  // namespace outreach::names
