// UPN and ULN check characters; see school_ids.hpp for the rules and their sources.
#include "school_ids.hpp"

namespace outreach::school_ids {

namespace {

constexpr std::string_view check_letters = "ABCDEFGHJKLMNPQRTUVWXYZ";  // 0 .. 22; no I, O, S

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// The value of a check-alphabet letter (0 .. 22), or -1.
int letter_value(char c) noexcept {
	const auto at = check_letters.find(c);
	return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// Printable description of one character for messages (control and non-ASCII bytes as hex).
std::string show(char c) {
	const auto u = static_cast<unsigned char>(c);
	if (u >= 0x20 && u < 0x7F)
		return std::string("\"") + c + "\"";
	static const char hex[] = "0123456789ABCDEF";
	return std::string("byte 0x") + hex[u >> 4] + hex[u & 0xF];
}

}  // namespace

std::optional<char> upn_check_letter(std::string_view twelve) noexcept {
	if (twelve.size() != 12)
		return std::nullopt;
	int sum = 0;
	for (std::size_t i = 0; i < 12; ++i) {
		const char c = twelve[i];
		// a digit, or for the last character (a temporary UPN) a check-alphabet letter
		const int value = is_digit(c) ? c - '0' : i == 11 ? letter_value(c) : -1;
		if (value < 0)
			return std::nullopt;
		sum += value * static_cast<int>(i + 2);  // character positions 2 .. 13
	}
	return check_letters[sum % 23];
}

std::optional<std::string> upn_problem(std::string_view upn) {
	if (upn.size() != 13)
		return "a UPN has 13 characters, not " + std::to_string(upn.size());
	if (letter_value(upn[0]) < 0)
		return "the first character must be a check letter (a capital other than I, O or S), not " + show(upn[0]);
	for (std::size_t i = 1; i < 12; ++i)
		if (!is_digit(upn[i]))
			return "character " + std::to_string(i + 1) + " must be a digit, not " + show(upn[i]);
	if (!is_digit(upn[12]) && letter_value(upn[12]) < 0)
		return "the last character must be a digit, or for a temporary UPN a capital other than I, O or S, not " +
		       show(upn[12]);
	const char expected = *upn_check_letter(upn.substr(1));
	if (upn[0] != expected)
		return std::string("wrong check letter ") + upn[0] + " (the digits give " + expected + ")";
	return std::nullopt;
}

std::optional<char> uln_check_digit(std::string_view nine) noexcept {
	if (nine.size() != 9 || nine[0] < '1' || nine[0] > '9')
		return std::nullopt;
	int sum = 0;
	for (std::size_t i = 0; i < 9; ++i) {
		if (!is_digit(nine[i]))
			return std::nullopt;
		sum += (nine[i] - '0') * static_cast<int>(10 - i);  // weights 10 .. 2
	}
	const int remainder = sum % 11;
	if (remainder == 0)
		return std::nullopt;
	return static_cast<char>('0' + 10 - remainder);
}

std::optional<std::string> uln_problem(std::string_view uln) {
	if (uln.size() != 10)
		return "a ULN has 10 digits, not " + std::to_string(uln.size()) + " characters";
	for (std::size_t i = 0; i < 10; ++i)
		if (!is_digit(uln[i]))
			return "character " + std::to_string(i + 1) + " must be a digit, not " + show(uln[i]);
	if (uln[0] == '0')
		return std::string("a ULN does not begin with 0");
	const auto expected = uln_check_digit(uln.substr(0, 9));
	if (!expected)
		return std::string("no check digit exists for the first nine digits (their weighted sum is divisible by 11)");
	if (uln[9] != *expected)
		return std::string("wrong check digit ") + uln[9] + " (the first nine digits give " + *expected + ")";
	return std::nullopt;
}

}  // namespace outreach::school_ids
