#include "jobs/runner.hpp"

#include "core/backoff.hpp"
#include "log.hpp"

#include <chrono>

namespace outreachd {

double Runtime::wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

awaitable<void> JobContext::hold() {
  auto r = co_await sql("SELECT outreach.daemon_hold($1, $2, $3)", job, rt.holder, rt.config.daemon.lease_seconds);
  if (!r.boolean(0, 0)) throw LeaseLost();
}

awaitable<void> JobContext::open_history() {
  if (run_id != 0) co_return;
  auto started_run = co_await sql("SELECT outreach.job_run_start($1, $2)", job, rt.holder);
  run_id = started_run.int64(0, 0);
}

awaitable<pg::Result> JobContext::sql(std::string text, std::vector<pg::Param> params) {
  co_return co_await db.query(text, params, std::chrono::seconds(rt.config.database.statement_timeout_seconds + 30));
}

static pg::ConnectOptions connect_options(const Runtime& rt, const std::string& job) {
  pg::ConnectOptions o;
  o.conninfo = rt.config.database.conninfo;
  o.connect_timeout_seconds = rt.config.database.connect_timeout_seconds;
  o.statement_timeout_seconds = rt.config.database.statement_timeout_seconds;
  o.application_name = "outreachd " + job;
  return o;
}

JobRunner::JobRunner(Runtime& rt, std::unique_ptr<Job> job)
    : rt_(rt), job_(std::move(job)), name_(job_->name()), db_(rt.io.get_executor(), connect_options(rt, name_)),
      wake_timer_(rt.io) {}

bool JobRunner::enabled() const {
  const auto& j = rt_.config.jobs;
  if (name_ == "sweep") return j.sweep.enabled;
  if (name_ == "delete") return j.delete_.enabled;
  if (name_ == "notify") return j.notify.enabled;
  if (name_ == "escalate") return j.escalate.enabled;
  if (name_ == "export") return j.export_.enabled;
  return false;
}

std::string JobRunner::schedule_text() const {
  const auto& j = rt_.config.jobs;
  if (name_ == "sweep") return j.sweep.schedule;
  if (name_ == "delete") return j.delete_.schedule;
  if (name_ == "notify") return j.notify.schedule;
  if (name_ == "escalate") return j.escalate.schedule;
  return j.export_.schedule;
}

void JobRunner::wake() {
  woken_ = true;
  wake_timer_.cancel();
}

void JobRunner::stop() { wake_timer_.cancel(); }

// Only a stop, or a wake-up arriving during the sleep (wake() cancels the timer), cuts it short.
// (Returning at once whenever woken_ was set let the loop spin without ever suspending: a woken
// job that was disabled, waiting for retry_at or backing off from a failed connect froze the
// whole daemon at 100% CPU, signals included. loop() acts on woken_ before it sleeps.)
awaitable<void> JobRunner::sleep(Clock::duration d) {
  if (rt_.stopping) co_return;
  wake_timer_.expires_after(d);
  boost::system::error_code ec;
  co_await wake_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
}

awaitable<bool> JobRunner::ensure_connected() {
  if (db_.connected()) co_return true;
  std::string problem;
  try {
    co_await db_.connect();
  } catch (const pg::Error& e) {
    problem = e.what();
  }
  if (problem.empty()) {
    // A reconnect: after failed attempts, or after a connection that was lost (an idle job
    // notices a server restart only at its next run, and then reconnects at the first try).
    if (connect_failures_ > 0 || ever_connected_) {
      ++rt_.metrics.reconnects;
      log::info("{}: reconnected to {}", name_, db_.describe());
    } else {
      log::debug("{}: connected to {}", name_, db_.describe());
    }
    connect_failures_ = 0;
    ever_connected_ = true;
    co_return true;
  }
  ++connect_failures_;
  double wait = backoff_seconds(connect_failures_, 0.5, rt_.config.database.reconnect_max_seconds, rt_.random_unit());
  log::warning("{}: cannot connect to the database ({}); retrying in {:.1f} s", name_, problem, wait);
  co_await sleep(std::chrono::milliseconds(static_cast<long>(wait * 1000)));
  co_return false;
}

awaitable<JobRunner::Attempt> JobRunner::attempt(const JobOptions& options) {
  JobContext ctx{rt_, db_, name_, 0, options};
  std::exception_ptr failure;
  try {
    auto held = co_await ctx.sql("SELECT outreach.daemon_hold($1, $2, $3)", name_, rt_.holder, rt_.config.daemon.lease_seconds);
    rt_.metrics.lease_held[name_] = held.boolean(0, 0);
    if (!held.boolean(0, 0)) co_return Attempt::not_held;
    if (job_->history_when_idle()) {
      auto started_run = co_await ctx.sql("SELECT outreach.job_run_start($1, $2)", name_, rt_.holder);
      ctx.run_id = started_run.int64(0, 0);
    }
    auto started = Clock::now();
    JobOutcome outcome = co_await job_->run(ctx);
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (ctx.run_id == 0 && !outcome.idle) {  // recorded after the fact
      auto started_run = co_await ctx.sql("SELECT outreach.job_run_start($1, $2)", name_, rt_.holder);
      ctx.run_id = started_run.int64(0, 0);
    }
    if (ctx.run_id != 0) {
      co_await ctx.sql("SELECT outreach.job_run_progress($1, $2)", ctx.run_id, outcome.rows);
      std::vector<pg::Param> finish{ctx.run_id, std::string(outcome.stopped ? "interrupted" : "succeeded"),
                                    outcome.detail};
      co_await ctx.sql("SELECT outreach.job_run_finish($1, $2, $3)", finish);
    }
    rt_.metrics.job_runs[{name_, outcome.stopped ? "interrupted" : "succeeded"}]++;
    rt_.metrics.rows[name_] += outcome.rows;
    if (!outcome.stopped) rt_.metrics.last_success[name_] = Runtime::wall_now();
    next_due_.reset();
    if (outcome.next_in_seconds)
      next_due_ = Clock::now() + std::chrono::milliseconds(static_cast<long>(*outcome.next_in_seconds * 1000) + 1);
    if (!outcome.idle) log::info("{}: {} in {:.1f} s", name_, outcome.detail, seconds);
    co_return Attempt::done;
  } catch (...) {
    failure = std::current_exception();
  }
  // Outside the handler: co_await is not allowed inside one.
  std::string why;
  bool lost = false;
  try {
    std::rethrow_exception(failure);
  } catch (const LeaseLost& e) {
    why = e.what();
  } catch (const pg::Error& e) {
    why = e.sqlstate().empty() ? e.what() : fmt::format("{} (SQLSTATE {})", e.what(), e.sqlstate());
    lost = e.connection_lost() || !db_.connected();
  } catch (const std::exception& e) {
    why = e.what();
  }
  rt_.metrics.lease_held[name_] = false;
  if (lost) {
    rt_.metrics.job_runs[{name_, "interrupted"}]++;
    log::warning("{}: database connection lost ({}); the job resumes after reconnecting", name_, why);
    co_return Attempt::lost_connection;
  }
  rt_.metrics.job_runs[{name_, "failed"}]++;
  log::error("{}: failed: {}", name_, why);
  // A job that failed inside a transaction (a statement timeout in the sweep's prepare step, the
  // lease lost between its statements) must not leave it open: the session would sit idle in a
  // (possibly aborted) transaction holding its locks, and every later statement would fail.
  if (db_.in_transaction()) {
    const std::vector<pg::Param> no_params;
    try {
      co_await db_.query("ROLLBACK", no_params, std::chrono::seconds(10));
    } catch (const std::exception& e) {
      log::warning("{}: could not roll back after the failure: {}", name_, e.what());
    }
  }
  if (ctx.run_id != 0) {
    try {
      co_await ctx.sql("SELECT outreach.job_run_finish($1, 'failed', $2)", ctx.run_id, why);
    } catch (const std::exception& e) {
      log::warning("{}: could not record the failure: {}", name_, e.what());
    }
  }
  co_return Attempt::failed;
}

awaitable<bool> JobRunner::done_by_another(std::int64_t slot) {
  std::vector<pg::Param> params{name_, static_cast<std::int64_t>(slot)};
  auto r = co_await db_.query(
      "SELECT EXISTS (SELECT 1 FROM outreach.job_run WHERE job = $1 AND status = 'succeeded' "
      "AND started_at >= to_timestamp($2))",
      params);
  co_return r.boolean(0, 0);
}

awaitable<void> JobRunner::loop() {
  std::optional<Schedule> schedule;
  std::string schedule_in_use;
  std::optional<std::int64_t> pending;  // a slot not yet run by anyone
  auto retry_at = Clock::now();
  while (!rt_.stopping) {
    if (!enabled()) {
      co_await sleep(std::chrono::seconds(60));
      continue;
    }
    if (schedule_text() != schedule_in_use) {  // first time, or changed by SIGHUP
      schedule_in_use = schedule_text();
      auto last = schedule ? schedule->last_run() : std::nullopt;
      schedule.emplace(CronExpr::parse(schedule_in_use), rt_.zone, rt_.config.daemon.catch_up_seconds);
      if (last) schedule->ran(*last);
    }
    const auto now = static_cast<std::int64_t>(Runtime::wall_now());
    if (auto slot = schedule->due(now)) {
      pending = slot;
      schedule->ran(*slot);
    }
    if (next_due_ && Clock::now() >= *next_due_) woken_ = true;
    if ((pending || woken_) && Clock::now() >= retry_at) {
      const bool up = co_await ensure_connected();
      if (!up) continue;
      if (!history_checked_) {
        // A slot that some daemon's run already covered (this one before a restart, or
        // another) is not run again: the schedule starts after the last successful run.
        history_checked_ = true;
        std::optional<std::int64_t> last;
        try {
          const std::vector<pg::Param> job_param{name_};
          auto r = co_await db_.query(
              "SELECT extract(epoch FROM max(started_at))::bigint FROM outreach.job_run "
              "WHERE job = $1 AND status = 'succeeded'",
              job_param, std::chrono::seconds(30));
          if (!r.is_null(0, 0)) last = r.int64(0, 0);
        } catch (const pg::Error& e) {
          log::warning("{}: cannot read the job history ({}); the schedule starts from now", name_, e.what());
        }
        if (last) {
          schedule->ran(*last);
          if (pending && *pending <= *last) pending.reset();
        }
        if (!pending && !woken_) continue;
      }
      const bool was_woken = woken_;
      woken_ = false;
      next_due_.reset();
      Attempt a = co_await attempt({});
      if (a == Attempt::done || a == Attempt::failed) {
        pending.reset();  // a failed slot is not retried in a loop; the next slot or wake-up is
      } else if (a == Attempt::not_held) {
        bool other_did_it = false;
        if (pending) {
          try {
            other_did_it = co_await done_by_another(*pending);
          } catch (const pg::Error&) {
          }
        }
        if (other_did_it) pending.reset();
        // Another daemon is active: look again soon, so this one takes over within a bounded
        // time if that one dies (its lease runs out after lease_seconds). A wake-up is kept
        // too, not only a slot: the other daemon may die in the middle of the work it was woken
        // for (deletions, deliveries), and nothing else would wake this one before the next
        // slot. It is kept only until this daemon gets the lease once; the job then finds what
        // is left, if anything.
        retry_at = Clock::now() + std::chrono::seconds(std::max(1, rt_.config.daemon.lease_seconds / 3));
        woken_ = pending.has_value() || was_woken;
      } else {  // lost connection: keep the work pending and reconnect
        woken_ = true;
        continue;
      }
    }
    // Sleep until the next slot, a retry hint or a wake-up; at most 60 s so wall-clock jumps
    // are noticed (the schedule never runs a slot twice).
    double wait = std::min<double>(60, static_cast<double>(schedule->seconds_until_next(now)));
    if (next_due_) wait = std::min(wait, std::max(0.05, std::chrono::duration<double>(*next_due_ - Clock::now()).count()));
    if (woken_ || pending) {
      auto until_retry = std::chrono::duration<double>(retry_at - Clock::now()).count();
      wait = std::min(wait, std::max(0.05, until_retry));
    }
    wait = std::max(wait, 0.05);
    co_await sleep(std::chrono::milliseconds(static_cast<long>(wait * 1000)));
  }
}

awaitable<int> JobRunner::run_once(JobOptions options, Clock::duration patience) {
  const auto give_up = Clock::now() + patience;
  int connect_attempts = 0;
  for (;;) {
    if (rt_.stopping) co_return 1;
    if (!db_.connected()) {
      if (++connect_attempts > 5) {
        log::error("{}: giving up: the database cannot be reached", name_);
        co_return 1;
      }
      const bool up = co_await ensure_connected();
      if (!up) continue;
    }
    Attempt a = co_await attempt(options);
    switch (a) {
      case Attempt::done: co_return rt_.stopping ? 1 : 0;
      case Attempt::failed: co_return 1;
      case Attempt::lost_connection: continue;
      case Attempt::not_held:
        if (Clock::now() >= give_up) {
          log::error("{}: another daemon holds the job's lease; try again later", name_);
          co_return 75;  // EX_TEMPFAIL
        }
        log::info("{}: another daemon is running this job; waiting for its lease", name_);
        co_await sleep(std::chrono::seconds(2));
        woken_ = false;
    }
  }
}

awaitable<void> JobRunner::release_lease() {
  if (!db_.connected()) co_return;
  try {
    std::vector<pg::Param> params{name_, rt_.holder};
    co_await db_.query("SELECT outreach.daemon_release($1, $2)", params, std::chrono::seconds(5));
  } catch (const std::exception&) {
  }
}

}  // namespace outreachd
