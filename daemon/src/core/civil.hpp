// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), shared by the
// zone rules and the cron search. Header-only: a handful of constexpr functions.
#pragma once
#include <cstdint>

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

// Howard Hinnant's days_from_civil / civil_from_days.
constexpr std::int64_t days_from_civil(int year, int month, int day) {
	const std::int64_t y = year - (month <= 2);
	const std::int64_t era = floor_div(y, 400);
	const std::int64_t yoe = y - era * 400;
	const std::int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

constexpr CivilDay civil_from_days(std::int64_t days) {
	const std::int64_t z = days + 719468;
	const std::int64_t era = floor_div(z, 146097);
	const std::int64_t doe = z - era * 146097;
	const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const std::int64_t mp = (5 * doy + 2) / 153;
	const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
	const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
	return {static_cast<int>(yoe + era * 400 + (m <= 2)), m, d};
}

constexpr bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr int days_in_month(int y, int m) {
	constexpr int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap_year(y) ? 29 : lengths[m - 1];
}

// 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday).
constexpr int weekday_from_days(std::int64_t days) { return static_cast<int>(floor_mod(days + 4, 7)); }

inline constexpr std::int64_t seconds_per_day = 86400;

// Seconds since 1970-01-01T00:00 of a civil date and time (UTC, or "local seconds" when the
// fields are a zone's wall clock).
constexpr std::int64_t seconds_from_civil(int year, int month, int day, int hour = 0, int minute = 0,
                                          int second = 0) {
	return days_from_civil(year, month, day) * seconds_per_day + hour * 3600 + minute * 60 + second;
}

}  // namespace outreachd
