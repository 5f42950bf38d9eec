#include "core/backoff.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <limits>
#include <stdexcept>

using outreachd::backoff_seconds;

TEST(Backoff, DoublesFromBaseWithEqualJitter) {
	EXPECT_DOUBLE_EQ(backoff_seconds(1, 5, 3600, 0.0), 2.5);   // half of the base at least
	EXPECT_DOUBLE_EQ(backoff_seconds(1, 5, 3600, 0.5), 3.75);
	EXPECT_DOUBLE_EQ(backoff_seconds(2, 5, 3600, 0.0), 5);
	EXPECT_DOUBLE_EQ(backoff_seconds(3, 5, 3600, 0.0), 10);
	EXPECT_DOUBLE_EQ(backoff_seconds(4, 5, 3600, 0.5), 30);
	EXPECT_LT(backoff_seconds(1, 5, 3600, 0.999999), 5);
}

TEST(Backoff, NeverZeroNeverAboveCap) {
	for (int attempt = -3; attempt <= 200; ++attempt)
		for (double r : {0.0, 0.25, 0.5, 0.999999}) {
			const double d = backoff_seconds(attempt, 5, 3600, r);
			EXPECT_GT(d, 0) << attempt << " " << r;
			EXPECT_LE(d, 3600) << attempt << " " << r;
		}
}

TEST(Backoff, CeilingGrowsMonotonicallyToTheCapAndStays) {
	double previous = 0;
	for (int attempt = 1; attempt <= 100; ++attempt) {
		const double ceiling = backoff_seconds(attempt, 5, 3600, 0.999999);
		EXPECT_GE(ceiling, previous) << attempt;
		previous = ceiling;
	}
	EXPECT_NEAR(backoff_seconds(11, 5, 3600, 0.999999), 3600, 0.01);  // 5 * 2^10 > 3600
	EXPECT_DOUBLE_EQ(backoff_seconds(11, 5, 3600, 0.0), 1800);         // the cap, jittered
}

TEST(Backoff, HugeAttemptsDoNotOverflow) {
	for (int attempt : {64, 1024, 1100, 10000, INT_MAX}) {
		EXPECT_DOUBLE_EQ(backoff_seconds(attempt, 5, 3600, 0.0), 1800) << attempt;
		EXPECT_DOUBLE_EQ(backoff_seconds(attempt, 5, 3600, 0.5), 2700) << attempt;
	}
	EXPECT_DOUBLE_EQ(backoff_seconds(10000, 1e300, 1e308, 0.0), 0.5e308);
}

TEST(Backoff, AttemptsBelowOneCountAsTheFirst) {
	EXPECT_DOUBLE_EQ(backoff_seconds(0, 5, 3600, 0.0), 2.5);
	EXPECT_DOUBLE_EQ(backoff_seconds(INT_MIN, 5, 3600, 0.0), 2.5);
}

TEST(Backoff, OutOfRangeRandomIsClamped) {
	EXPECT_DOUBLE_EQ(backoff_seconds(20, 5, 3600, 1.5), 3600);
	EXPECT_DOUBLE_EQ(backoff_seconds(20, 5, 3600, -1), 1800);
	EXPECT_DOUBLE_EQ(backoff_seconds(20, 5, 3600, std::nan("")), 1800);
}

TEST(Backoff, CapBelowBaseMeansTheCap) { EXPECT_DOUBLE_EQ(backoff_seconds(1, 60, 10, 0.0), 5); }

TEST(Backoff, RejectsNonPositiveOrInfiniteParameters) {
	EXPECT_THROW(backoff_seconds(1, 0, 3600, 0), std::invalid_argument);
	EXPECT_THROW(backoff_seconds(1, 5, 0, 0), std::invalid_argument);
	EXPECT_THROW(backoff_seconds(1, -5, 3600, 0), std::invalid_argument);
	EXPECT_THROW(backoff_seconds(1, 5, std::numeric_limits<double>::infinity(), 0), std::invalid_argument);
	EXPECT_THROW(backoff_seconds(1, std::nan(""), 3600, 0), std::invalid_argument);
}
