#include "core/schedule.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

using namespace outreachd;
using outreachd::test::iso;
using outreachd::test::london;
using outreachd::test::utc;
using outreachd::test::utc_zone;

namespace {

using Strings = std::vector<std::string>;

// A daemon's loop in miniature: at each wall-clock reading, run whatever is due.
struct Daemon {
	Schedule schedule;
	Strings ran;  // slots run, in order

	void tick(std::int64_t now) {
		if (const auto slot = schedule.due(now)) {
			ran.push_back(iso(*slot));
			schedule.ran(*slot);
		}
	}
	// Readings every `step` seconds from `from` (inclusive) to `to` (exclusive).
	void run(std::int64_t from, std::int64_t to, std::int64_t step = 60) {
		for (std::int64_t t = from; t < to; t += step)
			tick(t);
	}
};

Daemon daemon(const char *expr, std::shared_ptr<const Zone> zone = utc_zone(), std::int64_t catch_up = 3600) {
	return Daemon{Schedule(CronExpr::parse(expr), std::move(zone), catch_up), {}};
}

}  // namespace

TEST(Schedule, RunsEachSlotOnceWhenTheClockBehaves) {
	Daemon d = daemon("0 * * * *");
	d.run(utc(2027, 5, 1, 9, 0, 30), utc(2027, 5, 1, 12, 0, 30), 30);
	// The first reading, 30 s after 09:00, still runs 09:00 (within catch_up).
	EXPECT_EQ(d.ran, (Strings{"2027-05-01T09:00:00Z", "2027-05-01T10:00:00Z", "2027-05-01T11:00:00Z",
	                          "2027-05-01T12:00:00Z"}));
}

TEST(Schedule, StaysDueUntilRanThenNot) {
	Schedule s(CronExpr::parse("30 1 * * *"), utc_zone());
	EXPECT_EQ(s.due(utc(2027, 5, 1, 1, 29)), std::nullopt);
	EXPECT_EQ(s.due(utc(2027, 5, 1, 1, 30)), utc(2027, 5, 1, 1, 30));
	EXPECT_EQ(s.due(utc(2027, 5, 1, 1, 45)), utc(2027, 5, 1, 1, 30));  // e.g. the job failed to start
	s.ran(utc(2027, 5, 1, 1, 30));
	EXPECT_EQ(s.due(utc(2027, 5, 1, 1, 45)), std::nullopt);
	EXPECT_EQ(s.last_run(), utc(2027, 5, 1, 1, 30));
}

TEST(Schedule, ClockJumpingBackAnHourRunsNoSlotTwice) {
	Daemon d = daemon("*/15 * * * *");
	d.run(utc(2027, 5, 1, 9, 0, 5), utc(2027, 5, 1, 10, 20));          // runs 09:00 .. 10:15
	d.run(utc(2027, 5, 1, 9, 20), utc(2027, 5, 1, 10, 50));            // clock set back an hour
	EXPECT_EQ(d.ran, (Strings{"2027-05-01T09:00:00Z", "2027-05-01T09:15:00Z", "2027-05-01T09:30:00Z",
	                          "2027-05-01T09:45:00Z", "2027-05-01T10:00:00Z", "2027-05-01T10:15:00Z",
	                          "2027-05-01T10:30:00Z", "2027-05-01T10:45:00Z"}));
}

TEST(Schedule, ClockJumpingBackADayRunsNoSlotTwice) {
	Daemon d = daemon("30 1 * * *");
	d.run(utc(2027, 5, 1, 0), utc(2027, 5, 2, 12));    // runs 1 and 2 May
	d.run(utc(2027, 5, 1, 12), utc(2027, 5, 3, 12));   // set back a day: 2 May must not run again
	EXPECT_EQ(d.ran, (Strings{"2027-05-01T01:30:00Z", "2027-05-02T01:30:00Z", "2027-05-03T01:30:00Z"}));

	Daemon h = daemon("0 * * * *");
	h.run(utc(2027, 5, 1, 0, 0, 30), utc(2027, 5, 1, 3));
	h.run(utc(2027, 4, 30, 2, 30), utc(2027, 5, 1, 4));  // back a day: nothing until after 02:00 on 1 May
	EXPECT_EQ(h.ran, (Strings{"2027-05-01T00:00:00Z", "2027-05-01T01:00:00Z", "2027-05-01T02:00:00Z",
	                          "2027-05-01T03:00:00Z"}));
}

TEST(Schedule, ClockJumpingForwardThreeDaysRunsOnlyTheLatestMissedSlot) {
	Daemon d = daemon("30 1 * * *");
	d.run(utc(2027, 5, 1, 0), utc(2027, 5, 1, 12));
	d.run(utc(2027, 5, 4, 1, 50), utc(2027, 5, 5, 12));  // 2, 3 May skipped; 4 May is 20 min old
	EXPECT_EQ(d.ran, (Strings{"2027-05-01T01:30:00Z", "2027-05-04T01:30:00Z", "2027-05-05T01:30:00Z"}));

	Daemon late = daemon("30 1 * * *");
	late.run(utc(2027, 5, 1, 0), utc(2027, 5, 1, 12));
	late.run(utc(2027, 5, 4, 2, 31), utc(2027, 5, 5, 12));  // 4 May's slot is 61 min old: too late
	EXPECT_EQ(late.ran, (Strings{"2027-05-01T01:30:00Z", "2027-05-05T01:30:00Z"}));

	Daemon hourly = daemon("0 * * * *");
	hourly.run(utc(2027, 5, 1, 0, 0, 30), utc(2027, 5, 1, 1));
	hourly.run(utc(2027, 5, 4, 7, 10), utc(2027, 5, 4, 8, 10));  // 3 days of slots missed
	EXPECT_EQ(hourly.ran, (Strings{"2027-05-01T00:00:00Z", "2027-05-04T07:00:00Z", "2027-05-04T08:00:00Z"}));
}

