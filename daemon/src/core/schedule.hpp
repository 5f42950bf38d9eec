// When a cron job is due, for a scheduler driven by a wall clock that may jump (NTP steps, a
// suspended VM, an administrator's `date -s`) and a daemon that may have been down.
//
// A "slot" is an instant the cron expression names. The rules:
//  - each slot runs at most once, even when the wall clock jumps back past it: the latest slot
//    run is kept, and no slot at or before it runs again;
//  - when slots were missed (the clock jumped forward over several, or the daemon was down),
//    only the latest missed slot runs, and only if it is at most catch_up seconds old;
//  - so the first call after start-up runs nothing older than catch_up either.
//
// Use: wake on a steady-clock timer after min(seconds_until_next(now), 60) seconds (the cap
// notices wall-clock jumps), ask due(now), run the job, call ran(slot).
#pragma once
#include "core/cron.hpp"
#include "core/zone.hpp"

#include <cstdint>
#include <memory>
#include <optional>

namespace outreachd {

class Schedule {
public:
	Schedule(CronExpr expr, std::shared_ptr<const Zone> zone, std::int64_t catch_up_seconds = 3600);

	// The slot to run now, if any: the latest slot s with now - catch_up <= s <= now that is
	// later than the last slot run. Stays due until ran() is called or it is too old.
	std::optional<std::int64_t> due(std::int64_t now_utc) const;
	// Records that `slot` ran (or was deliberately skipped). Also restores state kept elsewhere.
	void ran(std::int64_t slot);
	// Seconds until the next call to due() can return a slot: 0 if one is due now; a very large
	// number if the expression never fires again.
	std::int64_t seconds_until_next(std::int64_t now_utc) const;

	std::optional<std::int64_t> last_run() const { return last_run_; }
	const CronExpr &expr() const { return expr_; }

private:
	CronExpr expr_;
	std::shared_ptr<const Zone> zone_;
	std::int64_t catch_up_;
	std::optional<std::int64_t> last_run_;
};

}  // namespace outreachd
