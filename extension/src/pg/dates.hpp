// PostgreSQL's date as the core's CivilDate, and back: the one conversion every date argument
// and result of the extension goes through (core/civil_date.hpp holds the date arithmetic).
#pragma once
#include "../core/civil_date.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"

#include <string>

#include "boundary.hpp"

extern "C" {
#include "utils/date.h"
#include "utils/datetime.h"
}

namespace outreach::pg {

// A finite date; infinity and -infinity raise 22008 with the caller's message.
inline CivilDate civil_date(DateADT d, const char *not_finite) {
	if (DATE_NOT_FINITE(d))
		throw Error(sqlstate::datetime_field_overflow, not_finite);
	CivilDate c;
	j2date(d + POSTGRES_EPOCH_JDATE, &c.year, &c.month, &c.day);  // arithmetic only: cannot raise
	return c;
}

// A date within PostgreSQL's range (up to 5874897-12-31); else 22008 with the caller's message.
inline DateADT pg_date(const CivilDate &c, const char *out_of_range) {
	// (IS_VALID_JULIAN reaches into 5874898; the date type ends at 5874897-12-31)
	if (!IS_VALID_JULIAN(c.year, c.month, c.day) || c.year > 5874897)
		throw Error(sqlstate::datetime_field_overflow, out_of_range);
	return date2j(c.year, c.month, c.day) - POSTGRES_EPOCH_JDATE;
}

}  // namespace outreach::pg
