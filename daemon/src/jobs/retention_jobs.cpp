// The retention jobs: sweep (mark what is due, in batches; then the service's own records and
// expired export files), delete (confirmed records, in batches) and escalate (missed
// confirmation deadlines). Every batch is one transaction that first renews the lease, so a
// second daemon can never run a batch of the same job meanwhile.
#include "jobs/export_expiry.hpp"
#include "jobs/job.hpp"
#include "log.hpp"

namespace outreachd {
namespace {

// Runs `batch` (a statement returning a count) in a transaction with the lease renewed.
awaitable<std::int64_t> fenced_batch(JobContext& ctx, const std::string& statement,
                                     const std::vector<pg::Param>& params) {
  co_await ctx.sql("BEGIN");
  std::exception_ptr failure;
  bool roll_back = true;
  try {
    co_await ctx.hold();
    auto r = co_await ctx.sql(statement, params);
    co_await ctx.sql("COMMIT");
    co_return r.int64(0, 0);
  } catch (const pg::Error& e) {
    roll_back = !e.connection_lost();
    failure = std::current_exception();
  } catch (...) {
    failure = std::current_exception();
  }
  if (roll_back && ctx.db.connected()) co_await ctx.sql("ROLLBACK");  // (co_await is not allowed in a handler)
  std::rethrow_exception(failure);
}

class SweepJob final : public Job {
 public:
  std::string name() const override { return "sweep"; }
  awaitable<JobOutcome> run(JobContext& ctx) override {
    const int batch = ctx.rt.config.jobs.sweep.batch_size;
    // Runs a killed daemon left open are closed first: only the lease holder sweeps.
    co_await ctx.sql("SELECT outreach.close_interrupted_retention_runs('sweep')");
    // Preparing scans every participant and may outlast the lease: renew it after, in the
    // same transaction, so the commit never hands over an expired lease.
    co_await ctx.sql("BEGIN");
    co_await ctx.hold();
    // (Parameters are built before co_await: GCC 12 miscompiles a ?: temporary inside one.)
    std::vector<pg::Param> as_of{pg::Param(std::nullopt)};
    if (ctx.options.as_of) as_of[0] = pg::Param(*ctx.options.as_of);
    auto prepared = co_await ctx.sql("SELECT outreach.retention_sweep_prepare(coalesce($1::date, current_date))", as_of);
    co_await ctx.hold();
    co_await ctx.sql("COMMIT");
    const std::string run = std::string(prepared.scalar());
    log::info("sweep: run {} prepared", run);
    JobOutcome outcome;
    for (;;) {
      if (ctx.rt.stopping) {
        co_await ctx.sql("SELECT outreach.retention_run_finish($1, 'stopped by SIGTERM; the next sweep resumes')", run);
        outcome.stopped = true;
        break;
      }
      std::vector<pg::Param> params{run, batch};
      auto taken = co_await fenced_batch(ctx, "SELECT outreach.retention_sweep_batch($1, $2)", params);
      if (taken == 0) break;
    }
    if (!outcome.stopped) co_await ctx.sql("SELECT outreach.retention_run_finish($1)", run);
    auto r = co_await ctx.sql("SELECT rows_marked, rows_skipped FROM outreach.retention_run WHERE run_id = $1", run);
    outcome.rows = r.int64(0, 0);
    // Then the service's own records past their periods (audit trail, tombstones, ledger,
    // notices, import errors), leaving counts.
    std::int64_t swept = 0;
    if (!outcome.stopped)
      swept = co_await fenced_batch(ctx, "SELECT outreach.sweep_service_records(coalesce($1::date, current_date))", as_of);
    // And the files of delivered exports past the service's export_file_days.
    std::int64_t files = 0;
    if (!outcome.stopped) files = co_await remove_expired_exports(ctx);
    outcome.detail = fmt::format("retention run {}: {} marked, {} skipped; {} service records swept; {} export files removed",
                                 run, r.int64(0, 0), r.int64(0, 1), swept, files);
    co_return outcome;
  }
};

class DeleteJob final : public Job {
 public:
  std::string name() const override { return "delete"; }
  bool history_when_idle() const override { return false; }
  awaitable<JobOutcome> run(JobContext& ctx) override {
    const int batch = ctx.rt.config.jobs.delete_.batch_size;
    auto pending = co_await ctx.sql("SELECT outreach.deletions_pending()");
    if (pending.int64(0, 0) == 0) {
      JobOutcome idle;
      idle.idle = true;
      idle.detail = "nothing confirmed for deletion";
      co_return idle;
    }
    co_await ctx.open_history();
    co_await ctx.sql("SELECT outreach.close_interrupted_retention_runs('delete')");
    auto started = co_await ctx.sql("SELECT outreach.start_deletion_run()");
    const std::string run = std::string(started.scalar());
    JobOutcome outcome;
    for (;;) {
      if (ctx.rt.stopping) {
        outcome.stopped = true;
        break;
      }
      std::vector<pg::Param> params{run, batch};
      auto n = co_await fenced_batch(ctx, "SELECT outreach.execute_deletions($2, $1)", params);
      outcome.rows += n;
      if (n == 0) break;
    }
    std::vector<pg::Param> finish{run, pg::Param(std::nullopt)};
    if (outcome.stopped) finish[1] = pg::Param("stopped by SIGTERM");
    co_await ctx.sql("SELECT outreach.retention_run_finish($1, $2)", finish);
    outcome.detail = fmt::format("retention run {}: {} deleted", run, outcome.rows);
    co_return outcome;
  }
};

class EscalateJob final : public Job {
 public:
  std::string name() const override { return "escalate"; }
  awaitable<JobOutcome> run(JobContext& ctx) override {
    JobOutcome outcome;
    std::vector<pg::Param> none;
    const auto notices = co_await fenced_batch(ctx, "SELECT outreach.enqueue_escalations(now())", none);
    // Rights requests due within 7 days or overdue: one digest a day per member.
    const auto members = co_await fenced_batch(ctx, "SELECT outreach.enqueue_rights_reminders(now())", none);
    outcome.rows = notices + members;
    outcome.detail = fmt::format("{} notices escalated, {} members reminded of rights requests", notices, members);
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Job> make_sweep_job() { return std::make_unique<SweepJob>(); }
std::unique_ptr<Job> make_delete_job() { return std::make_unique<DeleteJob>(); }
std::unique_ptr<Job> make_escalate_job() { return std::make_unique<EscalateJob>(); }

}  // namespace outreachd
