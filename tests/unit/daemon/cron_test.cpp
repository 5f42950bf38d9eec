#include "core/cron.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

using namespace outreachd;
using outreachd::test::iso;
using outreachd::test::london;
using outreachd::test::message_of;
using outreachd::test::utc;
using outreachd::test::utc_zone;

namespace {

// The next `n` instants after `from`, as ISO strings (readable failures).
std::vector<std::string> runs(const std::string &expr, std::int64_t from, int n, const Zone &zone = *utc_zone()) {
	const CronExpr e = CronExpr::parse(expr);
	std::vector<std::string> out;
	for (int i = 0; i < n; ++i) {
		const auto next = e.next_after(from, zone);
		if (!next)
			break;
		out.push_back(iso(*next));
		from = *next;
	}
	return out;
}

using Strings = std::vector<std::string>;

}  // namespace

// ---- Field syntax -----------------------------------------------------------------------------

TEST(CronExpr, ListsRangesAndSteps) {
	EXPECT_EQ(runs("1-10/2,30 * * * *", utc(2027, 1, 1), 7),
	          (Strings{"2027-01-01T00:01:00Z", "2027-01-01T00:03:00Z", "2027-01-01T00:05:00Z", "2027-01-01T00:07:00Z",
	                   "2027-01-01T00:09:00Z", "2027-01-01T00:30:00Z", "2027-01-01T01:01:00Z"}));
	EXPECT_EQ(runs("*/20 */12 * * *", utc(2027, 1, 1), 4),
	          (Strings{"2027-01-01T00:20:00Z", "2027-01-01T00:40:00Z", "2027-01-01T12:00:00Z", "2027-01-01T12:20:00Z"}));
}

TEST(CronExpr, StrictlyAfter) {
	const CronExpr e = CronExpr::parse("0 * * * *");
	EXPECT_EQ(e.next_after(utc(2027, 1, 1, 10), *utc_zone()), utc(2027, 1, 1, 11));
	EXPECT_EQ(e.next_after(utc(2027, 1, 1, 10) - 1, *utc_zone()), utc(2027, 1, 1, 10));
}

TEST(CronExpr, MonthAndWeekdayNamesAndSundayAsSeven) {
	// 2027-01-01 is a Friday.
	EXPECT_EQ(runs("0 12 * jan-Mar MON-fri", utc(2027, 1, 1, 13), 2),
	          (Strings{"2027-01-04T12:00:00Z", "2027-01-05T12:00:00Z"}));
	const Strings sundays{"2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z"};
	EXPECT_EQ(runs("0 0 * * 0", utc(2027, 1, 1), 2), sundays);
	EXPECT_EQ(runs("0 0 * * 7", utc(2027, 1, 1), 2), sundays);
	EXPECT_EQ(runs("0 0 * * SUN", utc(2027, 1, 1), 2), sundays);
	EXPECT_EQ(runs("0 0 * * 5-7", utc(2027, 1, 1), 3),
	          (Strings{"2027-01-02T00:00:00Z", "2027-01-03T00:00:00Z", "2027-01-08T00:00:00Z"}));
	EXPECT_EQ(runs("0 0 1 */4 *", utc(2027, 1, 1), 3),
	          (Strings{"2027-05-01T00:00:00Z", "2027-09-01T00:00:00Z", "2028-01-01T00:00:00Z"}));
}

TEST(CronExpr, Macros) {
	EXPECT_EQ(runs("@hourly", utc(2027, 1, 1, 10, 15), 3),
	          (Strings{"2027-01-01T11:00:00Z", "2027-01-01T12:00:00Z", "2027-01-01T13:00:00Z"}));
	EXPECT_EQ(runs("@daily", utc(2027, 1, 1, 10), 1), (Strings{"2027-01-02T00:00:00Z"}));
	EXPECT_EQ(runs("@midnight", utc(2027, 1, 1, 10), 1), (Strings{"2027-01-02T00:00:00Z"}));
	EXPECT_EQ(runs("@weekly", utc(2027, 1, 1), 1), (Strings{"2027-01-03T00:00:00Z"}));
	EXPECT_EQ(runs("@monthly", utc(2027, 1, 1), 1), (Strings{"2027-02-01T00:00:00Z"}));
	EXPECT_EQ(runs("@yearly", utc(2027, 1, 1), 1), (Strings{"2028-01-01T00:00:00Z"}));
	EXPECT_EQ(runs("@annually", utc(2027, 1, 1), 1), (Strings{"2028-01-01T00:00:00Z"}));
	EXPECT_EQ(runs("  @hourly\t", utc(2027, 1, 1), 1), (Strings{"2027-01-01T01:00:00Z"}));
}

