// UK postcodes: parsing by the BS 7666 format rules and the canonical form "SW1A 1AA".
//
// A parsed postcode is its canonical text packed big-endian into 64 bits and padded with
// zero bytes, so comparing two packed values as unsigned integers gives exactly the byte
// order of their canonical texts (C collation), and the SQL type can be passed by value.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace outreach::postcode {

using Packed = std::uint64_t;

// Why an input is not a postcode; describe() turns it into a sentence for the error message.
enum class Problem {
	none,
	empty,
	bad_character,      // punctuation, non-ASCII, ...
	bad_length,         // fewer than 5 or more than 7 letters and digits
	inward_format,      // inward code is not digit + two letters
	inward_letter,      // C I K M O V in the inward code
	outward_format,     // outward code matches none of A9 A99 AA9 AA99 A9A AA9A
	first_letter,       // Q V X first
	second_letter,      // I J Z second
	third_letter,       // A9A: letter not in ABCDEFGHJKPSTUW
	fourth_letter,      // AA9A: letter not in ABEHMNPRVWXY
	overseas_territory  // GX (Gibraltar) has the format but is not a UK postcode
};

struct ParseResult {
	Problem problem = Problem::none;
	char offending = 0;  // the character at fault, when there is one
	int length = 0;      // letters and digits seen, for bad_length
	bool ok() const { return problem == Problem::none; }
};

// Parses any case and spacing. Never throws; on success stores the packed canonical form.
ParseResult parse(std::string_view input, Packed &out) noexcept;

// Parses or throws outreach::Error (22P02) whose message names the value and the problem.
Packed parse_or_throw(std::string_view input);

std::string describe(const ParseResult &result);

// Canonical text, at most 8 characters, written to buf (9 bytes with the terminating NUL).
// Returns the length.
int format(Packed p, char buf[9]) noexcept;
std::string to_string(Packed p);

std::string outward(Packed p);   // "SW1A"
std::string inward(Packed p);    // "1AA"
std::string area(Packed p);      // "SW": the leading letters
std::string sector(Packed p);    // "SW1A 1"
std::string compact(Packed p);   // "SW1A1AA": the canonical form without its space

}  // namespace outreach::postcode

#include "cpp_only.hpp"
