// The outcome layout as the import functions take it from SQL: the field count, the positions
// of reference, academic_year, measure, value, provider_ukprn, provider_name and outcome (7
// integers, 0 where the layout has no such column), the fixed kind, and the outcome codes as
// two arrays (code, kind). import_outcomes() (extension/sql/current/55_outcome_import.sql) works them out of
// outreach.recipient_layout_column.
#pragma once
#include "../core/outcome_lines.hpp"  // core first: it must compile without PostgreSQL's headers

#include "boundary.hpp"

namespace outreach::pg {

// The five arguments from first on: n_fields int, positions int[], fixed_kind text,
// code_keys text[], code_values text[]. function names the caller in messages.
outreach::outcome_lines::Layout outcome_layout_args(FunctionCallInfo fcinfo, int first, const char *function);

}  // namespace outreach::pg
