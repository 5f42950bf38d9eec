#include "core/entry_year.hpp"

#include <gtest/gtest.h>

using namespace outreach::entry_year;

// ---- England and Wales: cohort 1 September .. 31 August ------------------------------------

TEST(EntryYearEngland, CohortSeptember2006ToAugust2007EntersIn2025) {
	EXPECT_EQ(expected_he_entry_year(2006, 9, 1, Nation::england), 2025);
	EXPECT_EQ(expected_he_entry_year(2006, 12, 31, Nation::england), 2025);
	EXPECT_EQ(expected_he_entry_year(2007, 1, 1, Nation::england), 2025);
	EXPECT_EQ(expected_he_entry_year(2007, 8, 31, Nation::england), 2025);
}

TEST(EntryYearEngland, DaysEitherSideOfTheCohort) {
	EXPECT_EQ(expected_he_entry_year(2006, 8, 31, Nation::england), 2024);
	EXPECT_EQ(expected_he_entry_year(2007, 9, 1, Nation::england), 2026);
}

TEST(EntryYearEngland, LeapDay) { EXPECT_EQ(expected_he_entry_year(2008, 2, 29, Nation::england), 2026); }

TEST(EntryYearWales, FollowsTheEnglishCutoff) {
	EXPECT_EQ(expected_he_entry_year(2006, 9, 1, Nation::wales), 2025);
	EXPECT_EQ(expected_he_entry_year(2007, 8, 31, Nation::wales), 2025);
	EXPECT_EQ(expected_he_entry_year(2006, 8, 31, Nation::wales), 2024);
	EXPECT_EQ(expected_he_entry_year(2007, 9, 1, Nation::wales), 2026);
}

// ---- Scotland: cohort 1 March .. end of February -------------------------------------------

TEST(EntryYearScotland, CohortMarch2006ToFebruary2007EntersIn2024) {
	EXPECT_EQ(expected_he_entry_year(2006, 3, 1, Nation::scotland), 2024);
	EXPECT_EQ(expected_he_entry_year(2006, 12, 31, Nation::scotland), 2024);
	EXPECT_EQ(expected_he_entry_year(2007, 2, 28, Nation::scotland), 2024);
}

TEST(EntryYearScotland, CohortMarch2007ToLeapDay2008EntersIn2025) {
	EXPECT_EQ(expected_he_entry_year(2007, 3, 1, Nation::scotland), 2025);
	EXPECT_EQ(expected_he_entry_year(2008, 2, 29, Nation::scotland), 2025);
}

TEST(EntryYearScotland, DaysEitherSideOfTheCohort) {
	EXPECT_EQ(expected_he_entry_year(2006, 2, 28, Nation::scotland), 2023);
	EXPECT_EQ(expected_he_entry_year(2008, 3, 1, Nation::scotland), 2026);
}

// ---- Northern Ireland: cohort 2 July .. 1 July ---------------------------------------------

TEST(EntryYearNorthernIreland, CohortJuly2006ToJuly2007EntersIn2025) {
	EXPECT_EQ(expected_he_entry_year(2006, 7, 2, Nation::northern_ireland), 2025);
	EXPECT_EQ(expected_he_entry_year(2006, 12, 31, Nation::northern_ireland), 2025);
	EXPECT_EQ(expected_he_entry_year(2007, 1, 1, Nation::northern_ireland), 2025);
	EXPECT_EQ(expected_he_entry_year(2007, 7, 1, Nation::northern_ireland), 2025);
}

TEST(EntryYearNorthernIreland, DaysEitherSideOfTheCohort) {
	EXPECT_EQ(expected_he_entry_year(2006, 7, 1, Nation::northern_ireland), 2024);
	EXPECT_EQ(expected_he_entry_year(2007, 7, 2, Nation::northern_ireland), 2026);
}

TEST(EntryYearNorthernIreland, LeapDay) {
	EXPECT_EQ(expected_he_entry_year(2008, 2, 29, Nation::northern_ireland), 2026);
}

// ---- nations -------------------------------------------------------------------------------

TEST(ParseNation, AcceptsEachNationInAnyCase) {
	EXPECT_EQ(parse_nation("england"), Nation::england);
	EXPECT_EQ(parse_nation("ENGLAND"), Nation::england);
	EXPECT_EQ(parse_nation("Wales"), Nation::wales);
	EXPECT_EQ(parse_nation("sCoTlAnD"), Nation::scotland);
	EXPECT_EQ(parse_nation("Northern_Ireland"), Nation::northern_ireland);
}

TEST(ParseNation, RejectsOtherNames) {
	EXPECT_FALSE(parse_nation("france").has_value());
	EXPECT_FALSE(parse_nation("").has_value());
	EXPECT_FALSE(parse_nation("england ").has_value());
	EXPECT_FALSE(parse_nation(" england").has_value());
	EXPECT_FALSE(parse_nation("northern ireland").has_value());
	EXPECT_FALSE(parse_nation("engl").has_value());
	EXPECT_FALSE(parse_nation("uk").has_value());
}

// ---- academic years ------------------------------------------------------------------------

TEST(AcademicYear, StartsOnFirstSeptember) {
	EXPECT_EQ(academic_year(2025, 8, 31), 2024);
	EXPECT_EQ(academic_year(2025, 9, 1), 2025);
	EXPECT_EQ(academic_year(2025, 12, 31), 2025);
	EXPECT_EQ(academic_year(2026, 1, 1), 2025);
}

TEST(AcademicYear, LabelHasTwoDigitEndYear) {
	EXPECT_EQ(academic_year_label(2025), "2025/26");
	EXPECT_EQ(academic_year_label(1999), "1999/00");
	EXPECT_EQ(academic_year_label(2009), "2009/10");
	EXPECT_EQ(academic_year_label(2000), "2000/01");
	// Every int has a label: no signed overflow at the limits.
	EXPECT_EQ(academic_year_label(2147483647), "2147483647/48");
	EXPECT_EQ(academic_year_label(-2147483647 - 1), "-2147483648/53");
	EXPECT_EQ(academic_year_label(-1), "-1/00");
}
