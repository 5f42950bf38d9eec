// The role a session acts as, for the functions that must name their caller from inside a
// SECURITY DEFINER function (invoking_role, caller_controller_ids).
#pragma once

extern "C" {
#include "postgres.h"
}

namespace outreach::pg {

// GetOuterUserId(), refused (42501) during a security-restricted operation: while ANALYZE,
// VACUUM, REINDEX, CREATE INDEX or REFRESH MATERIALIZED VIEW runs a table owner's expressions,
// the outer user is whoever started the operation (autovacuum's superuser, a DBA), not the
// owner whose code runs, and a report would take that user's rights for the owner's.
Oid outer_user();

}  // namespace outreach::pg
