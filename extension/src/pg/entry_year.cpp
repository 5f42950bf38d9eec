// Expected HE Entry Year and academic-year functions: fmgr glue around core/entry_year.
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/entry_year.hpp"
#include "../core/error.hpp"
#include "dates.hpp"

#include "boundary.hpp"

namespace ey = outreach::entry_year;

namespace {

using outreach::CivilDate;
using outreach::pg::civil_date;

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
	const CivilDate dob = civil_date(PG_GETARG_DATEADT(0), "date of birth must be a finite date");
	return Int32GetDatum(ey::expected_he_entry_year(dob.year, dob.month, dob.day, nation_arg(fcinfo, 1)));
}

OUTREACH_FUNCTION(academic_year) {
	const CivilDate d = civil_date(PG_GETARG_DATEADT(0), "date must be a finite date");
	return Int32GetDatum(ey::academic_year(d.year, d.month, d.day));
}

OUTREACH_FUNCTION(academic_year_label) {
	return outreach::pg::text_result(ey::academic_year_label(PG_GETARG_INT32(0)));
}

OUTREACH_FUNCTION(academic_year_label_of_date) {
	const CivilDate d = civil_date(PG_GETARG_DATEADT(0), "date must be a finite date");
	return outreach::pg::text_result(ey::academic_year_label(ey::academic_year(d.year, d.month, d.day)));
}
