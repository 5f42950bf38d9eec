// LOCK TABLE on the extension's tables is the service's, not its users'.
#pragma once

namespace outreach::pg {

// Installs the utility hook (from _PG_init, when loaded through shared_preload_libraries).
void install_lock_guard();

// Whether this process runs with the hook installed.
bool lock_guard_installed();

}  // namespace outreach::pg
