#include "core/disclosure.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "core/error.hpp"
#include "test_support.hpp"

using namespace outreach::disclosure;

namespace {

template <class F>
std::string sqlstate_of(F &&f) {
	return outreach::test::error_from(f).sqlstate();
}

std::string rounded(const char *x, Policy p) { return round_decimal(parse_decimal(x, "x"), p); }

std::string marker(const char *part, const char *base, Policy p) {
	const char *m = percent_marker(parse_decimal(part, "part"), parse_decimal(base, "base"), p);
	return m ? m : "shown";
}

}  // namespace

// ---- policies -------------------------------------------------------------------------------

TEST(DisclosurePolicy, NamesAnyCaseAndHesaIsTheDefault) {
	EXPECT_EQ(parse_policy("hesa"), Policy::hesa);
	EXPECT_EQ(parse_policy("OfS"), Policy::ofs);
	EXPECT_TRUE(policies().front().is_default);
	EXPECT_EQ(policies().front().policy, Policy::hesa);
}

TEST(DisclosurePolicy, UnknownIs42704WithTheKnownNamesInTheHint) {
	const outreach::Error e = outreach::test::error_from([] { parse_policy("ons"); });
	EXPECT_STREQ(e.sqlstate(), "42704");
	EXPECT_STREQ(e.what(), "unknown disclosure policy \"ons\"");
	EXPECT_EQ(e.hint(), "Known policies: hesa, ofs.");
	EXPECT_EQ(sqlstate_of([] { parse_policy(""); }), "42704");
	EXPECT_EQ(sqlstate_of([] { parse_policy("hesa "); }), "42704");
}

// ---- counts ---------------------------------------------------------------------------------

TEST(DisclosureCount, HesaBoundaries) {
	const std::pair<std::int64_t, std::int64_t> cases[] = {{0, 0},   {1, 0},   {2, 0},   {3, 5},   {7, 5},
	                                                      {8, 10},  {12, 10}, {13, 15}, {17, 15}, {18, 20},
	                                                      {22, 20}, {23, 25}, {100, 100}};
	for (const auto &[n, r] : cases)
		EXPECT_EQ(round_count(n, Policy::hesa), r) << n;
}

TEST(DisclosureCount, OfsBoundaries) {
	const std::pair<std::int64_t, std::int64_t> cases[] = {{3, 0},   {4, 0},   {5, 10},  {7, 10}, {8, 10},
	                                                      {12, 10}, {14, 10}, {15, 20}, {17, 20}, {18, 20}};
	for (const auto &[n, r] : cases)
		EXPECT_EQ(round_count(n, Policy::ofs), r) << n;
}

TEST(DisclosureCount, OfsSuppressesZeroToTwoAlikeAndShowsThreeAsZero) {
	for (std::int64_t n : {0, 1, 2}) {
		const Published p = publish_count(n, Policy::ofs);
		EXPECT_FALSE(p.value) << n;
		EXPECT_STREQ(p.marker, "[DPL]") << n;
	}
	EXPECT_EQ(publish_count(3, Policy::ofs).value, 0);
	EXPECT_EQ(publish_count(1, Policy::hesa).value, 0);
	EXPECT_EQ(publish_count(1, Policy::hesa).marker, nullptr);
}

TEST(DisclosureCount, NegativeIs22023AndTheLargestValuesDoNotOverflow) {
	EXPECT_EQ(sqlstate_of([] { round_count(-1, Policy::hesa); }), "22023");
	const std::int64_t max = std::numeric_limits<std::int64_t>::max();  // ...807: 5 divides ...805
	EXPECT_EQ(round_count(max, Policy::hesa), max - 2);
	EXPECT_EQ(round_count(max - 3, Policy::hesa), max - 2);
	EXPECT_EQ(round_count(max - 3, Policy::ofs), max - 7);  // ...804 rounds down to ...800
	EXPECT_EQ(sqlstate_of([&] { round_count(max - 2, Policy::ofs); }), "22003");  // ...805 up to ...810
}

