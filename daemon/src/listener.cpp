#include "listener.hpp"

#include "core/backoff.hpp"
#include "log.hpp"

namespace outreachd {

static pg::ConnectOptions listen_options(const Runtime& rt) {
  pg::ConnectOptions o;
  o.conninfo = rt.config.database.conninfo;
  o.connect_timeout_seconds = rt.config.database.connect_timeout_seconds;
  o.statement_timeout_seconds = rt.config.database.statement_timeout_seconds;
  o.application_name = "outreachd listen";
  return o;
}

// What the extension makes: "outreach_" and 32 lower-case hex digits; nothing else is LISTENed to.
static bool valid_channel_name(const std::string& name) {
  constexpr std::string_view prefix = "outreach_";
  if (name.size() != prefix.size() + 32 || name.compare(0, prefix.size(), prefix) != 0) return false;
  for (std::size_t i = prefix.size(); i < name.size(); ++i)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return false;
  return true;
}

Listener::Listener(Runtime& rt, std::map<std::string, JobRunner*> runners)
    : rt_(rt), runners_(std::move(runners)), db_(rt.io.get_executor(), listen_options(rt)), backoff_timer_(rt.io) {
  db_.on_notification = [this](const pg::Notification& n) { dispatch(n); };
}

void Listener::wake(const std::string& job) {
  auto it = runners_.find(job);
  if (it != runners_.end()) it->second->wake();
}

void Listener::dispatch(const pg::Notification& n) {
  log::debug("notification on {}: {}", n.channel, n.payload);
  if (n.channel != channel_) return;
  if (n.payload == "deletion_confirmed") wake("delete");
  if (n.payload == "records_marked" || n.payload == "delivery_queued") wake("notify");
}

awaitable<void> Listener::loop() {
  int failures = 0;
  while (!rt_.stopping) {
    std::string problem;
    try {
      co_await db_.connect();
      auto name = co_await db_.query("SELECT outreach.service_channel()");
      channel_ = name.rows() == 1 && !name.is_null(0, 0) ? std::string(name.text(0, 0)) : std::string();
      if (!valid_channel_name(channel_)) throw pg::Error("outreach.service_channel() gave no valid channel name", "", false);
      co_await db_.query("LISTEN " + channel_);  // (checked: outreach_ and 32 hex digits)
      if (failures > 0) ++rt_.metrics.reconnects;  // (a server restart shows here first)
      if (failures > 0 || rt_.metrics.reconnects > 0) log::info("listener: connected to {}", db_.describe());
      failures = 0;
      rt_.metrics.database_up = true;
      // Notifications sent while we were away are lost: look for event-driven work once.
      // (Scheduled jobs keep their schedule: a restart must not start a sweep or an export.)
      wake("notify");
      wake("delete");
      auto last_ping = Clock::now();
      while (!rt_.stopping) {
        co_await db_.wait_for_notifications(std::chrono::seconds(1));
        if (Clock::now() - last_ping > std::chrono::seconds(10)) {  // notice a dead server promptly
          co_await db_.query("SELECT 1", std::vector<pg::Param>(), std::chrono::seconds(10));
          last_ping = Clock::now();
        }
      }
    } catch (const pg::Error& e) {
      problem = e.what();
    }
    if (!problem.empty()) {  // (co_await is not allowed in a handler)
      rt_.metrics.database_up = false;
      ++failures;
      double wait = backoff_seconds(failures, 0.5, rt_.config.database.reconnect_max_seconds, rt_.random_unit());
      log::warning("listener: database unavailable ({}); retrying in {:.1f} s", problem, wait);
      db_.close();
      backoff_timer_.expires_after(std::chrono::milliseconds(static_cast<long>(wait * 1000)));
      boost::system::error_code ec;
      co_await backoff_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }
  db_.close();
}

}  // namespace outreachd
