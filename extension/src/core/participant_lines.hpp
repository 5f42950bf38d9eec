// The checks of one line of a member's participant file (outreach.import_participants, see
// docs/import.md), and what the line holds once checked. Values are trimmed of spaces and tabs;
// an empty value is "not given" (the participant's value, if any, is kept). A line's first
// problem is reported, naming the file's column: required values (external_ref, first_name,
// last_name, date_of_birth), control characters, lengths, the date of birth (the file's date
// order, 1900-01-01 to today), the postcode (BS 7666), the coded fields (the coding frames of
// outreach.coding_frame, by code, label or alias), the school (a URN of 6 digits or a UKPRN of 8
// beginning with 1: whether the institution is known is checked in SQL), UPN and ULN (check
// characters), the entry-year override (1950-2100, with a reason), and an external_ref that an
// earlier line of the file already gave.
#pragma once
#include "civil_date.hpp"
#include "import_dates.hpp"
#include "import_header.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outreach::participant_lines {

// The coding frames of the coded fields: input (lower case) -> the value stored (nullopt: the
// code says "not available", stored as NULL).
using Frame = std::unordered_map<std::string, std::optional<std::string>>;

struct Frames {
	Frame sex, gender_identity, ethnicity, disability, religion;
};

struct Row {
	std::string problem;  // empty: the line is good
	std::string external_ref, first_name, last_name;
	CivilDate date_of_birth;
	std::optional<std::string> postcode;  // canonical
	std::optional<std::string> sex, gender_identity, ethnicity, disability, religion;
	std::optional<int> school_urn, school_ukprn;
	std::optional<std::string> upn, uln;
	std::optional<int> override_year;
	std::optional<std::string> override_reason;
};

class Checker {
public:
	Checker(const import_header::Mapping &mapping, const std::vector<std::string> &header, const Frames &frames,
			std::optional<import_dates::Order> order, CivilDate today)
		: mapping_(mapping), header_(header), frames_(frames), order_(order), today_(today) {}

	// Checks one record (its fields as read) of physical line line_no into row.
	void check(const std::vector<std::string> &fields, int line_no, Row &row);

private:
	const import_header::Mapping &mapping_;
	const std::vector<std::string> &header_;
	const Frames &frames_;
	std::optional<import_dates::Order> order_;
	CivilDate today_;
	std::unordered_map<std::string, int> first_line_of_;  // external_ref -> the line that gave it
};

// The field's value in a record: trimmed; empty when the column is absent or the record short.
std::string_view value(const std::vector<std::string> &fields, int column) noexcept;

// True when the text holds a control character (C0, DEL, C1) or a character that hides or
// reorders text (zero-width and directional marks, line and paragraph separators, U+FEFF).
bool has_control(std::string_view s) noexcept;

}  // namespace outreach::participant_lines

#include "cpp_only.hpp"
