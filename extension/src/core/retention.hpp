// The retention rules, in one pure function from a participant's facts and the controller's
// policy to the track, the Expected HE Entry Year used, the date the record falls due and why.
//
//   long track ("15y"): attended an activity within the last `attendance_window_years` (as of
//       the evaluation date), first name, last name, postcode and date of birth all present,
//       not withdrawn. Due on the cycle date (1 September) of entry year + long_years, the
//       entry year being the adult override when set.
//   short track ("7y"): everything else. Due short_years after the later of the record's
//       creation and its last attendance.
//   withdrawn: due at once (the day of withdrawal).
//
// A long-track record leaves that track the day after its attendance window closes; from then
// on it is short-track. due_on is a property of the facts, not of the evaluation date: it is
// the long-track date when that comes while the record is still on the long track (and the
// record stays due after its window closes), otherwise the short-track date but not before the
// day the record left the long track. A record is due at a date D exactly when due_on <= D, so
// once due it stays due.
#pragma once
#include "civil_date.hpp"
#include "entry_year.hpp"

#include <optional>
#include <string>
#include <vector>

namespace outreach::retention {

enum class Track { long_track, short_track, withdrawn };
const char *track_code(Track t);  // "15y", "7y", "withdrawn" (the public codes, whatever the years)

struct Policy {
	int long_years = 15;
	int short_years = 7;
	int attendance_window_years = 15;
	int cycle_month = 9;  // records on the long track fall due on this day of the year
	int cycle_day = 1;
	entry_year::Nation nation = entry_year::Nation::england;
};

// Throws outreach::Error (22023) naming the field when a number is out of its sane range.
void validate(const Policy &p);

struct Facts {
	bool has_first_name = false;
	bool has_last_name = false;
	bool has_postcode = false;
	std::optional<CivilDate> date_of_birth;
	CivilDate created_on;
	std::optional<CivilDate> last_attended_on;
	std::optional<CivilDate> withdrawn_on;
	std::optional<int> entry_year_override;
};

enum Reason : unsigned {
	withdrawn = 1u << 0,
	missing_first_name = 1u << 1,
	missing_last_name = 1u << 2,
	missing_postcode = 1u << 3,
	missing_date_of_birth = 1u << 4,
	never_attended = 1u << 5,
	no_recent_attendance = 1u << 6,   // last attendance outside the window
	entry_year_overridden = 1u << 7,
};
std::vector<std::string> reason_codes(unsigned reasons);

struct Decision {
	Track track = Track::short_track;
	std::optional<int> expected_he_entry_year;  // from the override or the date of birth
	bool entry_year_overridden = false;
	CivilDate due_on;
	unsigned reasons = 0;
};

Decision decide(const Facts &facts, const Policy &policy, const CivilDate &as_of);

inline bool is_due(const Decision &d, const CivilDate &as_of) { return d.due_on <= as_of; }

}  // namespace outreach::retention

#include "cpp_only.hpp"
