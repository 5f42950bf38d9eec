// Proleptic Gregorian dates as day numbers (days since 1970-01-01), for the zone rules and the
// cron search. Header-only.
#pragma once
#include <cstdint>

#include <date/date.h>

namespace outreachd {

struct CivilDay {
	int year = 1970, month = 1, day = 1;
	friend bool operator==(const CivilDay &, const CivilDay &) = default;
};

// Floor division and modulo (the result of floor_mod has the sign of b).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

// The calendar itself is Howard Hinnant's date library (the zones' library too): these only
// convert between its types and the day numbers the zone rules and the cron search count in.
constexpr std::int64_t days_from_civil(int year, int month, int day) {
	return date::sys_days{date::year{year} / static_cast<unsigned>(month) / static_cast<unsigned>(day)}
	    .time_since_epoch()
	    .count();
}

constexpr CivilDay civil_from_days(std::int64_t days) {
	const date::year_month_day ymd{date::sys_days{date::days{static_cast<date::days::rep>(days)}}};
	return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
	        static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

constexpr bool is_leap_year(int y) { return date::year{y}.is_leap(); }

constexpr int days_in_month(int y, int m) {
	return static_cast<int>(static_cast<unsigned>((date::year{y} / static_cast<unsigned>(m) / date::last).day()));
}

// 0 = Sunday ... 6 = Saturday.
constexpr int weekday_from_days(std::int64_t days) {
	return static_cast<int>(date::weekday{date::sys_days{date::days{static_cast<date::days::rep>(days)}}}.c_encoding());
}

inline constexpr std::int64_t seconds_per_day = 86400;

// Seconds since 1970-01-01T00:00 of a civil date and time (UTC, or "local seconds" when the
// fields are a zone's wall clock).
constexpr std::int64_t seconds_from_civil(int year, int month, int day, int hour = 0, int minute = 0,
                                          int second = 0) {
	return days_from_civil(year, month, day) * seconds_per_day + hour * 3600 + minute * 60 + second;
}

}  // namespace outreachd
