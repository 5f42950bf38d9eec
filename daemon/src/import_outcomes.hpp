// `outreachd import-outcomes --recipient NAME FILE`: sends a recipient's returned outcome file to
// outreach.import_outcomes() (which parses, checks and matches it in the database) and prints
// every line that was not imported with its reason.
#pragma once
#include "asio.hpp"
#include "runtime.hpp"

#include <string>

namespace outreachd {

// Exit codes: 0 every row imported (or already there), 3 some rows not imported (listed),
// 1 the file was refused whole or could not be sent.
awaitable<int> import_outcomes(Runtime& rt, const std::string& recipient, const std::string& path);

}  // namespace outreachd