// ---- Day matching -----------------------------------------------------------------------------

TEST(CronExpr, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
	// Vixie cron: "the 13th, and every Friday". January 2027: Fridays 1, 8, 15; the 13th is a Wednesday.
	EXPECT_EQ(runs("0 0 13 * 5", utc(2026, 12, 31), 4),
	          (Strings{"2027-01-01T00:00:00Z", "2027-01-08T00:00:00Z", "2027-01-13T00:00:00Z", "2027-01-15T00:00:00Z"}));
	// A field starting with '*' is not a restriction: then both must match (odd days that are Fridays).
	EXPECT_EQ(runs("0 0 */2 * 5", utc(2026, 12, 31), 3),
	          (Strings{"2027-01-01T00:00:00Z", "2027-01-15T00:00:00Z", "2027-01-29T00:00:00Z"}));
	EXPECT_EQ(runs("0 0 * * 5", utc(2026, 12, 31), 2), (Strings{"2027-01-01T00:00:00Z", "2027-01-08T00:00:00Z"}));
	EXPECT_EQ(runs("0 0 13 * *", utc(2026, 12, 31), 2), (Strings{"2027-01-13T00:00:00Z", "2027-02-13T00:00:00Z"}));
}

TEST(CronExpr, ImpossibleDatesNeverMatchAndRareOnesAreFound) {
	EXPECT_EQ(CronExpr::parse("0 0 30 2 *").next_after(utc(2027, 1, 1), *utc_zone()), std::nullopt);
	EXPECT_EQ(CronExpr::parse("0 0 31 4,6,9,11 *").next_after(utc(2027, 1, 1), *utc_zone()), std::nullopt);
	EXPECT_EQ(runs("0 0 29 2 *", utc(2027, 1, 1), 2), (Strings{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}));
	// Friday the 13th in February, but the month restriction still applies to the OR rule.
	EXPECT_EQ(runs("0 0 31 2 5", utc(2027, 1, 1), 1), (Strings{"2027-02-05T00:00:00Z"}));
}

// ---- Time zones -------------------------------------------------------------------------------

TEST(CronExpr, YearlyExportOn20NovemberIsSixGmt) {
	// 20 November is always in GMT in London: 06:00 local = 06:00 UTC.
	EXPECT_EQ(runs("0 6 20 11 *", utc(2026, 6, 1), 5, *london()),
	          (Strings{"2026-11-20T06:00:00Z", "2027-11-20T06:00:00Z", "2028-11-20T06:00:00Z", "2029-11-20T06:00:00Z",
	                   "2030-11-20T06:00:00Z"}));
	// Just before and at the instant.
	const CronExpr e = CronExpr::parse("0 6 20 11 *");
	EXPECT_EQ(e.next_after(utc(2027, 11, 20, 5, 59, 59), *london()), utc(2027, 11, 20, 6));
	EXPECT_EQ(e.next_after(utc(2027, 11, 20, 6), *london()), utc(2028, 11, 20, 6));
	// A summer date shows the zone is applied: 06:00 BST = 05:00 UTC.
	EXPECT_EQ(CronExpr::parse("0 6 20 6 *").next_after(utc(2027, 1, 1), *london()), utc(2027, 6, 20, 5));
}

