#include "pseudonym.hpp"

#include "error.hpp"
#include "name_normalise.hpp"
#include "postcode.hpp"

#include <cstdio>
#include <cstring>

namespace outreach::pseudonym {
namespace {

constexpr char separator = '\x1F';  // ASCII unit separator: cannot occur in a normalised name
constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";  // Crockford: 32 digits + 5 check symbols
constexpr int digits = 26;                                               // 128 bits in 5-bit digits

int decode_symbol(char c, bool check_position) {
	if (c >= 'a' && c <= 'z')
		c = static_cast<char>(c - 'a' + 'A');
	switch (c) {  // Crockford's aliases for characters people confuse
	case 'O':
		c = '0';
		break;
	case 'I':
	case 'L':
		c = '1';
		break;
	default:
		break;
	}
	const int limit = check_position ? 37 : 32;
	for (int i = 0; i < limit; ++i)
		if (alphabet[i] == c)
			return i;
	return -1;
}

unsigned __int128 to_integer(const std::array<std::uint8_t, 16> &d) {
	unsigned __int128 v = 0;
	for (std::uint8_t b : d)
		v = (v << 8) | b;
	return v;
}

int check_value(std::int32_t version, const int (&sym)[digits]) {
	int acc = 0;
	const std::string v = std::to_string(version);
	for (char c : v)
		acc = (acc * 10 + (c - '0')) % 37;
	for (int s : sym)
		acc = (acc * 32 + s) % 37;
	return acc;
}

[[noreturn]] void bad_text(std::string_view text, const std::string &why) {
	std::string shown(text.substr(0, 48));
	if (text.size() > 48)
		shown += "...";
	throw Error(sqlstate::invalid_text_representation, "invalid pseudo_id \"" + shown + "\": " + why, {},
	            "A pseudo_id looks like \"1-\" followed by 27 letters and digits, as outreach.pseudonymise() returns it.");
}

}  // namespace

bool message_into(const Identifiers &ids, std::string &msg) {
	const auto &d = ids.date_of_birth;
	if (d.year < 1 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1 || d.day > 31)
		throw Error(sqlstate::datetime_field_overflow, "date of birth must be between years 1 and 9999");
	msg.clear();
	names::normalise_into(ids.first_name, msg);
	if (msg.empty())
		return false;
	msg.push_back(separator);
	const std::size_t last_start = msg.size();
	names::normalise_into(ids.last_name, msg);
	if (msg.size() == last_start)
		return false;
	// 0x1F YYYY-MM-DD 0x1F, written by hand: snprintf was a fifth of the cost of a pseudonym.
	const char date[12] = {separator,
	                       static_cast<char>('0' + d.year / 1000), static_cast<char>('0' + d.year / 100 % 10),
	                       static_cast<char>('0' + d.year / 10 % 10), static_cast<char>('0' + d.year % 10), '-',
	                       static_cast<char>('0' + d.month / 10), static_cast<char>('0' + d.month % 10), '-',
	                       static_cast<char>('0' + d.day / 10), static_cast<char>('0' + d.day % 10), separator};
	msg.append(date, sizeof date);
	bool blank = true;
	for (char c : ids.postcode)
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f')  // postcode::parse's spaces
			blank = false;
	if (blank)
		return false;
	const postcode::Packed p = postcode::parse_or_throw(ids.postcode);
	char canon[9];
	const int len = postcode::format(p, canon);
	for (int i = 0; i < len; ++i)
		if (canon[i] != ' ')
			msg.push_back(canon[i]);
	return true;
}

std::optional<std::string> message(const Identifiers &ids) {
	std::string msg;
	msg.reserve(ids.first_name.size() + ids.last_name.size() + 24);
	if (!message_into(ids, msg))
		return std::nullopt;
	return msg;
}

namespace {
void append_magnitude(std::string &out, std::int64_t v) {
	// The digits of |v| (a minus sign is not a letter or digit: normalisation drops it).
	std::uint64_t m = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
	char buf[24];
	int n = 0;
	do {
		buf[n++] = static_cast<char>('0' + m % 10);
		m /= 10;
	} while (m != 0);
	while (n > 0)
		out.push_back(buf[--n]);
}
}  // namespace

void reference_message_into(std::int64_t controller_id, std::int64_t participant_id, std::string &out) {
	out.clear();
	out.push_back('c');
	append_magnitude(out, controller_id);
	out.push_back(separator);
	out.push_back('p');
	append_magnitude(out, participant_id);
	const char tail[] = {separator, '1', '9', '0', '0', '-', '0', '1', '-', '0', '1', separator, 'G', 'I', 'R', '0', 'A', 'A'};
	out.append(tail, sizeof tail);
}

PseudoId sign(const keys::KeyRing::Signer &signer, std::string_view msg) {
	const crypto::Digest full = signer.mac->digest(msg);
	PseudoId id;
	id.version = signer.version;
	std::memcpy(id.digest.data(), full.data(), id.digest.size());
	return id;
}

std::optional<PseudoId> pseudonymise(const keys::KeyRing &ring, std::string_view scope, const Identifiers &ids) {
	const auto msg = message(ids);
	if (!msg)
		return std::nullopt;
	return sign(ring.newest(scope), *msg);
}

std::string to_text(const PseudoId &id) {
	int sym[digits];
	const unsigned __int128 v = to_integer(id.digest);
	for (int i = 0; i < digits; ++i)
		sym[i] = static_cast<int>((v >> ((digits - 1 - i) * 5)) & 31);
	std::string out = std::to_string(id.version);
	out.push_back('-');
	for (int s : sym)
		out.push_back(alphabet[s]);
	out.push_back(alphabet[check_value(id.version, sym)]);
	return out;
}

PseudoId from_text(std::string_view text) {
	const std::size_t dash = text.find('-');
	if (dash == std::string_view::npos)
		bad_text(text, "it has no \"-\" after the key version");
	const std::string_view ver = text.substr(0, dash);
	if (ver.empty() || ver.size() > 9 || ver[0] == '0')
		bad_text(text, "the key version before \"-\" must be a whole number from 1 to 999999999");
	std::int32_t version = 0;
	for (char c : ver) {
		if (c < '0' || c > '9')
			bad_text(text, "the key version before \"-\" must be a whole number from 1 to 999999999");
		version = version * 10 + (c - '0');
	}
	const std::string_view body = text.substr(dash + 1);
	if (body.size() != digits + 1)
		bad_text(text, "expected 27 characters after \"-\", found " + std::to_string(body.size()));
	int sym[digits];
	unsigned __int128 v = 0;
	for (int i = 0; i < digits; ++i) {
		sym[i] = decode_symbol(body[static_cast<std::size_t>(i)], false);
		if (sym[i] < 0)
			bad_text(text, "character " + std::to_string(dash + 2 + static_cast<std::size_t>(i)) +
			                   " is not a Crockford base32 digit");
		v = (v << 5) | static_cast<unsigned>(sym[i]);
	}
	if (sym[0] > 7)
		bad_text(text, "the value is out of range (the first digit after \"-\" is at most 7)");
	const int check = decode_symbol(body[digits], true);
	if (check < 0 || check != check_value(version, sym))
		bad_text(text, "the check character does not match; the identifier was probably mistyped");
	PseudoId id;
	id.version = version;
	for (int i = 15; i >= 0; --i) {
		id.digest[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v & 0xFF);
		v >>= 8;
	}
	return id;
}

namespace {

// The value of each byte as a reference character: 0-35 for [0-9A-Z], 36-39 for the check
// symbols that are neither (*~$=); 255 for anything else.
struct ReferenceDigits {
	unsigned char value[256];
	constexpr ReferenceDigits() : value() {
		for (int c = 0; c < 256; ++c)
			value[c] = 255;
		for (int c = '0'; c <= '9'; ++c)
			value[c] = static_cast<unsigned char>(c - '0');
		for (int c = 'A'; c <= 'Z'; ++c)
			value[c] = static_cast<unsigned char>(c - 'A' + 10);
		unsigned char next = 36;
		for (const char *s = alphabet + 32; *s; ++s)
			if (value[static_cast<unsigned char>(*s)] == 255)
				value[static_cast<unsigned char>(*s)] = next++;
	}
};
constexpr ReferenceDigits reference_digits;

// The key version's length (1-10 digits before the '-' that precedes the last 27
// characters); 0 when the text has no such shape.
std::size_t version_digits(std::string_view r) noexcept {
	constexpr std::size_t tail = digits + 2;  // '-', the digits, the check symbol
	if (r.size() < tail + 1 || r.size() > tail + 10)
		return 0;
	const std::size_t dash = r.size() - tail;
	if (r[dash] != '-')
		return 0;
	for (std::size_t k = 0; k < dash; ++k)
		if (r[k] < '0' || r[k] > '9')
			return 0;
	return dash;
}

}  // namespace

bool well_formed_reference(std::string_view r) noexcept {
	const std::size_t dash = version_digits(r);
	if (dash == 0)
		return false;
	const auto *body = reinterpret_cast<const unsigned char *>(r.data() + dash + 1);
	unsigned bad = 0;
	for (int k = 0; k < digits; ++k)
		bad |= reference_digits.value[body[k]] >= 36;
	return !bad && reference_digits.value[body[digits]] < 40;
}

std::optional<ReferenceKey> reference_key(std::string_view r) noexcept {
	const std::size_t dash = version_digits(r);
	if (dash == 0)
		return std::nullopt;
	std::uint64_t version = 0;
	for (std::size_t k = 0; k < dash; ++k)
		version = version * 10 + static_cast<std::uint64_t>(r[k] - '0');
	if (version > 0x7FFFFFFF)
		return std::nullopt;  // no key has such a version
	const auto *body = reinterpret_cast<const unsigned char *>(r.data() + dash + 1);
	unsigned bad = 0;
	auto digit36 = [&](int k) -> std::uint64_t {
		const unsigned v = reference_digits.value[body[k]];
		bad |= v >= 36;
		return v;
	};
	static_assert(digits == 26, "two 12-character halves and two characters: 36^12 < 2^63");
	std::uint64_t a = 0, b = 0, c = 0;
	for (int k = 0; k < 12; ++k)
		a = a * 36 + digit36(k);
	for (int k = 12; k < 24; ++k)
		b = b * 36 + digit36(k);
	c = digit36(24) * 36 + digit36(25);
	const unsigned check = reference_digits.value[body[digits]];
	if (bad || check >= 40)
		return std::nullopt;
	c = c * 40 + check;                               // < 51840 < 2^16
	c |= (version << 16) | (std::uint64_t{1} << 63);  // never 0
	return ReferenceKey{a, b, c};
}

int compare(const PseudoId &a, const PseudoId &b) noexcept {
	if (a.version != b.version)
		return a.version < b.version ? -1 : 1;
	return std::memcmp(a.digest.data(), b.digest.data(), a.digest.size());
}

}  // namespace outreach::pseudonym
