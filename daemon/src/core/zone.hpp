// Time zones: UTC offsets at an instant, and the mapping of a zone's wall-clock time back to
// UTC (which may give no instant, in a spring-forward gap, or two, in an autumn overlap).
//
// All instants are seconds since 1970-01-01T00:00:00Z ("UTC seconds", leap seconds ignored as
// POSIX does). A "local seconds" value is the same count for the zone's wall clock:
// seconds_from_civil(y, m, d, h, min) of the local date and time.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace outreachd {

// The UTC instants at which a zone's wall clock shows a given local time.
struct LocalMapping {
	enum class Kind {
		unique,    // occurs once: first == second
		repeated,  // occurs twice (clocks went back): first < second
		skipped,   // never occurs (clocks went forward): first == second == the local time read
		           // with the offset in force before the gap, i.e. the wall-clock time shifted
		           // forward by the gap (01:30 on London's spring-forward day -> 02:30 BST)
	};
	Kind kind = Kind::unique;
	std::int64_t first = 0;
	std::int64_t second = 0;
};

class Zone {
public:
	virtual ~Zone() = default;
	virtual const std::string &name() const = 0;
	// Seconds east of UTC in force at the instant `utc` (3600 for BST).
	virtual int utc_offset_seconds(std::int64_t utc) const = 0;

	std::int64_t to_local(std::int64_t utc) const { return utc + utc_offset_seconds(utc); }
	// Assumes at most one offset change within a day of `local`, true of every real zone in
	// the years a daemon schedules for.
	LocalMapping from_local(std::int64_t local) const;
};

// A constant offset, e.g. UTC.
class FixedOffsetZone final : public Zone {
public:
	FixedOffsetZone(std::string name, int offset_seconds) : name_(std::move(name)), offset_(offset_seconds) {}
	const std::string &name() const override { return name_; }
	int utc_offset_seconds(std::int64_t) const override { return offset_; }

private:
	std::string name_;
	int offset_;
};

// A POSIX TZ rule string ("GMT0BST,M3.5.0/1,M10.5.0", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
// "EST5EDT" with the default US rules), with the RFC 8536 extensions (hours up to 167 and
// negative transition times). Used for the footer of TZif files, which governs every instant
// after the file's last transition (see SystemZone), and as a synthetic zone in tests.
class PosixRuleZone final : public Zone {
public:
	// Throws std::invalid_argument naming the problem.
	explicit PosixRuleZone(std::string_view rule);
	const std::string &name() const override { return rule_; }
	int utc_offset_seconds(std::int64_t utc) const override;

private:
	struct Date {
		char kind = 'M';  // 'J' (1..365, never Feb 29), 'D' (0..365, zero-based), 'M' (month.week.day)
		int n = 0, month = 0, week = 0, weekday = 0;
		int time = 7200;  // local seconds after midnight, in the offset in force before the change
	};
	std::int64_t transition_utc(int year, const Date &d, int offset_before) const;

	std::string rule_;
	int std_offset_ = 0, dst_offset_ = 0;  // seconds east of UTC
	bool has_dst_ = false;
	Date start_, end_;
};

// An IANA zone from the system's tz database (/usr/share/zoneinfo), through Howard Hinnant's
// date library (Debian's libdate-tz, built with USE_OS_TZDB). date 3.0.1 reads the
// transitions a TZif file lists but not its POSIX TZ footer, which governs every instant after
// the last of them (Debian's files list transitions up to 2037; HowardHinnant/date#794), and
// its own POSIX parser (ptz.h) neither compiles as C++20 nor takes RFC 8536's negative rule
// times (America/Nuuk): the footer is read here and applied by PosixRuleZone.
// date lists the zones and reads each file once per process, so a tzdata upgrade takes effect
// when the daemon restarts. Immutable once loaded; any number of zones may be used at once,
// from any thread.
class SystemZone final : public Zone {
public:
	// Throws std::invalid_argument("unknown time zone 'X'") for a name the tz database does not
	// list (malformed, absolute, "..", a directory, a table). "UTC" is always known, even
	// without tzdata installed.
	static SystemZone load(std::string_view name);

	const std::string &name() const override { return name_; }
	int utc_offset_seconds(std::int64_t utc) const override;

private:
	SystemZone() = default;

	std::string name_;
	const date::time_zone *zone_ = nullptr;             // null: UTC without a tz database
	std::shared_ptr<const PosixRuleZone> footer_;       // after the last listed transition, if any
};

}  // namespace outreachd
