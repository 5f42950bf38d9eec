// outreach.normalise_name(text): fmgr glue around core/name_normalise.
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/name_normalise.hpp"

#include "boundary.hpp"

OUTREACH_FUNCTION(normalise_name) {
	return outreach::pg::text_result(outreach::names::normalise(outreach::pg::text_arg(fcinfo, 0)));
}
