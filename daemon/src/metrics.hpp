// Counters and gauges the daemon exposes on GET /metrics (Prometheus text format 0.0.4).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace outreachd {

struct Metrics {
  std::map<std::pair<std::string, std::string>, std::int64_t> job_runs;  // (job, result) -> count
  std::map<std::string, std::int64_t> rows;                             // job -> rows done
  std::map<std::string, double> last_success;                           // job -> unix time
  std::map<std::string, bool> lease_held;                               // job -> held by us now
  std::map<std::pair<std::string, std::string>, std::int64_t> attempts; // (kind, ok|retry|failed)
  std::map<std::string, std::int64_t> deliveries;                       // status -> count (from SQL)
  bool database_up = false;
  std::int64_t reconnects = 0;
  double started_at = 0;

  std::string render() const;
};

}  // namespace outreachd
