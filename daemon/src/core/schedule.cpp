#include "core/schedule.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace outreachd {

Schedule::Schedule(CronExpr expr, std::shared_ptr<const Zone> zone, std::int64_t catch_up_seconds)
    : expr_(std::move(expr)), zone_(std::move(zone)), catch_up_(catch_up_seconds) {
	if (!zone_)
		throw std::invalid_argument("Schedule: no time zone");
	if (catch_up_ < 0)
		throw std::invalid_argument("Schedule: catch_up_seconds must not be negative");
}

std::optional<std::int64_t> Schedule::due(std::int64_t now) const {
	// Find the latest slot in [now - catch_up, now] by bisection on next_after, which is
	// monotone: lo always has a slot in (lo, now], hi never does.
	std::int64_t lo = now - catch_up_ - 1, hi = now;
	const auto first = expr_.next_after(lo, *zone_);
	if (!first || *first > now)
		return std::nullopt;
	while (hi - lo > 1) {
		const std::int64_t mid = lo + (hi - lo) / 2;
		const auto s = expr_.next_after(mid, *zone_);
		(s && *s <= now ? lo : hi) = mid;
	}
	const std::int64_t slot = *expr_.next_after(lo, *zone_);
	if (last_run_ && slot <= *last_run_)
		return std::nullopt;
	return slot;
}

void Schedule::ran(std::int64_t slot) { last_run_ = std::max(slot, last_run_.value_or(slot)); }

std::int64_t Schedule::seconds_until_next(std::int64_t now) const {
	if (due(now))
		return 0;
	const auto next = expr_.next_after(std::max(now, last_run_.value_or(now)), *zone_);
	if (!next)
		return std::numeric_limits<std::int64_t>::max();
	return *next - now;
}

}  // namespace outreachd