TEST(CronExpr, DailyJobsOnLondonSpringForwardDay2027) {
	// 28 March 2027: at 01:00 GMT clocks go to 02:00 BST.
	const std::int64_t from = utc(2027, 3, 27, 12);
	// 01:30 does not exist: runs once, at 02:30 BST = 01:30 UTC.
	EXPECT_EQ(runs("30 1 * * *", from, 2, *london()), (Strings{"2027-03-28T01:30:00Z", "2027-03-29T00:30:00Z"}));
	EXPECT_EQ(runs("30 0 * * *", from, 2, *london()), (Strings{"2027-03-28T00:30:00Z", "2027-03-28T23:30:00Z"}));
	EXPECT_EQ(runs("30 2 * * *", from, 2, *london()), (Strings{"2027-03-28T01:30:00Z", "2027-03-29T01:30:00Z"}));
	// 01:30 and 02:30 fall on the same instant that day: one run, not two.
	EXPECT_EQ(runs("30 1,2 * * *", from, 3, *london()),
	          (Strings{"2027-03-28T01:30:00Z", "2027-03-29T00:30:00Z", "2027-03-29T01:30:00Z"}));
	// Every minute: the clock reads 00:59 GMT then 02:00 BST, one instant each minute.
	EXPECT_EQ(runs("* * * * *", utc(2027, 3, 28, 0, 58), 3, *london()),
	          (Strings{"2027-03-28T00:59:00Z", "2027-03-28T01:00:00Z", "2027-03-28T01:01:00Z"}));
}

TEST(CronExpr, DailyJobsOnLondonFallBackDay2027) {
	// 31 October 2027: at 02:00 BST clocks go back to 01:00 GMT; 01:00-01:59 happens twice.
	const std::int64_t from = utc(2027, 10, 30, 12);
	// 01:30 runs once, at its first occurrence (01:30 BST = 00:30 UTC).
	EXPECT_EQ(runs("30 1 * * *", from, 2, *london()), (Strings{"2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"}));
	EXPECT_EQ(runs("30 0 * * *", from, 2, *london()), (Strings{"2027-10-30T23:30:00Z", "2027-11-01T00:30:00Z"}));
	EXPECT_EQ(runs("30 2 * * *", from, 2, *london()), (Strings{"2027-10-31T02:30:00Z", "2027-11-01T02:30:00Z"}));
	// Every half hour: the repeated 01:00 and 01:30 GMT do not run again.
	EXPECT_EQ(runs("*/30 * * * *", utc(2027, 10, 30, 23, 45), 4, *london()),
	          (Strings{"2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z", "2027-10-31T02:00:00Z", "2027-10-31T02:30:00Z"}));
}

// ---- Efficiency -------------------------------------------------------------------------------

