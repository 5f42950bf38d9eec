#include "core/civil_date.hpp"

#include <gtest/gtest.h>

#include <vector>

using outreach::CivilDate;
using namespace outreach;

namespace {

// The day after d, by counting on the calendar (independent of to_days/from_days).
CivilDate next_day(CivilDate d) {
	static const int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
	const int last = d.month == 2 && leap ? 29 : lengths[d.month - 1];
	if (++d.day > last) {
		d.day = 1;
		if (++d.month > 12) {
			d.month = 1;
			++d.year;
		}
	}
	return d;
}

}  // namespace

// ---- to_days / from_days -------------------------------------------------------------------

TEST(CivilDateDays, KnownAnchors) {
	EXPECT_EQ(to_days({1970, 1, 1}), 0);
	EXPECT_EQ(to_days({1969, 12, 31}), -1);
	EXPECT_EQ(to_days({1900, 1, 1}), -25567);
	EXPECT_EQ(to_days({2000, 1, 1}), 10957);
	EXPECT_EQ(to_days({2000, 3, 1}), 11017);
	EXPECT_EQ(to_days({2024, 2, 29}), 19782);
	EXPECT_EQ(to_days({2100, 12, 31}), 47846);
	EXPECT_EQ(from_days(0), (CivilDate{1970, 1, 1}));
	EXPECT_EQ(from_days(-1), (CivilDate{1969, 12, 31}));
	EXPECT_EQ(from_days(11017), (CivilDate{2000, 3, 1}));
	EXPECT_EQ(from_days(19782), (CivilDate{2024, 2, 29}));
	EXPECT_EQ(from_days(47846), (CivilDate{2100, 12, 31}));
}

TEST(CivilDateDays, RoundTripEveryDayFrom1900To2100) {
	CivilDate d{1900, 1, 1};
	long expected = to_days(d);
	ASSERT_EQ(expected, -25567);
	long checked = 0;
	for (;;) {
		ASSERT_EQ(to_days(d), expected) << to_string(d);
		ASSERT_EQ(from_days(expected), d) << expected;
		++checked;
		if (d == CivilDate{2100, 12, 31})
			break;
		d = next_day(d);
		++expected;
	}
	EXPECT_EQ(checked, 47846 + 25567 + 1);  // 201 years, 49 leap days (1900 and 2100 are not leap)
}

// ---- is_leap_year / days_in_month ----------------------------------------------------------

TEST(CivilDateLeapYear, CenturiesAndOrdinaryYears) {
	EXPECT_FALSE(is_leap_year(1900));
	EXPECT_TRUE(is_leap_year(2000));
	EXPECT_TRUE(is_leap_year(2024));
	EXPECT_FALSE(is_leap_year(2100));
	EXPECT_FALSE(is_leap_year(2023));
	EXPECT_TRUE(is_leap_year(1996));
	EXPECT_TRUE(is_leap_year(2400));
}

TEST(CivilDateLeapYear, DaysInFebruary) {
	EXPECT_EQ(days_in_month(2024, 2), 29);
	EXPECT_EQ(days_in_month(2023, 2), 28);
	EXPECT_EQ(days_in_month(1900, 2), 28);
	EXPECT_EQ(days_in_month(2000, 2), 29);
	EXPECT_EQ(days_in_month(2023, 4), 30);
	EXPECT_EQ(days_in_month(2023, 12), 31);
}

// ---- add_years: as PostgreSQL's date + interval 'N years' ----------------------------------
// (Expected values checked against PostgreSQL 'date + make_interval(years => n)'.)

TEST(CivilDateAddYears, LeapDayBecomes28FebruaryInCommonYears) {
	EXPECT_EQ(add_years({2024, 2, 29}, 1), (CivilDate{2025, 2, 28}));
	EXPECT_EQ(add_years({2024, 2, 29}, 7), (CivilDate{2031, 2, 28}));
	EXPECT_EQ(add_years({2024, 2, 29}, 15), (CivilDate{2039, 2, 28}));
	EXPECT_EQ(add_years({2024, 2, 29}, 76), (CivilDate{2100, 2, 28}));  // 2100 is not a leap year
}

TEST(CivilDateAddYears, LeapDayStaysInLeapYears) {
	EXPECT_EQ(add_years({2024, 2, 29}, 4), (CivilDate{2028, 2, 29}));
	EXPECT_EQ(add_years({2024, 2, 29}, -24), (CivilDate{2000, 2, 29}));
	EXPECT_EQ(add_years({1996, 2, 29}, 4), (CivilDate{2000, 2, 29}));
}

TEST(CivilDateAddYears, NegativeYears) {
	EXPECT_EQ(add_years({2024, 2, 29}, -1), (CivilDate{2023, 2, 28}));
	EXPECT_EQ(add_years({2024, 2, 29}, -4), (CivilDate{2020, 2, 29}));
	EXPECT_EQ(add_years({2020, 6, 15}, -10), (CivilDate{2010, 6, 15}));
	EXPECT_EQ(add_years({2000, 1, 1}, -100), (CivilDate{1900, 1, 1}));
}

