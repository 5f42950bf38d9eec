#include "import_member.hpp"

#include "log.hpp"
#include "pg/connection.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace outreachd {

awaitable<int> import_member_file(Runtime& rt, const MemberImport& job) {
  std::ifstream in(job.path, std::ios::binary);
  if (!in) {
    log::error("import: cannot read {}", job.path);
    co_return 1;
  }
  std::stringstream content;
  content << in.rdbuf();
  const std::string bytes = content.str();
  const auto slash = job.path.find_last_of('/');
  const std::string file_name = slash == std::string::npos ? job.path : job.path.substr(slash + 1);

  pg::ConnectOptions options;
  // The member's writer, not the daemon: --database, else libpq's environment (never the
  // configuration's conninfo, the daemon's own role).
  options.conninfo = job.conninfo.value_or("");
  options.connect_timeout_seconds = rt.config.database.connect_timeout_seconds;
  options.statement_timeout_seconds = rt.config.database.statement_timeout_seconds;
  options.application_name = "outreachd import";
  pg::Connection db(rt.io.get_executor(), options);
  std::string failure;
  pg::Result report;
  try {
    co_await db.connect();
    std::vector<pg::Param> member{job.controller};
    auto found = co_await db.query("SELECT controller_id FROM outreach.controller WHERE code = $1", member,
                                   std::chrono::seconds(rt.config.database.statement_timeout_seconds));
    if (found.rows() == 0) {
      log::error("import: no member with code \"{}\" (or the role may not see it)", job.controller);
      co_return 1;
    }
    const std::string controller_id(found.text(0, 0));
    // The file goes as raw bytes: its encoding is decided by the database (docs/import.md).
    std::vector<pg::Param> params{controller_id, file_name, pg::Param(bytes, true), pg::Param(job.date_format)};
    // (the function is named by the kind, one of three the command line allows)
    const std::string function = job.kind == "activities" ? "import_activities"
                                 : job.kind == "attendance" ? "import_attendance"
                                                            : "import_participants";
    const std::string statement = "SELECT import_id, line_no, status, reason FROM outreach." + function +
                                  "($1::int, $2, $3::bytea, $4) ORDER BY line_no";
    report = co_await db.query(statement, params, std::chrono::seconds(rt.config.database.statement_timeout_seconds + 30));
  } catch (const pg::Error& e) {
    failure = e.sqlstate().empty() ? e.what() : fmt::format("{} (SQLSTATE {})", e.what(), e.sqlstate());
  }
  if (!failure.empty()) {
    log::error("import: {} refused: {}", file_name, failure);
    co_return 1;
  }
  int left_out = 0, written = 0;
  std::string import_id;
  for (int i = 0; i < report.rows(); ++i) {
    import_id = std::string(report.text(i, 0));
    const std::string status(report.text(i, 2));
    if (status == "note") {
      log::info("import: {}:{}: {}", file_name, std::string(report.text(i, 1)), std::string(report.text(i, 3)));
      continue;
    }
    if (status == "inserted" || status == "updated" || status == "unchanged") {
      ++written;
      continue;
    }
    ++left_out;
    // (the file's own text, header names included, goes to a terminal: control characters shown as '?')
    std::string reason(report.text(i, 3));
    for (char& c : reason)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
    std::printf("%s:%s: %s: %s\n", file_name.c_str(), std::string(report.text(i, 1)).c_str(), status.c_str(),
                reason.c_str());
  }
  log::info("import: {} for {} (import {}): {} lines written, {} not (listed on stdout)", file_name, job.controller,
            import_id, written, left_out);
  co_return left_out == 0 ? 0 : 3;
}

}  // namespace outreachd
