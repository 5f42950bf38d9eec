// C functions that released versions' install scripts create and a later version dropped.
// Installing a released version (CREATE EXTENSION outreach VERSION '0.6.0', as a restore does,
// then ALTER EXTENSION UPDATE) runs its frozen script against this library, and PostgreSQL looks
// up every C symbol a CREATE FUNCTION names: each one must still resolve. The update that drops
// the SQL function also drops the only way to call it; called anyway, it says so.
#include "../core/error.hpp"

#include "boundary.hpp"

namespace {

[[noreturn]] void removed(const char *name, const char *version) {
	throw outreach::Error(outreach::sqlstate::feature_not_supported,
	                      std::string("outreach.") + name + "() was removed in " + version,
	                      {}, "Update the extension: ALTER EXTENSION outreach UPDATE.");
}

}  // namespace

// 0.5.0 and 0.6.0: each line of an outcome file checked on its own (import_outcomes parses
// files in outcome_import_rows since 0.6.0). Dropped in 0.8.0.
OUTREACH_FUNCTION(outcome_file_lines) { removed("outcome_file_lines", "0.8.0"); }
