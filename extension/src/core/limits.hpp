// The longest input each SQL-callable function accepts (hardening 0.7.0, docs/decisions.md
// "Hardening (0.7.0): the C++ boundary and bounded inputs"). Every limit is far beyond any real
// value, so it refuses only what cannot be data; what it bounds is the work one call may do:
// with the input bounded, so is every buffer and the time a call takes. An input over its limit
// is refused at once, before any work proportional to it, with 22001 (string data right
// truncation) and a message naming the limit; a predicate (is_valid_postcode, is_valid_upn,
// ...) answers false instead, since no valid value is that long.
#pragma once
#include <cstddef>
#include <string_view>

#include "csv.hpp"

namespace outreach::limits {

// A first or last name, in characters (Unicode code points): normalise_name, pseudonymise,
// pseudo_id_matches. The longest expansion of one character under NFKD and case folding is
// 18 (U+FDFA), so a normalised name is at most 18 * 1000 letters (72 kB of UTF-8).
inline constexpr std::size_t max_name_chars = 1000;
// The same limit in bytes: a UTF-8 character is at most 4 bytes (counting is skipped when the
// bytes alone decide).
inline constexpr std::size_t max_name_bytes = 4 * max_name_chars;

// A postcode as typed, spaces included (the canonical form is at most 8 characters):
// uk_postcode input (text, cast from text, binary), is_valid_postcode, pseudonymise's postcode.
inline constexpr std::size_t max_postcode_bytes = 64;

// A pseudo_id as text ("1-" and 27 characters; the version may have 9 digits).
inline constexpr std::size_t max_pseudo_id_bytes = 64;

// A UPN (13 characters) or ULN (10 digits) or the part of one given to a check function.
inline constexpr std::size_t max_school_id_bytes = 64;

// A key scope ("linkage", "recipient:ucas"): the key file's own limit (core/keyring).
inline constexpr std::size_t max_scope_bytes = 63;

// One CSV record written by csv_record(): what the reader accepts (core/csv), so that nothing
// is written that could not be read back.
inline constexpr std::size_t max_csv_fields = csv::max_fields;
inline constexpr std::size_t max_csv_record_bytes = csv::max_record_bytes;  // the fields' bytes, before quoting

// academic_year_label(int) takes every int: the label of 2147483647 is "2147483647/48" (the
// following year is computed in 64 bits), of -1 "-1/00"; at most 14 characters.

// UTF-8 characters in s (bytes that do not continue a sequence; malformed bytes count as one).
std::size_t utf8_chars(std::string_view s) noexcept;

// True when s is within max bytes.
constexpr bool within(std::string_view s, std::size_t max) noexcept { return s.size() <= max; }

// Throws outreach::Error 22001 "<what> is longer than the limit of <max> bytes" when s is.
void check_bytes(std::string_view s, std::size_t max, std::string_view what);

// Throws outreach::Error 22001 "<what> is longer than the limit of 1000 characters" when the
// name is; O(1) for names of at most 1000 bytes or more than 4000.
void check_name(std::string_view name, std::string_view what);

}  // namespace outreach::limits

#include "cpp_only.hpp"
