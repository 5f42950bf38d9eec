// Library entry: the module magic block and _PG_init, which registers the settings.
#include "keyring_guc.hpp"  // includes the pure core: before PostgreSQL's headers
#include "controller_access.hpp"
#include "lock_guard.hpp"

#include "boundary.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

// How far ahead of today a role that is not a superuser may run the service's clock (a sweep's
// as_of, an escalation's time). The daemon's credential alone must not be able to mark or
// confirm years of records early; the DBA may allow it (ALTER ROLE ... SET) for a rehearsal.
static int future_as_of_days = 1;

static void define_future_as_of_setting() {
	DefineCustomIntVariable("outreach.future_as_of_days",
	                        "Days ahead of today a role that is not a superuser may name as a sweep's or escalation's date.",
	                        "Only superusers can change it (for example ALTER ROLE ... SET for a rehearsal).",
	                        &future_as_of_days, 1, 0, 36500, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

// How long an export waits for members' transactions that hold outreach.participant before it
// ends their sessions (and twice that before it gives up): see outreach.lock_ahead_of_members.
static int member_lock_seconds = 30;

static void define_member_lock_setting() {
	DefineCustomIntVariable("outreach.member_lock_seconds",
	                        "Seconds an export waits for members' transactions before ending their sessions.",
	                        "It gives up after twice this. Only superusers can change it.",
	                        &member_lock_seconds, 30, 1, 3600, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

static void init_body() {
	static_assert(SIZEOF_DATUM == 8, "uk_postcode is passed by value in a 64-bit Datum");
	outreach::pg::init_boundary();
	outreach::pg::define_key_file_setting();
	define_future_as_of_setting();
	define_member_lock_setting();
	outreach::pg::register_controller_access_callbacks();
	MarkGUCPrefixReserved("outreach");
	// Only from shared_preload_libraries: then every backend has the hook before its first
	// statement, and outreach.key_file is a defined (superuser-only) setting from the start
	// rather than a placeholder any role can SHOW.
	if (process_shared_preload_libraries_in_progress)
		outreach::pg::install_lock_guard();
}

void _PG_init(void) {
	// Nothing in init_body() throws; defining settings may raise a PostgreSQL error, which is
	// fine here because no C++ object is alive in these frames.
	init_body();
}

// outreach.preloaded(): whether this server loaded the library through shared_preload_libraries
// (the install script refuses to run otherwise).
OUTREACH_FUNCTION(outreach_preloaded) { return BoolGetDatum(outreach::pg::lock_guard_installed()); }
