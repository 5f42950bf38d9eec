// `outreachd import --controller CODE --kind participants|activities|attendance FILE`: sends a
// member's own file to outreach.import_participants(), import_activities() or
// import_attendance() as the member's writer (the connection's role: libpq's PG*
// environment, or --database CONNINFO; never the daemon's own role, which may not write
// members' data) and prints every line not imported, with its reason (docs/import.md).
#pragma once
#include "asio.hpp"
#include "runtime.hpp"

#include <optional>
#include <string>

namespace outreachd {

struct MemberImport {
  std::string controller;                  // the member's code
  std::string kind;                        // participants, activities or attendance
  std::string path;
  std::optional<std::string> date_format;  // DD/MM/YYYY, MM/DD/YYYY or YYYY-MM-DD
  std::optional<std::string> conninfo;     // else libpq's environment
};

// Exit codes: 0 every line imported, 3 some lines not imported (listed on stdout: errors and
// lines matched to a participant held), 1 the file was refused whole or could not be sent.
awaitable<int> import_member_file(Runtime& rt, const MemberImport& job);

}  // namespace outreachd
