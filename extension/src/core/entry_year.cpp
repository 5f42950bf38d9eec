#include "entry_year.hpp"

#include <cstdio>

namespace outreach::entry_year {

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view lower) {
	if (a.size() != lower.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i) {
		char c = a[i];
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
		if (c != lower[i])
			return false;
	}
	return true;
}

}  // namespace

std::optional<Nation> parse_nation(std::string_view name) {
	if (equals_ignoring_case(name, "england"))
		return Nation::england;
	if (equals_ignoring_case(name, "wales"))
		return Nation::wales;
	if (equals_ignoring_case(name, "scotland"))
		return Nation::scotland;
	if (equals_ignoring_case(name, "northern_ireland"))
		return Nation::northern_ireland;
	return std::nullopt;
}

int expected_he_entry_year(int year, int month, int day, Nation nation) {
	switch (nation) {
	case Nation::england:
	case Nation::wales:
		return year + (month >= 9 ? 19 : 18);
	case Nation::scotland:
		return year + (month <= 2 ? 17 : 18);
	case Nation::northern_ireland:
		return year + ((month > 7 || (month == 7 && day >= 2)) ? 19 : 18);
	}
	return year + 18;
}

int academic_year(int year, int month, int /*day*/) { return month >= 9 ? year : year - 1; }

std::string academic_year_label(int start_year) {
	char buf[32];
	// (64-bit: start_year + 1 overflows an int at 2147483647)
	const int next = static_cast<int>(((static_cast<long long>(start_year) + 1) % 100 + 100) % 100);
	std::snprintf(buf, sizeof buf, "%d/%02d", start_year, next);
	return buf;
}

}  // namespace outreach::entry_year
