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
  if (n.channel == "outreach_delivery") {
    wake("notify");
  } else if (n.channel == "outreach_retention") {
    if (n.payload.find("\"deletion_confirmed\"") != std::string::npos) wake("delete");
    if (n.payload.find("\"records_marked\"") != std::string::npos) wake("notify");
  } else if (n.channel == "outreach_linkage") {
    wake("notify");
  }
}

awaitable<void> Listener::loop() {
  int failures = 0;
  while (!rt_.stopping) {
    std::string problem;
    try {
      co_await db_.connect();
      co_await db_.query("LISTEN outreach_retention");
      co_await db_.query("LISTEN outreach_delivery");
      co_await db_.query("LISTEN outreach_linkage");
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
