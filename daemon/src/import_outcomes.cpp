#include "import_outcomes.hpp"

#include "log.hpp"
#include "pg/connection.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace outreachd {

awaitable<int> import_outcomes(Runtime& rt, const std::string& recipient, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    log::error("import-outcomes: cannot read {}", path);
    co_return 1;
  }
  std::stringstream content;
  content << in.rdbuf();
  const std::string bytes = content.str();
  const auto slash = path.find_last_of('/');
  const std::string file_name = slash == std::string::npos ? path : path.substr(slash + 1);

  pg::ConnectOptions options;
  options.conninfo = rt.config.database.conninfo;
  options.connect_timeout_seconds = rt.config.database.connect_timeout_seconds;
  options.statement_timeout_seconds = rt.config.database.statement_timeout_seconds;
  options.application_name = "outreachd import";
  pg::Connection db(rt.io.get_executor(), options);
  std::string failure;
  pg::Result report;
  try {
    co_await db.connect();
    // The file goes as raw bytes (a binary parameter): its encoding is checked by the database,
    // line by line, not by the connection.
    std::vector<pg::Param> params{recipient, file_name, pg::Param(bytes, true)};
    report = co_await db.query(
        "SELECT import_id, line_no, status, reason FROM outreach.import_outcomes($1, $2, $3::bytea) ORDER BY line_no",
        params, std::chrono::seconds(rt.config.database.statement_timeout_seconds + 30));
  } catch (const pg::Error& e) {
    failure = e.sqlstate().empty() ? e.what() : fmt::format("{} (SQLSTATE {})", e.what(), e.sqlstate());
  }
  if (!failure.empty()) {
    log::error("import-outcomes: {} refused: {}", file_name, failure);
    co_return 1;
  }
  int not_imported = 0;
  for (int i = 0; i < report.rows(); ++i) {
    if (report.is_null(i, 1)) continue;  // a summary row, if the function returns one
    ++not_imported;
    std::printf("%s:%s: %s: %s\n", file_name.c_str(), std::string(report.text(i, 1)).c_str(),
                std::string(report.text(i, 2)).c_str(), std::string(report.text(i, 3)).c_str());
  }
  log::info("import-outcomes: {} for {}: {} lines not imported (listed on stdout)", file_name, recipient, not_imported);
  co_return not_imported == 0 ? 0 : 3;
}

}  // namespace outreachd
