// Delivering notices: claim due deliveries (a committed claim, so a killed daemon's claims run
// out and another daemon retries them), send each over its channel concurrently, record every
// attempt. A failure is retried with capped exponential backoff and jitter until max_attempts;
// a permanent failure (malformed URL, HTTP 4xx, SMTP 5xx) stops at once. Each member's
// deliveries are independent: one failing channel never holds up another.
#include "core/backoff.hpp"
#include "core/signature.hpp"
#include "deliver/delivery.hpp"
#include "jobs/job.hpp"
#include "log.hpp"

#include <sys/stat.h>


namespace outreachd {
namespace {

struct Claimed {
  std::string controller_id, delivery_id, code, kind, target, key, subject, message, payload;
  int attempts = 0;
  DeliveryResult result;
};

// The master key behind members' webhook secrets; empty (deliveries then wait) when unusable.
std::string read_master_key(const std::string& path) {
  if (path.empty()) return {};
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    log::error("webhook.secret_file {} cannot be read", path);
    return {};
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    log::error("webhook.secret_file {} is readable by others: fix its mode (chmod 600)", path);
    return {};
  }
  auto key = read_master_key_file(path);
  if (!key) log::error("webhook.secret_file {} cannot be read", path);
  return key.value_or(std::string());
}

// (Messages are built as named objects, not temporaries inside co_await: GCC 12 destroys some
// such temporaries twice.)
awaitable<void> deliver(const Runtime& rt, const std::string& master, Claimed& d) {
  const auto timeout = std::chrono::seconds(rt.config.jobs.notify.timeout_seconds);
  if (d.kind == "webhook") {
    WebhookMessage m;
    m.url = d.target;
    m.body = d.payload;
    if (!master.empty()) m.signature = webhook_signature(member_webhook_secret(master, d.code), d.payload);
    m.idempotency_key = d.key;
    m.user_agent = rt.config.webhook.user_agent;
    d.result = co_await post_webhook(m, rt.config.webhook, rt.pools->names, timeout);
  } else {
    EmailMessage m;
    m.to = d.target;
    m.subject = d.subject;
    m.text = d.message;
    m.idempotency_key = d.key;
    d.result = co_await send_email(rt.config.smtp, rt.pools->names, m, timeout);
  }
  co_return;
}

// Runs every delivery concurrently and returns when all have finished (each has its own deadline).
awaitable<void> deliver_all(Runtime& rt, const std::string& master, std::vector<Claimed>& batch) {
  auto executor = co_await asio::this_coro::executor;
  auto remaining = std::make_shared<std::size_t>(batch.size());
  auto all_done = std::make_shared<asio::steady_timer>(executor, Clock::time_point::max());
  for (auto& d : batch) {
    asio::co_spawn(executor, deliver(rt, master, d), [remaining, all_done](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("delivery crashed: {}", ex.what());
        }
      }
      if (--*remaining == 0) all_done->cancel();
    });
  }
  if (*remaining > 0) {
    boost::system::error_code ec;
    co_await all_done->async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

class NotifyJob final : public Job {
 public:
  std::string name() const override { return "notify"; }
  bool history_when_idle() const override { return false; }

  awaitable<JobOutcome> run(JobContext& ctx) override {
    const auto& cfg = ctx.rt.config.jobs.notify;
    JobOutcome outcome;
    std::int64_t failed = 0, retried = 0;
    const int claim_seconds = cfg.timeout_seconds * 3 + 30;
    for (;;) {
      if (ctx.rt.stopping) {
        outcome.stopped = true;
        break;
      }
      co_await ctx.hold();
      auto rows = co_await ctx.sql("SELECT controller_id, delivery_id, controller_code, kind, target, idempotency_key, "
                                   "attempts, subject, message, payload FROM outreach.claim_deliveries($1, $2, $3)", ctx.rt.holder, cfg.batch_size, claim_seconds);
      if (rows.rows() == 0) break;
      co_await ctx.open_history();
      std::vector<Claimed> batch(rows.rows());
      for (int i = 0; i < rows.rows(); ++i) {
        auto& d = batch[i];
        d.controller_id = rows.text(i, 0);
        d.delivery_id = rows.text(i, 1);
        d.code = rows.text(i, 2);
        d.kind = rows.text(i, 3);
        d.target = rows.is_null(i, 4) ? "" : std::string(rows.text(i, 4));
        d.key = rows.text(i, 5);
        d.attempts = static_cast<int>(rows.int64(i, 6));
        d.subject = rows.text(i, 7);
        d.message = rows.text(i, 8);
        d.payload = rows.text(i, 9);
      }
      const std::string master = read_master_key(ctx.rt.config.webhook.secret_file);
      co_await deliver_all(ctx.rt, master, batch);
      for (auto& d : batch) {
        const int attempt = d.attempts + 1;
        pg::Param retry_after(std::nullopt);
        // The member reads `shown` (a coarse category, see deliver/delivery.hpp); the log has it all.
        std::string detail = d.result.shown;
        std::string logged = d.result.logged;
        const char* outcome_label = "ok";
        if (!d.result.ok) {
          if (d.result.permanent) {
            outcome_label = "failed";
          } else if (attempt >= cfg.max_attempts) {
            outcome_label = "failed";
            detail = fmt::format("gave up after {} attempts: {}", attempt, detail);
            logged = fmt::format("gave up after {} attempts: {}", attempt, logged);
          } else {
            outcome_label = "retry";
            double seconds = backoff_seconds(attempt, cfg.backoff_base_seconds, cfg.backoff_cap_seconds,
                                             ctx.rt.random_unit());
            retry_after = pg::Param(fmt::format("{:.3f}", seconds));
          }
        }
        ctx.rt.metrics.attempts[{d.kind, outcome_label}]++;
        if (d.result.ok) {
          ++outcome.rows;
          log::info("notify: delivered {} to {} of {} ({})", d.key, d.kind, d.code, logged);
        } else if (std::string_view(outcome_label) == "failed") {
          ++failed;
          log::warning("notify: {} to {} of {} failed for good: {}", d.key, d.kind, d.code, logged);
        } else {
          ++retried;
          log::info("notify: {} to {} of {} will be retried: {}", d.key, d.kind, d.code, logged);
        }
        std::vector<pg::Param> record{d.controller_id, d.delivery_id, ctx.rt.holder,
                                      std::string(d.result.ok ? "true" : "false"), detail, retry_after};
        co_await ctx.sql("SELECT outreach.record_delivery($1, $2, $3, $4, $5, $6)", record);
      }
    }
    auto counts = co_await ctx.sql("SELECT status, sum(deliveries) FROM outreach.delivery_counts() GROUP BY 1");
    ctx.rt.metrics.deliveries.clear();
    for (int i = 0; i < counts.rows(); ++i) ctx.rt.metrics.deliveries[std::string(counts.text(i, 0))] = counts.int64(i, 1);
    auto next = co_await ctx.sql("SELECT outreach.next_delivery_in()");
    if (!next.is_null(0, 0)) outcome.next_in_seconds = next.float64(0, 0);
    outcome.detail = fmt::format("{} delivered, {} to retry, {} failed for good", outcome.rows, retried, failed);
    outcome.idle = outcome.rows == 0 && retried == 0 && failed == 0;
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Job> make_notify_job() { return std::make_unique<NotifyJob>(); }

}  // namespace outreachd
