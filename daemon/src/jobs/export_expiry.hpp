// The removal of delivered export files past the service's export_file_days (export_expiry.cpp).
#pragma once
#include "jobs/job.hpp"

#include <cstdint>

namespace outreachd {

// Returns how many exports' files were removed (or found gone); throws FileError naming those
// that could not be, after removing the others.
awaitable<std::int64_t> remove_expired_exports(JobContext& ctx);

}  // namespace outreachd
