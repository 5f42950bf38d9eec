// A job: one kind of work the daemon does (sweep, delete, notify, escalate, export). A job runs
// only while its runner holds the job's lease, and calls the extension's SQL functions: what is
// due, eligible or owed is decided in the database.
#pragma once
#include "asio.hpp"
#include "pg/connection.hpp"
#include "runtime.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace outreachd {

// Thrown when renewing the lease fails: another daemon has taken the job over.
struct LeaseLost : std::runtime_error {
  LeaseLost() : std::runtime_error("lease lost to another daemon") {}
};

struct JobOptions {                  // run-once overrides from the command line
  std::optional<std::string> as_of;  // sweep: the date to sweep as of (YYYY-MM-DD)
  std::optional<std::string> recipient;
  std::optional<std::string> output_dir;
  std::optional<std::string> recreate;  // export: the id of an earlier export to send again
};

struct JobContext {
  Runtime& rt;
  pg::Connection& db;
  std::string job;
  std::int64_t run_id = 0;
  JobOptions options;

  // Renews the lease; inside a transaction this also fences out a second daemon until commit.
  awaitable<void> hold();
  // Opens this run's entry in the job history (job_run) now, unless it is open already. Jobs
  // that leave no history when idle call it as soon as they have work, so that a run killed
  // in the middle still shows in the history (as interrupted, closed by the next run).
  awaitable<void> open_history();
  awaitable<pg::Result> sql(std::string text, std::vector<pg::Param> params);
  // ctx.sql("SELECT f($1, $2)", a, b). The parameter list is built here, in a plain function:
  // GCC 12 miscompiles a braced initializer list inside a co_await expression.
  template <typename... Args>
  awaitable<pg::Result> sql(std::string text, Args&&... args) {
    return sql(std::move(text), std::vector<pg::Param>{pg::Param(std::forward<Args>(args))...});
  }
};

struct JobOutcome {
  std::int64_t rows = 0;
  std::string detail;
  bool stopped = false;                     // stopped early by SIGTERM
  bool idle = false;                        // found nothing to do (see Job::history_when_idle)
  std::optional<double> next_in_seconds;    // when the job has more work later (retries)
};

class Job {
 public:
  virtual ~Job() = default;
  virtual std::string name() const = 0;
  virtual awaitable<JobOutcome> run(JobContext& ctx) = 0;
  // Jobs woken often (notify, delete) leave no history row for a run that found nothing to do.
  virtual bool history_when_idle() const { return true; }
};

std::unique_ptr<Job> make_sweep_job();
std::unique_ptr<Job> make_delete_job();
std::unique_ptr<Job> make_escalate_job();
std::unique_ptr<Job> make_notify_job();
std::unique_ptr<Job> make_export_job();

}  // namespace outreachd
