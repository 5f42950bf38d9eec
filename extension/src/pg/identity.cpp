// outreach.invoking_role(): the role a session acts as (session user, or the role chosen with
// SET ROLE), unchanged inside SECURITY DEFINER functions. Audit triggers run as the extension
// owner so that members cannot write the audit trail; this is how they still name the caller.
#include "../core/error.hpp"  // core first: it must compile without PostgreSQL's headers
#include "boundary.hpp"
#include "identity.hpp"

extern "C" {
#include "miscadmin.h"
}

Oid outreach::pg::outer_user() {
	if (InSecurityRestrictedOperation())
		throw outreach::Error(outreach::sqlstate::insufficient_privilege,
		                      "the invoking role cannot be named during a security-restricted operation "
		                      "(ANALYZE, VACUUM, REINDEX, CREATE INDEX, REFRESH MATERIALIZED VIEW)");
	return GetOuterUserId();
}

OUTREACH_FUNCTION(invoking_role) { return ObjectIdGetDatum(outreach::pg::outer_user()); }
