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
  pg::Result report;
  long long lines = 0;
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
    std::vector<pg::Param> load_params;
    load_params.emplace_back(stage_id);
    report = co_await db.query("SELECT line_no, status, reason FROM outreach.load_area_lookup($1::bigint)",
                               load_params, timeout);
  } catch (const pg::Error& e) {
    failure = e.sqlstate().empty() ? e.what() : fmt::format("{} (SQLSTATE {})", e.what(), e.sqlstate());
  }
  if (!failure.empty()) {
    log::error("load-reference: {} refused: {}", file_name, failure);
    co_return 1;
  }
  int not_loaded = 0;
  for (int i = 0; i < report.rows(); ++i) {
    if (report.is_null(i, 0)) {
      std::printf("%s: %s\n", file_name.c_str(), std::string(report.text(i, 2)).c_str());
      continue;
    }
    ++not_loaded;
    std::printf("%s:%s: %s: %s\n", file_name.c_str(), std::string(report.text(i, 0)).c_str(),
                std::string(report.text(i, 1)).c_str(), std::string(report.text(i, 2)).c_str());
  }
  log::info("load-reference: {} ({}): {} lines sent, {} not loaded (listed on stdout)", file_name, load.kind, lines,
            not_loaded);
  co_return not_loaded == 0 ? 0 : 3;
}

}  // namespace outreachd
