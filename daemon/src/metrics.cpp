#include "metrics.hpp"

#include <fmt/format.h>

namespace outreachd {
namespace {
std::string label(std::string_view s) {  // escape a label value
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') { out += "\\n"; continue; }
    out.push_back(c);
  }
  return out;
}
}  // namespace

std::string Metrics::render() const {
  std::string out;
  out += "# HELP outreachd_up 1 while the daemon runs.\n# TYPE outreachd_up gauge\noutreachd_up 1\n";
  out += fmt::format("# HELP outreachd_start_time_seconds When the daemon started.\n"
                     "# TYPE outreachd_start_time_seconds gauge\noutreachd_start_time_seconds {:.3f}\n", started_at);
  out += fmt::format("# HELP outreachd_database_up 1 if the daemon's database connection works.\n"
                     "# TYPE outreachd_database_up gauge\noutreachd_database_up {}\n", database_up ? 1 : 0);
  out += fmt::format("# HELP outreachd_database_reconnects_total Connections re-established after a failure.\n"
                     "# TYPE outreachd_database_reconnects_total counter\noutreachd_database_reconnects_total {}\n",
                     reconnects);
  out += "# HELP outreachd_job_runs_total Job runs by result.\n# TYPE outreachd_job_runs_total counter\n";
  for (const auto& [key, n] : job_runs)
    out += fmt::format("outreachd_job_runs_total{{job=\"{}\",result=\"{}\"}} {}\n", label(key.first),
                       label(key.second), n);
  out += "# HELP outreachd_job_rows_total Rows swept (marked), deleted, exported or delivered by job.\n"
         "# TYPE outreachd_job_rows_total counter\n";
  for (const auto& [job, n] : rows)
    out += fmt::format("outreachd_job_rows_total{{job=\"{}\"}} {}\n", label(job), n);
  out += "# HELP outreachd_job_last_success_timestamp_seconds When each job last succeeded here.\n"
         "# TYPE outreachd_job_last_success_timestamp_seconds gauge\n";
  for (const auto& [job, t] : last_success)
    out += fmt::format("outreachd_job_last_success_timestamp_seconds{{job=\"{}\"}} {:.3f}\n", label(job), t);
  out += "# HELP outreachd_job_lease_held 1 while this daemon holds the job's lease.\n"
         "# TYPE outreachd_job_lease_held gauge\n";
  for (const auto& [job, held] : lease_held)
    out += fmt::format("outreachd_job_lease_held{{job=\"{}\"}} {}\n", label(job), held ? 1 : 0);
  out += "# HELP outreachd_delivery_attempts_total Delivery attempts by channel kind and outcome.\n"
         "# TYPE outreachd_delivery_attempts_total counter\n";
  for (const auto& [key, n] : attempts)
    out += fmt::format("outreachd_delivery_attempts_total{{kind=\"{}\",outcome=\"{}\"}} {}\n", label(key.first),
                       label(key.second), n);
  out += "# HELP outreachd_notices Notice deliveries in the database by status (pending, delivered, failed).\n"
         "# TYPE outreachd_notices gauge\n";
  for (const char* status : {"pending", "delivered", "failed"}) {
    auto it = deliveries.find(status);
    out += fmt::format("outreachd_notices{{status=\"{}\"}} {}\n", status, it == deliveries.end() ? 0 : it->second);
  }
  return out;
}

}  // namespace outreachd
