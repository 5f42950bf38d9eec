// UPN and ULN checks: fmgr glue around core/school_ids.
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/error.hpp"
#include "../core/limits.hpp"
#include "../core/school_ids.hpp"

#include "boundary.hpp"

namespace ids = outreach::school_ids;
namespace lim = outreach::limits;

namespace {

// The argument, refused (22001) past limits::max_school_id_bytes.
std::string_view id_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	const std::string_view s = outreach::pg::text_arg(fcinfo, n);
	lim::check_bytes(s, lim::max_school_id_bytes, what);
	return s;
}

// Predicates answer false past the limit (no UPN or ULN is that long).
std::string_view id_or_empty(FunctionCallInfo fcinfo, int n) {
	const std::string_view s = outreach::pg::text_arg(fcinfo, n);
	return lim::within(s, lim::max_school_id_bytes) ? s : std::string_view();
}

// Shown in messages: at most 40 bytes of what was given (a bad value may be anything).
std::string shown(std::string_view s) { return std::string(s.substr(0, 40)); }

}  // namespace

OUTREACH_FUNCTION(is_valid_upn) { return BoolGetDatum(ids::is_valid_upn(id_or_empty(fcinfo, 0))); }

OUTREACH_FUNCTION(is_valid_uln) { return BoolGetDatum(ids::is_valid_uln(id_or_empty(fcinfo, 0))); }

// For CHECK constraints: true, or the reason as a 22P02 error (a CHECK that only returned
// false would report just the constraint's name).
OUTREACH_FUNCTION(validate_upn) {
	const std::string_view upn = id_arg(fcinfo, 0, "UPN");
	if (const auto problem = ids::upn_problem(upn))
		throw outreach::Error(outreach::sqlstate::invalid_text_representation,
		                      "invalid UPN \"" + shown(upn) + "\": " + *problem, {},
		                      "A UPN is a check letter and 12 digits (the last may be a letter for a temporary UPN), in capitals without spaces.");
	return BoolGetDatum(true);
}

OUTREACH_FUNCTION(validate_uln) {
	const std::string_view uln = id_arg(fcinfo, 0, "ULN");
	if (const auto problem = ids::uln_problem(uln))
		throw outreach::Error(outreach::sqlstate::invalid_text_representation,
		                      "invalid ULN \"" + shown(uln) + "\": " + *problem, {},
		                      "A ULN is 10 digits without spaces; the last is a check digit.");
	return BoolGetDatum(true);
}

OUTREACH_FUNCTION(upn_check_letter) {
	const std::string_view twelve = id_arg(fcinfo, 0, "UPN body");
	const auto letter = ids::upn_check_letter(twelve);
	if (!letter)
		throw outreach::Error(outreach::sqlstate::invalid_text_representation,
		                      "\"" + shown(twelve) + "\" is not the 12 characters of a UPN after its check letter",
		                      {}, "Give 11 digits and a digit or a capital other than I, O or S.");
	return outreach::pg::text_result(std::string_view(&*letter, 1));
}

OUTREACH_FUNCTION(uln_check_digit) {
	const std::string_view nine = id_arg(fcinfo, 0, "ULN body");
	const auto digit = ids::uln_check_digit(nine);
	if (!digit)
		throw outreach::Error(outreach::sqlstate::invalid_text_representation,
		                      "\"" + shown(nine) + "\" has no ULN check digit",
		                      {}, "Give nine digits not beginning with 0; some (weighted sum divisible by 11) have no check digit.");
	return outreach::pg::text_result(std::string_view(&*digit, 1));
}
