// Library entry: the module magic block and _PG_init, which registers the settings.
#include "keyring_guc.hpp"  // includes the pure core: before PostgreSQL's headers
#include "controller_access.hpp"

#include "boundary.hpp"

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

static void init_body() {
	static_assert(SIZEOF_DATUM == 8, "uk_postcode is passed by value in a 64-bit Datum");
	outreach::pg::init_boundary();
	outreach::pg::define_key_file_setting();
	outreach::pg::register_controller_access_callbacks();
	MarkGUCPrefixReserved("outreach");
}

void _PG_init(void) {
	// Nothing in init_body() throws; defining settings may raise a PostgreSQL error, which is
	// fine here because no C++ object is alive in these frames.
	init_body();
}
