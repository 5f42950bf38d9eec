// Cron expressions as Vixie cron (and cronie, Debian's cron) read them, evaluated in a time zone.
//
// Syntax: five fields "minute hour day-of-month month day-of-week", separated by blanks, or one
// of @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly. A field is a comma
// list of items; an item is "*", a value, or a range "a-b", each optionally followed by a step
// "/n" ("*/5", "1-10/2"; a step needs "*" or a range). Months may be named JAN..DEC and days of
// the week SUN..SAT (any case); 0 and 7 both mean Sunday.
//
// Day matching (Vixie): if both day-of-month and day-of-week are restricted (neither field
// starts with "*"), a day matches when EITHER matches ("0 0 13 * 5": every 13th and every
// Friday); otherwise both must match.
//
// Time zone: fields are matched against the zone's wall clock. At daylight-saving changes:
//  - a wall-clock time that occurs twice (autumn, clocks go back) runs once, at its first
//    occurrence (01:30 on London's autumn day runs at 01:30 BST = 00:30 UTC);
//  - a wall-clock time that is skipped (spring, clocks go forward) runs once, at the same
//    wall-clock time shifted forward by the gap (01:30 on London's spring day runs at
//    02:30 BST = 01:30 UTC). Should that instant also be a scheduled time, it runs once.
#pragma once
#include "core/zone.hpp"

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outreachd {

class CronExpr {
public:
	// Throws std::invalid_argument: "invalid cron expression '<text>': <field> field: <problem>".
	static CronExpr parse(std::string_view text);

	// The first scheduled instant strictly after `utc_seconds`, or nullopt when nothing matches
	// within 5 years (e.g. "0 0 30 2 *"). Walks days, not minutes: cheap for any schedule.
	std::optional<std::int64_t> next_after(std::int64_t utc_seconds, const Zone &zone) const;

	// Whether a local date (days since 1970-01-01) is a scheduled day.
	bool matches_day(std::int64_t local_days) const;

	const std::string &text() const { return text_; }

private:
	CronExpr() = default;

	std::string text_;
	std::bitset<60> minutes_;
	std::bitset<24> hours_;
	std::bitset<32> days_of_month_;  // bits 1..31
	std::bitset<13> months_;         // bits 1..12
	std::bitset<7> days_of_week_;    // 0 = Sunday
	bool dom_restricted_ = false, dow_restricted_ = false;
};

}  // namespace outreachd
