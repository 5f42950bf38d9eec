// Properties of the pseudo_id text form (outreach::pseudonym::from_text / to_text):
//  - from_text either returns or throws outreach::Error 22P02, nothing else;
//  - on success the version is 1..999999999, to_text gives the canonical text (same length as
//    the input, upper case, no aliases), which parses back to the same id and is a fixpoint;
//  - the check symbol works: the canonical text with one character replaced, or two
//    neighbours swapped, is rejected unless it still denotes the same id (case, O/I/L aliases);
//  - the input's bytes, read as a (version, digest) pair, survive to_text -> from_text;
//  - the readers of recipient references agree with each other and with to_text: every
//    canonical text is well formed and has a key; any text with a key is well formed.
#include "core/error.hpp"
#include "core/pseudonym.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace ps = outreach::pseudonym;

namespace {

// from_text that reports failure instead of throwing; any other exception is a violation.
bool try_parse(std::string_view text, ps::PseudoId &out) {
	try {
		out = ps::from_text(text);
		return true;
	} catch (const outreach::Error &e) {
		FUZZ_CHECK(std::strcmp(e.sqlstate(), "22P02") == 0);
		FUZZ_CHECK(std::string_view(e.what()).rfind("invalid pseudo_id \"", 0) == 0);
		return false;
	} catch (...) {
		FUZZ_CHECK(!"from_text threw something other than outreach::Error");
	}
	return false;
}

// The canonical text round-trips and rejects every single-character change that alters the id.
void check_canonical(const ps::PseudoId &id, const std::uint8_t *data, std::size_t size) {
	FUZZ_CHECK(id.version >= 1 && id.version <= 999999999);
	const std::string t = ps::to_text(id);
	const std::string version = std::to_string(id.version);
	FUZZ_CHECK(t.size() == version.size() + 1 + 27);
	FUZZ_CHECK(t.compare(0, version.size() + 1, version + "-") == 0);
	for (std::size_t i = version.size() + 1; i < t.size(); ++i)
		FUZZ_CHECK(t[i] != 0 && std::strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U", t[i]) != nullptr);
	for (std::size_t i = version.size() + 1; i + 1 < t.size(); ++i)
		FUZZ_CHECK(t[i] != 'U' && std::strchr("*~$=", t[i]) == nullptr);  // check symbols only last
	FUZZ_CHECK(t[version.size() + 1] <= '7');

	FUZZ_CHECK(ps::well_formed_reference(t) && ps::reference_key(t));

	ps::PseudoId back{};
	FUZZ_CHECK(try_parse(t, back));
	FUZZ_CHECK(ps::compare(back, id) == 0 && ps::compare(id, back) == 0);
	FUZZ_CHECK(ps::to_text(back) == t);

	// Mutations chosen by the input bytes: each accepted one must denote the same id.
	for (std::size_t k = 0; k + 1 < size && k < 16; k += 2) {
		const std::size_t pos = data[k] % t.size();
		std::string m = t;
		if (data[k + 1] & 0x80) {  // swap with the next character
			if (pos + 1 >= m.size())
				continue;
			std::swap(m[pos], m[pos + 1]);
		} else {
			m[pos] = static_cast<char>(data[k + 1]);
		}
		ps::PseudoId other{};
		if (try_parse(m, other))
			FUZZ_CHECK(ps::compare(other, id) == 0);
	}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	const std::string_view in(reinterpret_cast<const char *>(data), size);
	if (ps::reference_key(in))
		FUZZ_CHECK(ps::well_formed_reference(in));
	ps::PseudoId id{};
	if (try_parse(in, id)) {
		const std::string t = ps::to_text(id);
		FUZZ_CHECK(t.size() == in.size());
		// The input differs from the canonical text only by case and Crockford's aliases.
		for (std::size_t i = 0; i < in.size(); ++i) {
			char c = in[i];
			if (c >= 'a' && c <= 'z')
				c = static_cast<char>(c - 'a' + 'A');
			if (c == 'O')
				c = '0';
			if (c == 'I' || c == 'L')
				c = '1';
			FUZZ_CHECK(c == t[i]);
		}
		check_canonical(id, data, size);
	}

	// The input's bytes as a value, as a binary receive (version range-checked) would give it.
	if (size >= 20) {
		ps::PseudoId raw{};
		std::uint32_t v;
		std::memcpy(&v, data, 4);
		raw.version = static_cast<std::int32_t>(v % 999999999u + 1u);
		std::memcpy(raw.digest.data(), data + 4, 16);
		check_canonical(raw, data + 20, size - 20);
	}
	return 0;
}
