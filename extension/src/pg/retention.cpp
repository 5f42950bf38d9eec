// Retention decisions: fmgr glue around core/retention.
//
// retention_decide(...) returns the whole decision (for the retention_status view);
// retention_due_on(...) only the due date (for the sweep, which evaluates millions of rows).
// Both take the controller's policy as arguments, so the SQL layer joins the policy table and
// the rule itself lives only in core/retention.cpp.
#include "../core/error.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/retention.hpp"
#include "dates.hpp"

#include <string>
#include <vector>

#include "boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace rt = outreach::retention;
namespace ey = outreach::entry_year;
using outreach::CivilDate;

namespace {

// Argument positions, shared by both functions.
enum Arg {
	has_first_name, has_last_name, has_postcode, date_of_birth, created_on, last_attended_on, withdrawn_on,
	entry_year_override, long_years, short_years, window_years, nation, as_of, arg_count
};

CivilDate civil(DateADT d) { return outreach::pg::civil_date(d, "retention dates must be finite"); }

std::optional<CivilDate> optional_date(FunctionCallInfo fcinfo, int n) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	return civil(PG_GETARG_DATEADT(n));
}

bool required_bool(FunctionCallInfo fcinfo, int n) { return !PG_ARGISNULL(n) && PG_GETARG_BOOL(n); }

int required_int(FunctionCallInfo fcinfo, int n, const char *name) {
	if (PG_ARGISNULL(n))
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, std::string(name) + " must not be null");
	return PG_GETARG_INT32(n);
}

// Not STRICT in SQL: missing facts are NULLs. Policy values and dates that must be there are checked.
rt::Decision decide(FunctionCallInfo fcinfo) {
	rt::Facts f;
	f.has_first_name = required_bool(fcinfo, has_first_name);
	f.has_last_name = required_bool(fcinfo, has_last_name);
	f.has_postcode = required_bool(fcinfo, has_postcode);
	f.date_of_birth = optional_date(fcinfo, date_of_birth);
	if (PG_ARGISNULL(created_on) || PG_ARGISNULL(as_of))
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "created_on and as_of must not be null");
	f.created_on = civil(PG_GETARG_DATEADT(created_on));
	f.last_attended_on = optional_date(fcinfo, last_attended_on);
	f.withdrawn_on = optional_date(fcinfo, withdrawn_on);
	if (!PG_ARGISNULL(entry_year_override)) {
		f.entry_year_override = PG_GETARG_INT32(entry_year_override);
		// (the table allows 1950-2100; callers passing their own must not overflow the arithmetic)
		if (*f.entry_year_override < 1000 || *f.entry_year_override > 9999)
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
			                      "entry_year_override must be between 1000 and 9999, not " +
			                          std::to_string(*f.entry_year_override));
	}
	rt::Policy p;
	p.long_years = required_int(fcinfo, long_years, "long_track_years");
	p.short_years = required_int(fcinfo, short_years, "short_track_years");
	p.attendance_window_years = required_int(fcinfo, window_years, "attendance_window_years");
	if (!PG_ARGISNULL(nation)) {
		const auto n = ey::parse_nation(outreach::pg::text_arg(fcinfo, nation));
		if (!n)
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "unknown nation in retention policy");
		p.nation = *n;
	}
	rt::validate(p);  // policy arguments come from any caller: 22023 outside the policy's ranges
	return rt::decide(f, p, civil(PG_GETARG_DATEADT(as_of)));
}

// A due date beyond PostgreSQL's date range (facts near year 5874897) is an error, never a
// wrapped-around value.
DateADT pg_date(const CivilDate &c) { return outreach::pg::pg_date(c, "retention due date out of range"); }

}  // namespace

OUTREACH_FUNCTION(retention_due_on) { return DateADTGetDatum(pg_date(decide(fcinfo).due_on)); }

// retention_decide(...) RETURNS outreach.retention_decision
//   (track text, expected_he_entry_year int, entry_year_overridden bool, due_on date, reasons text[])
OUTREACH_FUNCTION(retention_decide) {
	const rt::Decision d = decide(fcinfo);
	const std::vector<std::string> reasons = rt::reason_codes(d.reasons);
	const char *track = rt::track_code(d.track);
	const DateADT due_on = pg_date(d.due_on);  // (may throw: not inside guard's PG_TRY)
	return outreach::pg::guard([&] {
		TupleDesc desc;
		if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "retention_decide must return a composite type");
		desc = BlessTupleDesc(desc);
		Datum *items = static_cast<Datum *>(palloc(sizeof(Datum) * (reasons.size() + 1)));
		for (std::size_t i = 0; i < reasons.size(); ++i)
			items[i] = PointerGetDatum(cstring_to_text(reasons[i].c_str()));
		Datum values[5];
		bool nulls[5] = {false, !d.expected_he_entry_year.has_value(), false, false, false};
		values[0] = PointerGetDatum(cstring_to_text(track));
		values[1] = Int32GetDatum(d.expected_he_entry_year.value_or(0));
		values[2] = BoolGetDatum(d.entry_year_overridden);
		values[3] = DateADTGetDatum(due_on);
		values[4] = PointerGetDatum(construct_array(items, static_cast<int>(reasons.size()), TEXTOID, -1, false, TYPALIGN_INT));
		return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	});
}
