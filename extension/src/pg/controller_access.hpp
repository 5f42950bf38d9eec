// Which controllers the current role may act for: the heart of every row-level security policy.
#pragma once

namespace outreach::pg {

// Registers the invalidation callbacks that keep the per-backend cache exact. Called from _PG_init.
void register_controller_access_callbacks();

}  // namespace outreach::pg