TEST(Schedule, StartUpRunsNothingOlderThanCatchUp) {
	// Started at 02:45: today's 01:30 is 75 minutes old.
	Schedule s(CronExpr::parse("30 1 * * *"), utc_zone());
	EXPECT_EQ(s.due(utc(2027, 5, 1, 2, 45)), std::nullopt);
	EXPECT_EQ(s.seconds_until_next(utc(2027, 5, 1, 2, 45)), 22 * 3600 + 45 * 60);
	// Started at 02:15: 45 minutes old, within the hour.
	EXPECT_EQ(s.due(utc(2027, 5, 1, 2, 15)), utc(2027, 5, 1, 1, 30));
	// The boundary is inclusive.
	EXPECT_EQ(s.due(utc(2027, 5, 1, 2, 30)), utc(2027, 5, 1, 1, 30));
	EXPECT_EQ(s.due(utc(2027, 5, 1, 2, 30, 1)), std::nullopt);
	// A longer catch-up lets a daemon that was down overnight run the missed slot.
	Schedule patient(CronExpr::parse("30 1 * * *"), utc_zone(), 12 * 3600);
	EXPECT_EQ(patient.due(utc(2027, 5, 1, 9)), utc(2027, 5, 1, 1, 30));
}

TEST(Schedule, SecondsUntilNext) {
	Schedule s(CronExpr::parse("30 1 * * *"), utc_zone());
	EXPECT_EQ(s.seconds_until_next(utc(2027, 5, 1, 1)), 1800);
	EXPECT_EQ(s.seconds_until_next(utc(2027, 5, 1, 1, 30)), 0);  // due now
	s.ran(utc(2027, 5, 1, 1, 30));
	EXPECT_EQ(s.seconds_until_next(utc(2027, 5, 1, 1, 30)), 86400);
	// After the clock went back past the last run, the next runnable slot is the one after it.
	EXPECT_EQ(s.seconds_until_next(utc(2027, 4, 30, 1, 30)), 2 * 86400);
	Schedule never(CronExpr::parse("0 0 30 2 *"), utc_zone());
	EXPECT_EQ(never.seconds_until_next(utc(2027, 5, 1)), std::numeric_limits<std::int64_t>::max());
	EXPECT_EQ(never.due(utc(2027, 5, 1)), std::nullopt);
}

TEST(Schedule, RanKeepsTheLatestSlot) {
	Schedule s(CronExpr::parse("0 * * * *"), utc_zone());
	s.ran(utc(2027, 5, 1, 10));
	s.ran(utc(2027, 5, 1, 9));
	EXPECT_EQ(s.last_run(), utc(2027, 5, 1, 10));
	EXPECT_EQ(s.due(utc(2027, 5, 1, 10, 30)), std::nullopt);
}

TEST(Schedule, DailyJobsRunOnceOnLondonClockChangeDays2027) {
	// Wall clock read every 30 s across each change day, as the daemon would.
	Daemon spring = daemon("30 1 * * *", london());
	spring.run(utc(2027, 3, 27), utc(2027, 3, 30), 30);
	EXPECT_EQ(spring.ran, (Strings{"2027-03-27T01:30:00Z", "2027-03-28T01:30:00Z", "2027-03-29T00:30:00Z"}));

	Daemon autumn = daemon("30 1 * * *", london());
	autumn.run(utc(2027, 10, 30), utc(2027, 11, 2), 30);
	EXPECT_EQ(autumn.ran, (Strings{"2027-10-30T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"}));

	Daemon early = daemon("30 0 * * *", london());
	early.run(utc(2027, 3, 27, 12), utc(2027, 3, 29, 12), 30);
	early.run(utc(2027, 10, 30, 12), utc(2027, 11, 1, 12), 30);
	EXPECT_EQ(early.ran, (Strings{"2027-03-28T00:30:00Z", "2027-03-28T23:30:00Z", "2027-10-30T23:30:00Z",
	                              "2027-11-01T00:30:00Z"}));

	Daemon late = daemon("30 2 * * *", london());
	late.run(utc(2027, 3, 27, 12), utc(2027, 3, 29, 12), 30);
	late.run(utc(2027, 10, 30, 12), utc(2027, 11, 1, 12), 30);
	EXPECT_EQ(late.ran, (Strings{"2027-03-28T01:30:00Z", "2027-03-29T01:30:00Z", "2027-10-31T02:30:00Z",
	                             "2027-11-01T02:30:00Z"}));
}

TEST(Schedule, RejectsNegativeCatchUpAndNoZone) {
	EXPECT_THROW(Schedule(CronExpr::parse("@daily"), utc_zone(), -1), std::invalid_argument);
	EXPECT_THROW(Schedule(CronExpr::parse("@daily"), nullptr), std::invalid_argument);
}
