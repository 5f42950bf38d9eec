// The checks of one line of a member's activities or attendance file (import_activities,
// import_attendance: docs/import.md), and its values once checked: each field's text, trimmed,
// dates as YYYY-MM-DD. What the database knows (activity types, the member's participants and
// activities) is checked in SQL. A line's first problem is reported, naming the file's column:
// required values, control characters, lengths, dates (the file's order, 1900-2100), an end
// before the start, and a line the file already gave (an activity's reference; the same
// attendance).
#pragma once
#include "civil_date.hpp"
#include "import_dates.hpp"
#include "import_header.hpp"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace outreach::record_lines {

// The fields of the kind that are dates (import_header's order).
std::vector<int> date_fields(import_header::Kind kind);

struct Row {
	std::string problem;                             // empty: the line is good
	std::vector<std::optional<std::string>> values;  // per field (import_header's order); nullopt: not given
};

class Checker {
public:
	Checker(import_header::Kind kind, const import_header::Mapping &mapping, const std::vector<std::string> &header,
			std::optional<import_dates::Order> order)
		: kind_(kind), mapping_(mapping), header_(header), order_(order), dates_(date_fields(kind)) {}

	void check(const std::vector<std::string> &fields, int line_no, Row &row);

private:
	import_header::Kind kind_;
	const import_header::Mapping &mapping_;
	const std::vector<std::string> &header_;
	std::optional<import_dates::Order> order_;
	std::vector<int> dates_;
	std::unordered_map<std::string, int> first_line_of_;  // the line's key -> the line that gave it
};

}  // namespace outreach::record_lines

#include "cpp_only.hpp"