TEST(CivilDateAddYears, OtherDaysKeepTheirDate) {
	EXPECT_EQ(add_years({2023, 3, 31}, 1), (CivilDate{2024, 3, 31}));
	EXPECT_EQ(add_years({2023, 2, 28}, 1), (CivilDate{2024, 2, 28}));
	EXPECT_EQ(add_years({2023, 12, 31}, 15), (CivilDate{2038, 12, 31}));
	EXPECT_EQ(add_years({2023, 9, 1}, 0), (CivilDate{2023, 9, 1}));
	EXPECT_EQ(add_years({2024, 2, 29}, 0), (CivilDate{2024, 2, 29}));
}

// ---- add_days ------------------------------------------------------------------------------

TEST(CivilDateAddDays, AcrossMonthAndYearEnds) {
	EXPECT_EQ(add_days({2023, 12, 31}, 1), (CivilDate{2024, 1, 1}));
	EXPECT_EQ(add_days({2024, 1, 1}, -1), (CivilDate{2023, 12, 31}));
	EXPECT_EQ(add_days({2024, 1, 31}, 1), (CivilDate{2024, 2, 1}));
	EXPECT_EQ(add_days({2024, 4, 30}, 1), (CivilDate{2024, 5, 1}));
	EXPECT_EQ(add_days({2024, 2, 28}, 1), (CivilDate{2024, 2, 29}));
	EXPECT_EQ(add_days({2024, 2, 29}, 1), (CivilDate{2024, 3, 1}));
	EXPECT_EQ(add_days({2023, 2, 28}, 1), (CivilDate{2023, 3, 1}));
	EXPECT_EQ(add_days({1900, 2, 28}, 1), (CivilDate{1900, 3, 1}));
	EXPECT_EQ(add_days({2000, 2, 28}, 1), (CivilDate{2000, 2, 29}));
	EXPECT_EQ(add_days({2024, 3, 1}, -1), (CivilDate{2024, 2, 29}));
	EXPECT_EQ(add_days({2023, 3, 1}, -1), (CivilDate{2023, 2, 28}));
}

TEST(CivilDateAddDays, WholeYearsAndZero) {
	EXPECT_EQ(add_days({2024, 1, 1}, 366), (CivilDate{2025, 1, 1}));
	EXPECT_EQ(add_days({2023, 1, 1}, 365), (CivilDate{2024, 1, 1}));
	EXPECT_EQ(add_days({2025, 1, 1}, -366), (CivilDate{2024, 1, 1}));
	EXPECT_EQ(add_days({2024, 5, 17}, 0), (CivilDate{2024, 5, 17}));
	EXPECT_EQ(add_days({1970, 1, 1}, 47846), (CivilDate{2100, 12, 31}));
	EXPECT_EQ(add_days({2100, 12, 31}, -47846 - 25567), (CivilDate{1900, 1, 1}));
}

// ---- comparison ----------------------------------------------------------------------------

TEST(CivilDateCompare, AllOperators) {
	const CivilDate a{2024, 2, 29}, b{2024, 3, 1}, a2{2024, 2, 29};
	EXPECT_TRUE(a == a2);
	EXPECT_FALSE(a == b);
	EXPECT_TRUE(a != b);
	EXPECT_FALSE(a != a2);
	EXPECT_TRUE(a < b);
	EXPECT_FALSE(b < a);
	EXPECT_FALSE(a < a2);
	EXPECT_TRUE(a <= b);
	EXPECT_TRUE(a <= a2);
	EXPECT_FALSE(b <= a);
	EXPECT_TRUE(b > a);
	EXPECT_FALSE(a > b);
	EXPECT_FALSE(a > a2);
	EXPECT_TRUE(b >= a);
	EXPECT_TRUE(a >= a2);
	EXPECT_FALSE(a >= b);
}

TEST(CivilDateCompare, YearBeforeMonthBeforeDay) {
	EXPECT_LT((CivilDate{2023, 12, 31}), (CivilDate{2024, 1, 1}));
	EXPECT_LT((CivilDate{2024, 1, 31}), (CivilDate{2024, 2, 1}));
	EXPECT_LT((CivilDate{2024, 2, 1}), (CivilDate{2024, 2, 2}));
	EXPECT_GT((CivilDate{2025, 1, 1}), (CivilDate{2024, 12, 31}));
}

TEST(CivilDateCompare, AgreesWithDayNumbers) {
	std::vector<CivilDate> dates;
	for (CivilDate d{2023, 12, 1}; d < CivilDate{2024, 4, 1}; d = next_day(d))
		dates.push_back(d);
	for (const auto &x : dates)
		for (const auto &y : dates) {
			ASSERT_EQ(x < y, to_days(x) < to_days(y));
			ASSERT_EQ(x <= y, to_days(x) <= to_days(y));
			ASSERT_EQ(x == y, to_days(x) == to_days(y));
			ASSERT_EQ(x > y, to_days(x) > to_days(y));
			ASSERT_EQ(x >= y, to_days(x) >= to_days(y));
			ASSERT_EQ(x != y, to_days(x) != to_days(y));
		}
}

// ---- to_string -----------------------------------------------------------------------------

TEST(CivilDateToString, ZeroPadded) {
	EXPECT_EQ(to_string({2024, 2, 9}), "2024-02-09");
	EXPECT_EQ(to_string({2024, 12, 31}), "2024-12-31");
	EXPECT_EQ(to_string({999, 1, 1}), "0999-01-01");
	EXPECT_EQ(to_string({1, 1, 1}), "0001-01-01");
	EXPECT_EQ(to_string({1970, 1, 1}), "1970-01-01");
}
