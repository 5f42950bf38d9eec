// Calendar dates without a time zone: the one date type of the core (dates of birth, retention
// facts, export fields), and its date arithmetic. The glue converts PostgreSQL's dates to and
// from it in one place (src/pg/dates.hpp).
#pragma once
#include <string>

namespace outreach {

struct CivilDate {
	int year = 0, month = 0, day = 0;

	friend bool operator==(const CivilDate &a, const CivilDate &b) {
		return a.year == b.year && a.month == b.month && a.day == b.day;
	}
	friend bool operator!=(const CivilDate &a, const CivilDate &b) { return !(a == b); }
	friend bool operator<(const CivilDate &a, const CivilDate &b) {
		if (a.year != b.year)
			return a.year < b.year;
		if (a.month != b.month)
			return a.month < b.month;
		return a.day < b.day;
	}
	friend bool operator<=(const CivilDate &a, const CivilDate &b) { return !(b < a); }
	friend bool operator>(const CivilDate &a, const CivilDate &b) { return b < a; }
	friend bool operator>=(const CivilDate &a, const CivilDate &b) { return !(a < b); }
};

bool is_leap_year(int year);
int days_in_month(int year, int month);

// The same day `years` later; 29 February becomes 28 February in a common year (as
// PostgreSQL's date + interval 'N years' does).
CivilDate add_years(const CivilDate &d, int years);
CivilDate add_days(const CivilDate &d, int days);

// Days since 1970-01-01 and back.
long to_days(const CivilDate &d);
CivilDate from_days(long days);

std::string to_string(const CivilDate &d);  // YYYY-MM-DD

}  // namespace outreach

#include "cpp_only.hpp"
