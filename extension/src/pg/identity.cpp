// outreach.invoking_role(): the role a session acts as (session user, or the role chosen with
// SET ROLE), unchanged inside SECURITY DEFINER functions. Audit triggers run as the extension
// owner so that members cannot write the audit trail; this is how they still name the caller.
#include "boundary.hpp"

extern "C" {
#include "miscadmin.h"
}

OUTREACH_FUNCTION(invoking_role) { return ObjectIdGetDatum(GetOuterUserId()); }
