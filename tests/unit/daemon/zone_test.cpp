#include "core/zone.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>

using namespace outreachd;
using outreachd::test::iso;
using outreachd::test::message_of;
using outreachd::test::utc;

namespace {

// glibc's answer, for cross-checking. Changes the process's TZ: only for these tests.
int glibc_offset(const std::string &zone, std::int64_t t) {
	setenv("TZ", zone.c_str(), 1);
	tzset();
	const std::time_t tt = static_cast<std::time_t>(t);
	std::tm tm{};
	localtime_r(&tt, &tm);
	return static_cast<int>(tm.tm_gmtoff);
}

}  // namespace

// ---- Europe/London as the daemon will see it --------------------------------------------------

TEST(SystemZone, LondonOffsetsAroundEveryChange2026To2030) {
	const SystemZone z = SystemZone::load("Europe/London");
	EXPECT_EQ(z.name(), "Europe/London");
	// Clocks change at 01:00 UTC on the last Sunday of March and of October.
	const int march[] = {29, 28, 26, 25, 31}, october[] = {25, 31, 29, 28, 27};
	for (int i = 0; i < 5; ++i) {
		const int y = 2026 + i;
		SCOPED_TRACE(y);
		EXPECT_EQ(z.utc_offset_seconds(utc(y, 1, 15, 12)), 0);
		EXPECT_EQ(z.utc_offset_seconds(utc(y, 3, march[i], 0, 59, 59)), 0);
		EXPECT_EQ(z.utc_offset_seconds(utc(y, 3, march[i], 1)), 3600);
		EXPECT_EQ(z.utc_offset_seconds(utc(y, 7, 1)), 3600);
		EXPECT_EQ(z.utc_offset_seconds(utc(y, 10, october[i], 0, 59, 59)), 3600);
		EXPECT_EQ(z.utc_offset_seconds(utc(y, 10, october[i], 1)), 0);
		EXPECT_EQ(z.utc_offset_seconds(utc(y, 11, 20, 6)), 0);  // the export's day is in GMT
	}
}

TEST(SystemZone, AgreesWithGlibcHourByHourIncludingBeyondTheLastListedTransition) {
	// 2026-2045: Debian's files list transitions up to 2037 at most; later years come from the
	// POSIX footer rule, which must agree too.
	for (const char *name : {"Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
	                         "America/Sao_Paulo", "Pacific/Chatham", "America/St_Johns", "Africa/Casablanca",
	                         "Europe/Dublin", "Pacific/Apia"}) {
		SCOPED_TRACE(name);
		const SystemZone z = SystemZone::load(name);
		int mismatches = 0;
		for (std::int64_t t = utc(2026, 1, 1); t < utc(2046, 1, 1) && mismatches < 3; t += 3600 - 7) {
			const int expected = glibc_offset(name, t);
			if (z.utc_offset_seconds(t) != expected) {
				++mismatches;
				ADD_FAILURE() << iso(t) << ": got " << z.utc_offset_seconds(t) << ", glibc says " << expected;
			}
		}
	}
}

TEST(SystemZone, UtcIsAlwaysKnown) {
	EXPECT_EQ(SystemZone::load("UTC").utc_offset_seconds(utc(2027, 7, 1)), 0);
	EXPECT_EQ(SystemZone::load("Etc/UTC").utc_offset_seconds(utc(2027, 7, 1)), 0);
	// Even where tzdata is missing: tests/daemon/config_and_startup.sh hides /usr/share/zoneinfo.
}

TEST(SystemZone, UnknownOrMalformedNamesAreRejected) {
	for (const char *name : {"Europe/Lodnon", "", "Europe", "Europe/", "/etc/localtime", "../../etc/passwd",
	                         "Europe/../Europe/London", "Europe//London", "Europe/London ", "zone.tab"}) {
		EXPECT_EQ(message_of<std::invalid_argument>([&] { SystemZone::load(name); }),
		          std::string("unknown time zone '") + name + "'");
	}
}

TEST(SystemZone, LeapSecondZonesAreRefused) {
	if (!std::filesystem::exists("/usr/share/zoneinfo/right/UTC"))
		GTEST_SKIP() << "no right/ zones installed";
	EXPECT_NE(message_of<std::invalid_argument>([] { SystemZone::load("right/UTC"); }).find("leap seconds"),
	          std::string::npos);
}

TEST(SystemZone, AfterTheLastListedTransitionTheFileFooterRules) {
	// Debian's Europe/London lists transitions up to 2037; its footer, GMT0BST,M3.5.0/1,M10.5.0,
	// gives the rest.
	const SystemZone z = SystemZone::load("Europe/London");
	EXPECT_EQ(z.utc_offset_seconds(utc(2090, 3, 26, 0, 59)), 0);  // last Sunday of March 2090
	EXPECT_EQ(z.utc_offset_seconds(utc(2090, 3, 26, 1)), 3600);
	EXPECT_EQ(z.utc_offset_seconds(utc(2090, 10, 29, 0, 59)), 3600);  // last Sunday of October 2090
	EXPECT_EQ(z.utc_offset_seconds(utc(2090, 10, 29, 1)), 0);
}

// ---- POSIX rules ------------------------------------------------------------------------------