// ---- fractional counts (FPE) ------------------------------------------------------------------

TEST(DisclosureDecimal, HesaRoundsUnderTwoAndAHalfToZeroAndHalvesUp) {
	EXPECT_EQ(rounded("0", Policy::hesa), "0");
	EXPECT_EQ(rounded("2.4", Policy::hesa), "0");
	EXPECT_EQ(rounded("2.4999999999999999999", Policy::hesa), "0");
	EXPECT_EQ(rounded("2.5", Policy::hesa), "5");
	EXPECT_EQ(rounded("7.4", Policy::hesa), "5");
	EXPECT_EQ(rounded("7.50", Policy::hesa), "10");
	EXPECT_EQ(rounded("12.5", Policy::hesa), "15");
	EXPECT_EQ(rounded("99999999999999999999997.5", Policy::hesa), "100000000000000000000000");
}

TEST(DisclosureDecimal, OfsRoundsToTensHalvesUp) {
	EXPECT_EQ(rounded("4.99", Policy::ofs), "0");
	EXPECT_EQ(rounded("5", Policy::ofs), "10");
	EXPECT_EQ(rounded("14.999", Policy::ofs), "10");
	EXPECT_EQ(rounded("995", Policy::ofs), "1000");
}

TEST(DisclosureDecimal, RefusesNegativeAndNonFinite) {
	EXPECT_EQ(sqlstate_of([] { parse_decimal("-0.1", "x"); }), "22023");
	EXPECT_EQ(sqlstate_of([] { parse_decimal("NaN", "x"); }), "22023");
	EXPECT_EQ(sqlstate_of([] { parse_decimal("Infinity", "x"); }), "22023");
	EXPECT_EQ(to_string(parse_decimal("007.2500", "x")), "7.25");
	EXPECT_EQ(to_string(add(parse_decimal("0.75", "a"), parse_decimal("9.5", "b"))), "10.25");
}

// ---- percentages ----------------------------------------------------------------------------

TEST(DisclosurePercent, HesaSuppressesABaseOf22AndShows23) {
	EXPECT_EQ(percent_tenths(3, 22, Policy::hesa), std::nullopt);
	EXPECT_STREQ(percent_marker(3, 22, Policy::hesa), "..");
	EXPECT_EQ(percent_tenths(3, 23, Policy::hesa), 130);  // 13.04..% -> 13.0
	EXPECT_EQ(percent_marker(3, 23, Policy::hesa), nullptr);
}

// A percentage on unrounded counts would give away the 1 or 2 people a count of 0 hides (1 of
// 23 is 4.3%, and the base follows from the other cells' percentages), or the 1 or 2 left out.
TEST(DisclosurePercent, HesaWithholdsPercentagesOfTwoOrFewerAndOfAllButTwo) {
	EXPECT_STREQ(percent_marker(0, 100, Policy::hesa), "..");
	EXPECT_STREQ(percent_marker(1, 23, Policy::hesa), "..");
	EXPECT_STREQ(percent_marker(2, 100, Policy::hesa), "..");
	EXPECT_EQ(percent_marker(3, 100, Policy::hesa), nullptr);
	EXPECT_STREQ(percent_marker(98, 100, Policy::hesa), "..");
	EXPECT_STREQ(percent_marker(100, 100, Policy::hesa), "..");
	EXPECT_EQ(percent_marker(97, 100, Policy::hesa), nullptr);
	EXPECT_EQ(marker("2", "30", Policy::hesa), "..");
	EXPECT_EQ(marker("2.5", "30", Policy::hesa), "shown");
	EXPECT_EQ(marker("28", "30", Policy::hesa), "..");
	EXPECT_EQ(marker("27.9", "30", Policy::hesa), "shown");
}