TEST(CronExpr, SearchesAreCheap) {
	// 2,000 searches for a yearly and for an every-minute schedule: well under a second each if
	// the search walks days rather than minutes (minute-by-minute would need ~500,000 zone
	// look-ups per yearly search).
	const auto start = std::chrono::steady_clock::now();
	const CronExpr yearly = CronExpr::parse("0 6 20 11 *"), minutely = CronExpr::parse("* * * * *"),
	               never = CronExpr::parse("0 0 30 2 *");
	std::int64_t t = utc(2026, 1, 1);
	for (int i = 0; i < 2000; ++i) {
		ASSERT_TRUE(yearly.next_after(t + i * 3607, *london()));
		ASSERT_TRUE(minutely.next_after(t + i * 3607, *london()));
	}
	for (int i = 0; i < 50; ++i)
		ASSERT_FALSE(never.next_after(t + i * 86400, *london()));
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// ---- Errors -----------------------------------------------------------------------------------

TEST(CronExpr, BadExpressionsSayWhichFieldAndWhatIsWrong) {
	const auto error = [](const char *text) {
		return message_of<std::invalid_argument>([&] { CronExpr::parse(text); });
	};
	EXPECT_EQ(error(""), "invalid cron expression '': expected 5 fields (minute hour day-of-month month "
	                     "day-of-week) or a macro such as @daily, got 0");
	EXPECT_EQ(error("0 1 * *"), "invalid cron expression '0 1 * *': expected 5 fields (minute hour day-of-month "
	                            "month day-of-week) or a macro such as @daily, got 4");
	EXPECT_EQ(error("0 1 * * * /bin/true"), "invalid cron expression '0 1 * * * /bin/true': expected 5 fields "
	                                        "(minute hour day-of-month month day-of-week) or a macro such as "
	                                        "@daily, got 6");
	EXPECT_EQ(error("60 1 * * *"), "invalid cron expression '60 1 * * *': minute field '60': value 60 out of range 0-59");
	EXPECT_EQ(error("0 24 * * *"), "invalid cron expression '0 24 * * *': hour field '24': value 24 out of range 0-23");
	EXPECT_EQ(error("0 0 0 * *"), "invalid cron expression '0 0 0 * *': day-of-month field '0': value 0 out of range 1-31");
	EXPECT_EQ(error("0 0 32 * *"),
	          "invalid cron expression '0 0 32 * *': day-of-month field '32': value 32 out of range 1-31");
	EXPECT_EQ(error("0 0 * 13 *"), "invalid cron expression '0 0 * 13 *': month field '13': value 13 out of range 1-12");
	EXPECT_EQ(error("0 0 * * 8"), "invalid cron expression '0 0 * * 8': day-of-week field '8': value 8 out of range 0-7");
	EXPECT_EQ(error("0 0 * FOO *"), "invalid cron expression '0 0 * FOO *': month field 'FOO': 'FOO' is not a "
	                                "month number (1-12) or name (JAN-DEC)");
	EXPECT_EQ(error("0 0 * * MONDAY"), "invalid cron expression '0 0 * * MONDAY': day-of-week field 'MONDAY': "
	                                   "'MONDAY' is not a day-of-week number (0-7, 0 and 7 = Sunday) or name (SUN-SAT)");
	EXPECT_EQ(error("0 JAN * * *"),
	          "invalid cron expression '0 JAN * * *': hour field 'JAN': 'JAN' is not a number in the range 0-23");
	EXPECT_EQ(error("10-5 * * * *"), "invalid cron expression '10-5 * * * *': minute field '10-5': range 10-5 goes backwards");
	EXPECT_EQ(error("*/0 * * * *"),
	          "invalid cron expression '*/0 * * * *': minute field '*/0': step '0' is not a number from 1 to 60");
	EXPECT_EQ(error("*/x * * * *"),
	          "invalid cron expression '*/x * * * *': minute field '*/x': step 'x' is not a number from 1 to 60");
	EXPECT_EQ(error("5/10 * * * *"), "invalid cron expression '5/10 * * * *': minute field '5/10': step in '5/10' "
	                                 "needs '*' or a range before it (e.g. '5-59/10')");
	EXPECT_EQ(error("1,,2 * * * *"), "invalid cron expression '1,,2 * * * *': minute field '1,,2': empty list element");
	EXPECT_EQ(error("1, * * * *"), "invalid cron expression '1, * * * *': minute field '1,': empty list element");
	EXPECT_EQ(error("1- * * * *"), "invalid cron expression '1- * * * *': minute field '1-': missing value");
	EXPECT_EQ(error("-1 * * * *"), "invalid cron expression '-1 * * * *': minute field '-1': missing value");
	EXPECT_EQ(error("99999999999 * * * *"), "invalid cron expression '99999999999 * * * *': minute field "
	                                        "'99999999999': value 99999999999 out of range 0-59");
	EXPECT_EQ(error("@reboot"), "invalid cron expression '@reboot': unknown macro '@reboot' (known: @yearly, "
	                            "@annually, @monthly, @weekly, @daily, @midnight, @hourly)");
	EXPECT_EQ(error("@daily 0"), "invalid cron expression '@daily 0': unknown macro '@daily 0' (known: @yearly, "
	                             "@annually, @monthly, @weekly, @daily, @midnight, @hourly)");
}

TEST(CronExpr, KeepsItsText) { EXPECT_EQ(CronExpr::parse("  0 6 20 11 *\n").text(), "0 6 20 11 *"); }
