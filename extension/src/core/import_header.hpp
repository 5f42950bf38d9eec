// The header of a member's import file: each column is matched, case-insensitively and ignoring
// spaces and punctuation, to a field of the kind of file (docs/import.md lists the names and
// aliases: "DOB", "Forename", "Post Code", ...). Unknown columns are listed (the import reports
// and ignores them); a field given by two columns, or a required field without a column, makes
// the header unusable.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace outreach::import_header {

enum class Kind { participants, activities, attendance };

// Kind from its name ("participants", "activities", "attendance"); throws Error 22023 otherwise.
Kind kind_of(std::string_view name);

struct FieldSpec {
	const char *name;     // the field (a column of docs/import.md)
	bool required;
	const char *aliases;  // further accepted names, normalised, separated by '|'
};

// The fields of a kind, in a fixed order: a mapping's positions refer to this order.
const std::vector<FieldSpec> &fields(Kind kind);

struct Mapping {
	std::vector<int> column_of;                 // per field (fields() order): 0-based column, -1 when absent
	std::vector<std::string> unknown;           // header texts of the columns ignored
	std::vector<int> unknown_positions;         // their 1-based positions
	std::vector<std::string> missing;           // required fields without a column
	std::vector<std::string> duplicated;        // "first_name (Forename, First name)"
	bool usable() const { return missing.empty() && duplicated.empty(); }
};

// "Post Code" -> "postcode": lower case, ASCII letters and digits only.
std::string normalise(std::string_view header);

// Throws Error 22P04 for a column name longer than 200 characters.
Mapping map(Kind kind, const std::vector<std::string> &header);

}  // namespace outreach::import_header

#include "cpp_only.hpp"