TEST(PosixRuleZone, SouthernHemisphereDaylightTimeSpansNewYear) {
	const PosixRuleZone sydney("AEST-10AEDT,M10.1.0,M4.1.0/3");
	EXPECT_EQ(sydney.utc_offset_seconds(utc(2027, 1, 1)), 11 * 3600);
	// 2027-04-04 03:00 AEDT = 2027-04-03 16:00 UTC: back to standard time.
	EXPECT_EQ(sydney.utc_offset_seconds(utc(2027, 4, 3, 15, 59, 59)), 11 * 3600);
	EXPECT_EQ(sydney.utc_offset_seconds(utc(2027, 4, 3, 16)), 10 * 3600);
	// 2027-10-03 02:00 AEST = 2027-10-02 16:00 UTC: daylight time again.
	EXPECT_EQ(sydney.utc_offset_seconds(utc(2027, 10, 2, 15, 59, 59)), 10 * 3600);
	EXPECT_EQ(sydney.utc_offset_seconds(utc(2027, 10, 2, 16)), 11 * 3600);
	EXPECT_EQ(sydney.utc_offset_seconds(utc(2027, 12, 31, 23)), 11 * 3600);
}

TEST(PosixRuleZone, OtherForms) {
	EXPECT_EQ(PosixRuleZone("<+0545>-5:45").utc_offset_seconds(utc(2027, 6, 1)), 5 * 3600 + 45 * 60);
	EXPECT_EQ(PosixRuleZone("<-03>3").utc_offset_seconds(utc(2027, 6, 1)), -3 * 3600);
	// Default DST offset (+1 h) and the US default rules when none are given.
	const PosixRuleZone ny("EST5EDT");
	EXPECT_EQ(ny.utc_offset_seconds(utc(2027, 3, 14, 6, 59)), -5 * 3600);  // 2nd Sunday of March, 02:00 EST
	EXPECT_EQ(ny.utc_offset_seconds(utc(2027, 3, 14, 7)), -4 * 3600);
	// Julian days (J60 is always 1 March) and a negative transition time (RFC 8536).
	const PosixRuleZone j("AAA0BBB,J60/-1,J300");
	EXPECT_EQ(j.utc_offset_seconds(utc(2028, 2, 29, 22, 59)), 0);
	EXPECT_EQ(j.utc_offset_seconds(utc(2028, 2, 29, 23)), 3600);
	// Zero-based day numbers count 29 February.
	const PosixRuleZone d("AAA0BBB,59,300");  // day 59 = 29 Feb in a leap year
	EXPECT_EQ(d.utc_offset_seconds(utc(2028, 2, 29, 1, 59)), 0);
	EXPECT_EQ(d.utc_offset_seconds(utc(2028, 2, 29, 2)), 3600);
}

TEST(PosixRuleZone, MalformedRulesAreRejected) {
	EXPECT_EQ(message_of<std::invalid_argument>([] { PosixRuleZone("GM0"); }),
	          "invalid POSIX TZ rule 'GM0': expected a zone abbreviation of at least 3 letters at position 0");
	EXPECT_EQ(message_of<std::invalid_argument>([] { PosixRuleZone("GMT"); }),
	          "invalid POSIX TZ rule 'GMT': expected a number at position 3");
	EXPECT_EQ(message_of<std::invalid_argument>([] { PosixRuleZone("GMT0BST,M3.5.0"); }),
	          "invalid POSIX TZ rule 'GMT0BST,M3.5.0': expected ',' at position 14");
	EXPECT_EQ(message_of<std::invalid_argument>([] { PosixRuleZone("GMT0BST,M13.5.0,M10.5.0"); }),
	          "invalid POSIX TZ rule 'GMT0BST,M13.5.0,M10.5.0': number out of range at position 9");
}

// ---- Wall clock to UTC ------------------------------------------------------------------------

TEST(ZoneFromLocal, UniqueRepeatedAndSkippedTimesInLondon2027) {
	const SystemZone z = SystemZone::load("Europe/London");
	const auto m = z.from_local(utc(2027, 7, 1, 9));  // 09:00 BST
	EXPECT_EQ(m.kind, LocalMapping::Kind::unique);
	EXPECT_EQ(m.first, utc(2027, 7, 1, 8));

	const auto autumn = z.from_local(utc(2027, 10, 31, 1, 30));  // 01:30 happens twice
	EXPECT_EQ(autumn.kind, LocalMapping::Kind::repeated);
	EXPECT_EQ(autumn.first, utc(2027, 10, 31, 0, 30));  // 01:30 BST
	EXPECT_EQ(autumn.second, utc(2027, 10, 31, 1, 30));  // 01:30 GMT

	const auto spring = z.from_local(utc(2027, 3, 28, 1, 30));  // 01:30 never happens
	EXPECT_EQ(spring.kind, LocalMapping::Kind::skipped);
	EXPECT_EQ(spring.first, utc(2027, 3, 28, 1, 30));  // = 02:30 BST
	EXPECT_EQ(z.to_local(spring.first), utc(2027, 3, 28, 2, 30));

	// The edges: 01:00 local is skipped, 02:00 local exists; 01:00 local in October repeats,
	// 02:00 local does not.
	EXPECT_EQ(z.from_local(utc(2027, 3, 28, 1)).kind, LocalMapping::Kind::skipped);
	EXPECT_EQ(z.from_local(utc(2027, 3, 28, 2)).kind, LocalMapping::Kind::unique);
	EXPECT_EQ(z.from_local(utc(2027, 10, 31, 1)).kind, LocalMapping::Kind::repeated);
	EXPECT_EQ(z.from_local(utc(2027, 10, 31, 2)).kind, LocalMapping::Kind::unique);
}
