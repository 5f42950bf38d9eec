#include "record_lines.hpp"

#include "ascii.hpp"
#include "participant_lines.hpp"  // value(), has_control()

#include <algorithm>

namespace outreach::record_lines {

std::vector<int> date_fields(import_header::Kind kind) {
	switch (kind) {
	case import_header::Kind::activities: return {3, 4};  // starts_on, ends_on
	case import_header::Kind::attendance: return {2};     // attended_on
	case import_header::Kind::participants: return {3};   // date_of_birth
	}
	return {};
}

void Checker::check(const std::vector<std::string> &fields, int line_no, Row &row) {
	const auto &specs = import_header::fields(kind_);
	row = Row{};
	row.values.assign(specs.size(), std::nullopt);
	if (fields.size() != header_.size()) {
		row.problem = "has " + std::to_string(fields.size()) + " fields, the header " + std::to_string(header_.size());
		return;
	}
	std::optional<CivilDate> dates[8];
	for (std::size_t f = 0; f < specs.size(); ++f) {
		const int col = mapping_.column_of[f];
		if (col < 0)
			continue;
		const std::string_view v = participant_lines::value(fields, col);
		auto fail = [&](const std::string &why) {
			row.problem = "column \"" + header_[static_cast<std::size_t>(col)].substr(0, 100) + "\": " + why;
		};
		if (v.empty()) {
			if (specs[f].required)
				return fail("no value (required)");
			continue;
		}
		if (participant_lines::has_control(v))
			return fail("a control character");
		const bool is_date = std::find(dates_.begin(), dates_.end(), static_cast<int>(f)) != dates_.end();
		if (is_date) {
			std::string why;
			const auto d = import_dates::parse(v, order_, why);
			if (!d)
				return fail(why + ": " + std::string(v.substr(0, 40)));
			if (*d < CivilDate{1900, 1, 1} || *d > CivilDate{2100, 12, 31})
				return fail(to_string(*d) + " is not between 1900 and 2100");
			dates[f] = *d;
			row.values[f] = to_string(*d);
			continue;
		}
		if (ascii::utf8_length(v) > 300)
			return fail("longer than 300 characters");
		if (std::string(specs[f].name).find("ref") != std::string::npos && ascii::utf8_length(v) > 100)
			return fail("longer than 100 characters");
		row.values[f] = std::string(v);
	}
	std::string key;
	if (kind_ == import_header::Kind::activities) {
		if (dates[4] && dates[3] && *dates[4] < *dates[3])
			row.problem = "column \"" + header_[static_cast<std::size_t>(mapping_.column_of[4])].substr(0, 100) + "\": ends before it starts";
		key = *row.values[0];
	} else {
		key = *row.values[0] + '\x1f' + *row.values[1] + '\x1f' + *row.values[2];
	}
	if (!row.problem.empty())
		return;
	const auto [it, fresh] = first_line_of_.emplace(key, line_no);
	if (!fresh)
		row.problem = (kind_ == import_header::Kind::activities ? "the activity \"" + key.substr(0, 40) + "\" is given on line "
																 : std::string("the same attendance is given on line ")) +
					  std::to_string(it->second) + " already";
}

}  // namespace outreach::record_lines
