// Runs one job: on its schedule, when woken by a database notification, and on demand. Holds the
// job's lease while it works (several daemons may run; exactly one acts per job), keeps the job
// history, reconnects with capped backoff when the database goes away, and resumes the job
// after reconnecting.
#pragma once
#include "asio.hpp"
#include "core/schedule.hpp"
#include "jobs/job.hpp"
#include "pg/connection.hpp"
#include "runtime.hpp"

#include <memory>
#include <optional>

namespace outreachd {

class JobRunner {
 public:
  enum class Attempt { done, not_held, failed, lost_connection };

  JobRunner(Runtime& rt, std::unique_ptr<Job> job);
  const std::string& name() const { return name_; }

  awaitable<void> loop();  // until rt.stopping
  void wake();             // work may be waiting: run soon (from LISTEN/NOTIFY)
  void stop();             // ends a sleeping loop at once
  // One run now, waiting up to `patience` for another daemon's lease; returns an exit code.
  awaitable<int> run_once(JobOptions options, Clock::duration patience);
  awaitable<void> release_lease();

 private:
  awaitable<bool> ensure_connected();
  awaitable<Attempt> attempt(const JobOptions& options);
  awaitable<bool> done_by_another(std::int64_t slot);
  awaitable<void> sleep(Clock::duration d);
  bool enabled() const;
  std::string schedule_text() const;

  Runtime& rt_;
  std::unique_ptr<Job> job_;
  std::string name_;
  pg::Connection db_;
  asio::steady_timer wake_timer_;
  bool woken_ = false;
  int connect_failures_ = 0;
  bool history_checked_ = false;  // the last successful run (job_run) read once after start-up
  bool ever_connected_ = false;  // connecting again is a reconnect
  std::optional<Clock::time_point> next_due_;  // when the last run said more work falls due (a retry)
};

}  // namespace outreachd
