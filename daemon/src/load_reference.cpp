#include "load_reference.hpp"

#include "core/line_chunks.hpp"
#include "log.hpp"
#include "pg/connection.hpp"

#include <cstdio>
#include <algorithm>
#include <fstream>
#include <vector>

namespace outreachd {
namespace {
// 16 MB per round trip: well under the 64 MB area_lookup_append takes, few enough round trips
// for the 1.4 GB ONS Postcode Directory.
constexpr std::size_t chunk_bytes = 16 * 1024 * 1024;
// Lines of the load's report fetched at a time.
constexpr int report_page_rows = 10000;

// Prints one page of the report: a line per refused line, "file:line: status: reason" on stdout
// (the summary rows, without a line number, as "file: reason"); counts the refused lines.
void print_report_page(const std::string& file_name, const pg::Result& page, int& not_loaded) {
  for (int i = 0; i < page.rows(); ++i) {
    if (page.is_null(i, 0)) {
      std::printf("%s: %s\n", file_name.c_str(), std::string(page.text(i, 2)).c_str());
      continue;
    }
    ++not_loaded;
    std::printf("%s:%s: %s: %s\n", file_name.c_str(), std::string(page.text(i, 0)).c_str(),
                std::string(page.text(i, 1)).c_str(), std::string(page.text(i, 2)).c_str());
  }
}
}  // namespace

awaitable<int> load_reference(Runtime& rt, const ReferenceLoad& load) {
  std::ifstream in(load.path, std::ios::binary);
  if (!in) {
    log::error("load-reference: cannot read {}", load.path);
    co_return 1;
  }
  const auto slash = load.path.find_last_of('/');
  const std::string file_name = slash == std::string::npos ? load.path : load.path.substr(slash + 1);

  pg::ConnectOptions options;
  options.conninfo = rt.config.database.conninfo;
  options.connect_timeout_seconds = rt.config.database.connect_timeout_seconds;
  options.statement_timeout_seconds = rt.config.database.statement_timeout_seconds;
  options.application_name = "outreachd load-reference";
  pg::Connection db(rt.io.get_executor(), options);
  const auto timeout = std::chrono::seconds(rt.config.database.statement_timeout_seconds + 30);

  std::string failure;
  long long lines = 0;
  int not_loaded = 0;
  try {
    co_await db.connect();
    std::vector<pg::Param> stage_params;
    stage_params.emplace_back(load.kind);
    stage_params.emplace_back(file_name);
    stage_params.emplace_back(load.vintage);
    stage_params.emplace_back(load.index);
    auto staged = co_await db.query("SELECT outreach.area_lookup_stage($1, $2, $3, $4)", stage_params, timeout);
    const std::string stage_id(staged.scalar());

    LineChunker chunker(chunk_bytes);
    std::string block;
    bool eof = false;
    while (true) {
      while (!eof && chunker.room() > 0) {
        block.resize(std::min<std::size_t>(chunker.room(), 1024 * 1024));
        in.read(block.data(), static_cast<std::streamsize>(block.size()));
        block.resize(static_cast<std::size_t>(in.gcount()));
        if (in.bad()) throw pg::Error("cannot read " + load.path, "", false);
        if (block.empty()) eof = true;
        else chunker.feed(block);
      }
      auto chunk = chunker.next(eof);
      if (!chunk) {
        if (eof) break;
        continue;
      }
      // Raw bytes (a binary parameter): the database checks the encoding line by line.
      std::vector<pg::Param> params;
      params.emplace_back(stage_id);
      params.emplace_back(chunk->first_line);
      params.emplace_back(std::move(chunk->bytes), true);
      auto read = co_await db.query("SELECT outreach.area_lookup_append($1::bigint, $2::int, $3::bytea)", params, timeout);
      lines += std::stoll(std::string(read.scalar()));
    }
    // The load's report can list every line of a file that is all wrong (millions): read it
    // through a cursor, a page at a time, so this process holds one page, never the whole list.
    // (The stage id is our own bigint, checked to be digits before it is written into the SQL.)
    if (stage_id.empty() || stage_id.find_first_not_of("0123456789") != std::string::npos)
      throw pg::Error("unexpected stage id from area_lookup_stage", "", false);
    co_await db.query("BEGIN", {}, timeout);
    co_await db.query("DECLARE report NO SCROLL CURSOR FOR SELECT line_no, status, reason FROM outreach.load_area_lookup(" +
                          stage_id + "::bigint)",
                      {}, timeout);
    while (true) {
      auto page = co_await db.query("FETCH " + std::to_string(report_page_rows) + " FROM report", {}, timeout);
      if (page.rows() == 0) break;
      print_report_page(file_name, page, not_loaded);
    }
    co_await db.query("COMMIT", {}, timeout);
  } catch (const pg::Error& e) {
    failure = e.sqlstate().empty() ? e.what() : fmt::format("{} (SQLSTATE {})", e.what(), e.sqlstate());
  }
  if (!failure.empty()) {
    log::error("load-reference: {} refused: {}", file_name, failure);
    co_return 1;
  }
  log::info("load-reference: {} ({}): {} lines sent, {} not loaded (listed on stdout)", file_name, load.kind, lines,
            not_loaded);
  co_return not_loaded == 0 ? 0 : 3;
}

}  // namespace outreachd