TEST(DisclosurePercent, OneDecimalHalvesUpOnUnroundedValues) {
	EXPECT_EQ(percent_tenths(3, 40, Policy::hesa), 75);    // 7.5
	EXPECT_EQ(percent_tenths(3, 80, Policy::hesa), 38);    // 3.75 -> 3.8
	EXPECT_EQ(percent_tenths(20, 23, Policy::hesa), 870);  // 86.95.. -> 87.0
	EXPECT_EQ(percent_tenths(1, 40, Policy::ofs), std::nullopt);
	const std::int64_t max = std::numeric_limits<std::int64_t>::max();
	EXPECT_EQ(percent_tenths(max / 3, max, Policy::hesa), 333);
}

TEST(DisclosurePercent, OfsMarkers) {
	EXPECT_STREQ(percent_marker(1, 2, Policy::ofs), "[none]");
	EXPECT_STREQ(percent_marker(5, 22, Policy::ofs), "[low]");
	EXPECT_STREQ(percent_marker(2, 100, Policy::ofs), "[DPL]");
	EXPECT_STREQ(percent_marker(0, 100, Policy::ofs), "[DPL]");
	EXPECT_STREQ(percent_marker(98, 100, Policy::ofs), "[DPH]");
	EXPECT_EQ(percent_marker(97, 100, Policy::ofs), nullptr);
	EXPECT_EQ(percent_marker(3, 23, Policy::ofs), nullptr);
	EXPECT_EQ(percent_tenths(3, 23, Policy::ofs), 130);
}

TEST(DisclosurePercent, FractionalBases) {
	EXPECT_EQ(marker("3", "22.4", Policy::hesa), "..");
	EXPECT_EQ(marker("3", "22.4999", Policy::hesa), "..");
	EXPECT_EQ(marker("3", "22.5", Policy::hesa), "shown");
	EXPECT_EQ(marker("3", "22.5", Policy::ofs), "[low]");
	EXPECT_EQ(marker("3", "23.0", Policy::ofs), "shown");
	EXPECT_EQ(marker("2.5", "30", Policy::ofs), "shown");
	EXPECT_EQ(marker("2", "30", Policy::ofs), "[DPL]");
	EXPECT_EQ(marker("28.0", "30", Policy::ofs), "[DPH]");
	EXPECT_EQ(marker("27.9", "30", Policy::ofs), "shown");
}

TEST(DisclosurePercent, BadInputIs22023) {
	EXPECT_EQ(sqlstate_of([] { percent_marker(1, 0, Policy::hesa); }), "22023");
	EXPECT_EQ(sqlstate_of([] { percent_marker(0, 0, Policy::ofs); }), "22023");
	EXPECT_EQ(sqlstate_of([] { percent_marker(-1, 30, Policy::hesa); }), "22023");
	EXPECT_EQ(sqlstate_of([] { percent_marker(1, -30, Policy::hesa); }), "22023");
	EXPECT_EQ(sqlstate_of([] { percent_marker(31, 30, Policy::hesa); }), "22023");
	EXPECT_EQ(sqlstate_of([] { marker("0", "0.000", Policy::hesa); }), "22023");
	EXPECT_EQ(sqlstate_of([] { marker("30.01", "30", Policy::hesa); }), "22023");
}

// ---- means ----------------------------------------------------------------------------------

TEST(DisclosureMean, SuppressedForSevenOrFewer) {
	EXPECT_FALSE(mean_shown(7, Policy::hesa));
	EXPECT_TRUE(mean_shown(8, Policy::hesa));
	EXPECT_FALSE(mean_shown(7, Policy::ofs));
	EXPECT_TRUE(mean_shown(8, Policy::ofs));
	EXPECT_EQ(sqlstate_of([] { mean_shown(0, Policy::hesa); }), "22023");
	EXPECT_EQ(sqlstate_of([] { mean_shown(-8, Policy::hesa); }), "22023");
}
