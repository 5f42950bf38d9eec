#include "postcode.hpp"

#include "error.hpp"

#include <array>
#include <cstring>

namespace outreach::postcode {
namespace {

constexpr bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// A set of letters A-Z as a bit mask, so a membership test is a shift and an AND.
using LetterSet = std::uint32_t;
constexpr LetterSet letters(const char *s) {
	LetterSet set = 0;
	for (; *s; ++s)
		set |= LetterSet{1} << (*s - 'A');
	return set;
}
constexpr bool in(LetterSet set, char c) { return is_upper(c) && ((set >> (c - 'A')) & 1U) != 0; }

// BS 7666 positional rules.
constexpr LetterSet never_first = letters("QVX");
constexpr LetterSet never_second = letters("IJZ");
constexpr LetterSet third_of_a9a = letters("ABCDEFGHJKPSTUW");
constexpr LetterSet fourth_of_aa9a = letters("ABEHMNPRVWXY");
constexpr LetterSet never_inward = letters("CIKMOV");

ParseResult fail(Problem p, char c = 0) {
	ParseResult r;
	r.problem = p;
	r.offending = c;
	return r;
}

// Outward code of 2 to 4 characters: A9 A99 AA9 AA99 A9A AA9A.
ParseResult check_outward(const char *o, int n) {
	if (!is_upper(o[0]))
		return fail(Problem::outward_format, o[0]);
	if (in(never_first, o[0]))
		return fail(Problem::first_letter, o[0]);
	if (n >= 3 && is_upper(o[1])) {  // AA9, AA99, AA9A
		if (in(never_second, o[1]))
			return fail(Problem::second_letter, o[1]);
		if (!is_digit(o[2]))
			return fail(Problem::outward_format, o[2]);
		if (n == 4 && is_upper(o[3]) && !in(fourth_of_aa9a, o[3]))
			return fail(Problem::fourth_letter, o[3]);
		if (n == 4 && !is_upper(o[3]) && !is_digit(o[3]))
			return fail(Problem::outward_format, o[3]);
		if (o[0] == 'G' && o[1] == 'X')
			return fail(Problem::overseas_territory);
		return {};
	}
	if (!is_digit(o[1]))  // A9, A99, A9A
		return fail(Problem::outward_format, o[1]);
	if (n == 4)
		return fail(Problem::outward_format);
	if (n == 3 && is_upper(o[2]) && !in(third_of_a9a, o[2]))
		return fail(Problem::third_letter, o[2]);
	return {};
}

ParseResult check_inward(const char *i) {
	if (!is_digit(i[0]) || !is_upper(i[1]) || !is_upper(i[2]))
		return fail(Problem::inward_format);
	for (int k = 1; k < 3; ++k)
		if (in(never_inward, i[k]))
			return fail(Problem::inward_letter, i[k]);
	return {};
}

Packed pack(const char *outward_code, int n, const char *inward_code) {
	char text[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	std::memcpy(text, outward_code, n);
	text[n] = ' ';
	std::memcpy(text + n + 1, inward_code, 3);
	Packed p = 0;
	for (char c : text)
		p = (p << 8) | static_cast<unsigned char>(c);
	return p;
}

// Shortens a hostile or huge input for an error message, without splitting a UTF-8 sequence.
std::string quote_for_message(std::string_view input) {
	constexpr std::size_t limit = 40;
	if (input.size() <= limit)
		return std::string(input);
	std::size_t cut = limit;
	while (cut > 0 && (static_cast<unsigned char>(input[cut]) & 0xC0) == 0x80)
		--cut;
	return std::string(input.substr(0, cut)) + "...";
}

}  // namespace

ParseResult parse(std::string_view input, Packed &out) noexcept {
	char s[7];
	int n = 0;
	for (char c : input) {
		if (is_space(c))
			continue;
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
		if (!is_upper(c) && !is_digit(c))
			return fail(Problem::bad_character, c);
		if (n == 7) {
			ParseResult r = fail(Problem::bad_length);
			r.length = 8;  // "more than 7"
			return r;
		}
		s[n++] = c;
	}
	if (n == 0)
		return fail(Problem::empty);
	if (n < 5) {
		ParseResult r = fail(Problem::bad_length);
		r.length = n;
		return r;
	}
	const int outward_len = n - 3;
	if (outward_len == 3 && std::memcmp(s, "GIR0AA", 6) == 0) {  // Girobank's historic code
		out = pack(s, 3, s + 3);
		return {};
	}
	ParseResult r = check_outward(s, outward_len);
	if (!r.ok())
		return r;
	r = check_inward(s + outward_len);
	if (!r.ok())
		return r;
	out = pack(s, outward_len, s + outward_len);
	return {};
}

std::string describe(const ParseResult &r) {
	const std::string c(1, r.offending);
	switch (r.problem) {
	case Problem::none:
		return "valid";
	case Problem::empty:
		return "it is empty";
	case Problem::bad_character:
		if (static_cast<unsigned char>(r.offending) >= 0x80)
			return "it contains a character other than letters A-Z, digits and spaces";
		return "it contains \"" + c + "\"; a postcode has only letters, digits and one space";
	case Problem::bad_length:
		if (r.length > 7)
			return "it has more than 7 letters and digits; a postcode has 5 to 7";
		return "it has " + std::to_string(r.length) + " letters and digits; a postcode has 5 to 7";
	case Problem::inward_format:
		return "the inward code (the last three characters) must be a digit followed by two letters";
	case Problem::inward_letter:
		return "the inward code cannot contain the letter " + c + " (C, I, K, M, O and V are never used there)";
	case Problem::outward_format:
		return "the outward code must have the form A9, A99, AA9, AA99, A9A or AA9A";
	case Problem::first_letter:
		return "a postcode cannot begin with " + c + " (Q, V and X are never first)";
	case Problem::second_letter:
		return "the second letter cannot be " + c + " (I, J and Z are never second)";
	case Problem::third_letter:
		return "in an A9A outward code the letter cannot be " + c + " (only A-H, J, K, P, S, T, U, W)";
	case Problem::fourth_letter:
		return "in an AA9A outward code the last letter cannot be " + c + " (only A, B, E, H, M, N, P, R, V-Y)";
	case Problem::overseas_territory:
		return "GX is Gibraltar's code, a British Overseas Territory outside the UK postcode system";
	}
	return "it is not a postcode";
}

Packed parse_or_throw(std::string_view input) {
	Packed p = 0;
	const ParseResult r = parse(input, p);
	if (r.ok())
		return p;
	throw Error(sqlstate::invalid_text_representation,
	            "invalid UK postcode \"" + quote_for_message(input) + "\": " + describe(r),
	            {}, "A UK postcode is an outward code (2 to 4 characters) and an inward code (a digit and two letters), e.g. \"SW1A 1AA\".");
}

int format(Packed p, char buf[9]) noexcept {
	int n = 0;
	for (int shift = 56; shift >= 0; shift -= 8) {
		const char c = static_cast<char>((p >> shift) & 0xFF);
		if (c == 0)
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return n;
}

std::string to_string(Packed p) {
	char buf[9];
	const int n = format(p, buf);
	return std::string(buf, n);
}

std::string outward(Packed p) {
	const std::string s = to_string(p);
	return s.substr(0, s.find(' '));
}

std::string inward(Packed p) {
	const std::string s = to_string(p);
	return s.substr(s.find(' ') + 1);
}

std::string area(Packed p) {
	const std::string s = to_string(p);
	std::size_t n = 0;
	while (n < s.size() && is_upper(s[n]))
		++n;
	return s.substr(0, n);
}

std::string sector(Packed p) {
	const std::string s = to_string(p);
	return s.substr(0, s.find(' ') + 2);
}

std::string compact(Packed p) {
	std::string s = to_string(p);
	s.erase(s.find(' '), 1);
	return s;
}

}  // namespace outreach::postcode
