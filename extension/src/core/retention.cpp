#include "retention.hpp"

#include "error.hpp"

#include <algorithm>

namespace outreach::retention {
namespace {

void check_range(const char *name, int value, int lo, int hi) {
	if (value < lo || value > hi)
		throw Error(sqlstate::invalid_parameter_value,
		            std::string("retention policy ") + name + " must be between " + std::to_string(lo) + " and " +
		                std::to_string(hi) + ", not " + std::to_string(value));
}

}  // namespace

const char *track_code(Track t) {
	switch (t) {
	case Track::long_track:
		return "15y";
	case Track::short_track:
		return "7y";
	case Track::withdrawn:
		return "withdrawn";
	}
	return "7y";
}

void validate(const Policy &p) {
	check_range("long_track_years", p.long_years, 1, 50);
	check_range("short_track_years", p.short_years, 0, 50);
	check_range("attendance_window_years", p.attendance_window_years, 1, 50);
	check_range("cycle_month", p.cycle_month, 1, 12);
	check_range("cycle_day", p.cycle_day, 1, days_in_month(2001, p.cycle_month));
}

std::vector<std::string> reason_codes(unsigned r) {
	static const std::pair<Reason, const char *> names[] = {
		{withdrawn, "withdrawn"},
		{missing_first_name, "missing_first_name"},
		{missing_last_name, "missing_last_name"},
		{missing_postcode, "missing_postcode"},
		{missing_date_of_birth, "missing_date_of_birth"},
		{never_attended, "never_attended"},
		{no_recent_attendance, "no_recent_attendance"},
		{entry_year_overridden, "entry_year_overridden"},
	};
	std::vector<std::string> out;
	for (const auto &[bit, name] : names)
		if (r & bit)
			out.emplace_back(name);
	return out;
}

Decision decide(const Facts &f, const Policy &p, const CivilDate &as_of) {
	Decision d;
	if (f.entry_year_override) {
		d.expected_he_entry_year = f.entry_year_override;
		d.entry_year_overridden = true;
		d.reasons |= entry_year_overridden;
	} else if (f.date_of_birth) {
		d.expected_he_entry_year = entry_year::expected_he_entry_year(f.date_of_birth->year, f.date_of_birth->month,
		                                                              f.date_of_birth->day, p.nation);
	}
	if (f.withdrawn_on) {
		d.track = Track::withdrawn;
		d.due_on = *f.withdrawn_on;
		d.reasons |= withdrawn;
		return d;
	}
	if (!f.has_first_name)
		d.reasons |= missing_first_name;
	if (!f.has_last_name)
		d.reasons |= missing_last_name;
	if (!f.has_postcode)
		d.reasons |= missing_postcode;
	if (!f.date_of_birth)
		d.reasons |= missing_date_of_birth;
	if (!f.last_attended_on)
		d.reasons |= never_attended;

	const CivilDate short_from =
		f.last_attended_on && *f.last_attended_on > f.created_on ? *f.last_attended_on : f.created_on;
	const CivilDate short_due = add_years(short_from, p.short_years);
	const bool complete = f.has_first_name && f.has_last_name && f.has_postcode && f.date_of_birth;
	std::optional<CivilDate> window_end;  // last day the attendance counts as recent
	if (f.last_attended_on)
		window_end = add_years(*f.last_attended_on, p.attendance_window_years);
	if (window_end && as_of > *window_end)
		d.reasons |= no_recent_attendance;

	if (complete && window_end && d.expected_he_entry_year) {
		// On the long track until the attendance window closes, on the short track after.
		const CivilDate long_due{*d.expected_he_entry_year + p.long_years, p.cycle_month, p.cycle_day};
		d.track = as_of <= *window_end ? Track::long_track : Track::short_track;
		// Due on the long-track date if it comes while the record is still on that track (and
		// due from then on: a record does not stop being due when its window closes later);
		// otherwise due on the short track, but not before it has left the long one.
		d.due_on = long_due <= *window_end ? long_due : std::max(short_due, add_days(*window_end, 1));
	} else {
		d.track = Track::short_track;
		d.due_on = short_due;
	}
	return d;
}

}  // namespace outreach::retention
