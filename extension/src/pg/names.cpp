// outreach.normalise_name(text): fmgr glue around core/name_normalise.
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/limits.hpp"
#include "../core/name_normalise.hpp"

#include "boundary.hpp"

// The name is at most limits::max_name_chars characters, so the result is at most 18 times
// that (U+FDFA's expansion): no unbounded buffer outside PostgreSQL's memory accounting.
OUTREACH_FUNCTION(normalise_name) {
	const std::string_view name = outreach::pg::text_arg(fcinfo, 0);
	outreach::limits::check_name(name, "normalise_name: the name");
	return outreach::pg::text_result(outreach::names::normalise(name));
}
