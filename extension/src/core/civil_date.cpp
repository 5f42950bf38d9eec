#include "civil_date.hpp"

#include <cstdio>

namespace outreach {

bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

CivilDate add_years(const CivilDate &d, int years) {
	CivilDate r{d.year + years, d.month, d.day};
	const int last = days_in_month(r.year, r.month);
	if (r.day > last)
		r.day = last;
	return r;
}

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
long to_days(const CivilDate &d) {
	const int y = d.month <= 2 ? d.year - 1 : d.year;
	const long era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = static_cast<unsigned>(y - era * 400);
	const unsigned mp = static_cast<unsigned>(d.month > 2 ? d.month - 3 : d.month + 9);
	const unsigned doy = (153 * mp + 2) / 5 + static_cast<unsigned>(d.day) - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + static_cast<long>(doe) - 719468;
}

CivilDate from_days(long z) {
	z += 719468;
	const long era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = static_cast<unsigned>(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const long y = static_cast<long>(yoe) + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
	const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
	return {static_cast<int>(m <= 2 ? y + 1 : y), m, d};
}

CivilDate add_days(const CivilDate &d, int days) { return from_days(to_days(d) + days); }

std::string to_string(const CivilDate &d) {
	char buf[16];
	std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
	return buf;
}

}  // namespace outreach
