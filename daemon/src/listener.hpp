// The LISTEN connection: wakes jobs the moment work appears (a notice queued, a deletion
// confirmed) and tells /healthz whether the database is reachable. After a reconnect it wakes
// every job once, since notifications sent while it was away are lost. The channel's name is
// the service's secret (outreach.service_channel(), readable by outreach_daemon only), so no
// other role can listen in or wake the daemon; payloads are bare event names.
#pragma once
#include "asio.hpp"
#include "jobs/runner.hpp"
#include "pg/connection.hpp"
#include "runtime.hpp"

#include <map>

namespace outreachd {

class Listener {
 public:
  Listener(Runtime& rt, std::map<std::string, JobRunner*> runners);
  awaitable<void> loop();

 private:
  void dispatch(const pg::Notification& n);
  void wake(const std::string& job);

  Runtime& rt_;
  std::map<std::string, JobRunner*> runners_;
  pg::Connection db_;
  std::string channel_;  // read after each connect
  asio::steady_timer backoff_timer_;
};

}  // namespace outreachd
