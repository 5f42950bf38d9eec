// Time zones: UTC offsets at an instant, and the mapping of a zone's wall-clock time back to
// UTC (which may give no instant, in a spring-forward gap, or two, in an autumn overlap).
//
// All instants are seconds since 1970-01-01T00:00:00Z ("UTC seconds", leap seconds ignored as
// POSIX does). A "local seconds" value is the same count for the zone's wall clock:
// seconds_from_civil(y, m, d, h, min) of the local date and time.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
// after the file's last transition, and as a synthetic zone in tests.
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

// An IANA zone read from the compiled tz database (TZif files, RFC 8536): the 64-bit data of
// version 2+ files and the POSIX TZ footer for instants after the last transition, so Debian's
// "slim" files (which stop listing transitions in 2037 or earlier) are handled. Immutable once
// loaded; any number of zones may be used at once, from any thread.
class SystemZone final : public Zone {
public:
	static constexpr std::string_view default_directory = "/usr/share/zoneinfo";

	// Throws std::invalid_argument("unknown time zone 'X'") for a name that is malformed (empty,
	// absolute, "..", odd characters) or not a TZif file under `directory`. "UTC" is always
	// known, even without tzdata installed.
	static SystemZone load(std::string_view name, std::string_view directory = default_directory);
	// Parses the contents of a TZif file (exposed for tests).
	static SystemZone from_tzif(std::string name, std::string_view bytes);

	const std::string &name() const override { return name_; }
	int utc_offset_seconds(std::int64_t utc) const override;

private:
	SystemZone() = default;

	std::string name_;
	std::vector<std::int64_t> transitions_;  // ascending UTC instants
	std::vector<int> offsets_after_;         // offset from each transition on
	int offset_before_ = 0;                  // before the first transition
	std::optional<PosixRuleZone> footer_;    // rule after the last transition, if the file has one
};

}  // namespace outreachd
