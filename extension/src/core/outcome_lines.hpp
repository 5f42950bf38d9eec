// The checks of one line of an outcome file against the recipient's outcome layout, and the
// search for repeated facts within a file: what import_outcomes() asks of every line before it
// matches references to participants (extension/sql/current/55_outcome_import.sql).
//
// The first problem of a line is reported, in this order: a CSV error (an unterminated quoted
// field says that the rest of the file is inside it), no line terminator on the last line, the
// number of fields, no reference, an unknown outcome code, the academic year (YYYY, YYYY/YY,
// YYYY-YY, YYYY/YYYY or YYYY-YYYY, 1950-2200), the UKPRN (8 digits beginning with 1), the
// lengths of measure (100 characters), value and provider name (200), and what each kind
// needs (ks4/ks5: a measure and a value; he_application/continuation: a value; he_entry: a
// provider). Fields are trimmed of spaces; codes are matched lower-cased and references
// upper-cased (ASCII only, as COLLATE "C").
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outreach::outcome_lines {

// Where the layout's fields are (1-based; 0: the layout has no such column).
struct Layout {
	int n_fields = 0;
	int reference = 0, academic_year = 0, measure = 0, value = 0, provider_ukprn = 0, provider_name = 0, outcome = 0;
	std::optional<std::string> fixed_kind;                    // the kind when the layout has no outcome column
	std::vector<std::pair<std::string, std::string>> codes;  // outcome code (lower case) -> kind
};

struct Fact {
	std::optional<std::string> reference;  // upper-cased; nullopt for a line that did not parse
	std::optional<std::string> kind;
	std::optional<int> academic_year;
	std::string measure;
	std::optional<std::string> value;
	int provider_ukprn = 0;
	std::optional<std::string> provider_name;
	std::optional<std::string> problem;    // the first problem of the line, if any
};

// fields: nullopt when the line did not parse (error is then its CSV error).
Fact check_line(const Layout &layout, const std::vector<std::string> *fields, const std::string &error, bool terminated);

// A line's fact as views into its fields (for quick_check).
struct FactView {
	std::string_view reference, kind, measure, value, provider_name;
	bool has_value = false, has_name = false;
	int academic_year = 0, provider_ukprn = 0;
};

// The fast path for the usual line: n fields taken as they are (a record without quoting),
// judged by the same checks as check_line() (one function in outcome_lines.cpp; lengths taken
// in bytes, which never undercount), and accepted when there is no problem and a reference
// without lower-case letters. Then it fills out exactly as check_line() would fill its Fact
// (views into the fields and into the layout) and returns true; otherwise it returns false
// and check_line() must judge the line, for its message.
bool quick_check(const Layout &layout, const std::string_view *fields, std::size_t n, FactView &out) noexcept;

// Splits a physical line into fields when it can be read without the CSV rules for quoting:
// printable ASCII only (no quote, CR or control character), at most csv::max_fields fields.
// False otherwise (the line then goes through csv::CsvReader).
bool split_plain_line(std::string_view line, std::vector<std::string_view> &fields);

// The first n characters (UTF-8 code points) of s.
std::string_view left_chars(std::string_view s, std::size_t n) noexcept;
std::size_t char_length(std::string_view s) noexcept;

}  // namespace outreach::outcome_lines

#include "cpp_only.hpp"
