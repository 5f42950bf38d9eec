// Expected HE Entry Year and academic-year functions: fmgr glue around core/entry_year.
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/entry_year.hpp"
#include "../core/error.hpp"

#include "boundary.hpp"

extern "C" {
#include "utils/date.h"
#include "utils/datetime.h"
}

namespace ey = outreach::entry_year;

namespace {

struct Ymd {
	int y, m, d;
};

Ymd date_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	const DateADT date = PG_GETARG_DATEADT(n);
	if (DATE_NOT_FINITE(date))
		throw outreach::Error(outreach::sqlstate::datetime_field_overflow, std::string(what) + " must be a finite date");
	Ymd out{};
	j2date(date + POSTGRES_EPOCH_JDATE, &out.y, &out.m, &out.d);  // pure arithmetic: cannot raise
	return out;
}

ey::Nation parse_nation_or_throw(std::string_view name) {
	const auto nation = ey::parse_nation(name);
	if (!nation)
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
		                      "unknown nation \"" + std::string(name.substr(0, 40)) + "\"", {},
		                      "Use 'england', 'wales', 'scotland' or 'northern_ireland'.");
	return *nation;
}

// The nation is nearly always a constant (often the default): then it is parsed once per
// query and kept in fn_extra.
ey::Nation nation_arg(FunctionCallInfo fcinfo, int n) {
	if (auto *cached = static_cast<ey::Nation *>(fcinfo->flinfo->fn_extra))
		return *cached;
	const ey::Nation nation = parse_nation_or_throw(outreach::pg::text_arg(fcinfo, n));
	if (get_fn_expr_arg_stable(fcinfo->flinfo, n)) {
		auto *slot = static_cast<ey::Nation *>(outreach::pg::guard(
			[&] { return MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(ey::Nation)); }));
		*slot = nation;
		fcinfo->flinfo->fn_extra = slot;
	}
	return nation;
}

}  // namespace

OUTREACH_FUNCTION(expected_he_entry_year) {
	const Ymd dob = date_arg(fcinfo, 0, "date of birth");
	return Int32GetDatum(ey::expected_he_entry_year(dob.y, dob.m, dob.d, nation_arg(fcinfo, 1)));
}

OUTREACH_FUNCTION(academic_year) {
	const Ymd d = date_arg(fcinfo, 0, "date");
	return Int32GetDatum(ey::academic_year(d.y, d.m, d.d));
}

OUTREACH_FUNCTION(academic_year_label) {
	return outreach::pg::text_result(ey::academic_year_label(PG_GETARG_INT32(0)));
}

OUTREACH_FUNCTION(academic_year_label_of_date) {
	const Ymd d = date_arg(fcinfo, 0, "date");
	return outreach::pg::text_result(ey::academic_year_label(ey::academic_year(d.y, d.m, d.d)));
}
