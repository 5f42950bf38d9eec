#include "pg/connection.hpp"

#include "log.hpp"

#include <cstdlib>
#include <memory>

namespace outreachd::pg {

std::int64_t Result::int64(int row, int col) const {
  return is_null(row, col) ? 0 : std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}
double Result::float64(int row, int col) const {
  return is_null(row, col) ? 0.0 : std::strtod(PQgetvalue(r_.get(), row, col), nullptr);
}

Connection::Connection(asio::any_io_executor executor, ConnectOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

Connection::~Connection() { close(); }

void Connection::close() {
  if (socket_) {
    socket_->cancel();
    socket_->release();  // libpq owns the descriptor: PQfinish closes it
    socket_.reset();
  }
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

std::string Connection::describe() const {
  if (!conn_) return "(not connected)";
  const char* host = PQhost(conn_);
  return fmt::format("{}:{}/{} as {}", host ? host : "?", PQport(conn_), PQdb(conn_), PQuser(conn_));
}

void Connection::fail(const std::string& what) {
  std::string detail = conn_ ? PQerrorMessage(conn_) : "";
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  bool lost = !conn_ || PQstatus(conn_) == CONNECTION_BAD;
  if (lost) close();
  throw Error(detail.empty() ? what : what + ": " + detail, "", lost);
}

void Connection::wrap_socket() {
  int fd = PQsocket(conn_);
  if (socket_ && socket_->native_handle() == fd) return;
  if (socket_) {
    socket_->release();
    socket_.reset();
  }
  if (fd >= 0) socket_.emplace(executor_, fd);
}

awaitable<void> Connection::wait(Direction direction, Clock::time_point deadline) {
  const bool ready = co_await wait_ready(direction, deadline);
  if (!ready) {
    close();  // the statement may still run on the server; statement_timeout bounds it there
    throw Error("timed out waiting for the database", "", true);
  }
  co_return;
}

awaitable<bool> Connection::wait_ready(Direction direction, Clock::time_point deadline) {
  if (!socket_) fail("no socket");
  // The timer cancels the wait; the shared state tells a late timer handler to do nothing.
  struct State {
    bool done = false;
    bool timed_out = false;
  };
  auto state = std::make_shared<State>();
  asio::steady_timer timer(executor_, deadline);
  auto* socket = &*socket_;
  timer.async_wait([state, socket](boost::system::error_code ec) {
    if (!ec && !state->done) {
      state->timed_out = true;
      socket->cancel();
    }
  });
  boost::system::error_code ec;
  co_await socket_->async_wait(direction == Direction::read ? asio::posix::descriptor_base::wait_read
                                                            : asio::posix::descriptor_base::wait_write,
                               asio::redirect_error(use_awaitable, ec));
  state->done = true;
  timer.cancel();
  if (state->timed_out) co_return false;
  if (ec) {
    close();
    throw Error("waiting for the database: " + ec.message(), "", true);
  }
  co_return true;
}

awaitable<void> Connection::connect() {
  close();
  std::string timeout = std::to_string(options_.connect_timeout_seconds);
  std::string pg_options = fmt::format("-c statement_timeout={}s -c idle_in_transaction_session_timeout=60s",
                                       options_.statement_timeout_seconds);
  // Our defaults first; the DBA's conninfo last, so what they wrote wins (expand_dbname = 1).
  std::vector<const char*> keys = {"application_name", "target_session_attrs", "keepalives", "keepalives_idle",
                                   "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                                   "connect_timeout", "options"};
  std::vector<const char*> values = {options_.application_name.c_str(), "read-write", "1", "30", "10", "3",
                                     "30000", timeout.c_str(), pg_options.c_str()};
  if (!options_.conninfo.empty()) {
    keys.push_back("dbname");
    values.push_back(options_.conninfo.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectStartParams(keys.data(), values.data(), 1);
  if (!conn_) throw Error("out of memory starting a connection", "", true);
  if (PQstatus(conn_) == CONNECTION_BAD) fail("cannot connect");
  auto deadline = Clock::now() + std::chrono::seconds(options_.connect_timeout_seconds);
  PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
  for (;;) {
    wrap_socket();
    if (poll == PGRES_POLLING_READING) co_await wait(Direction::read, deadline);
    else if (poll == PGRES_POLLING_WRITING) co_await wait(Direction::write, deadline);
    poll = PQconnectPoll(conn_);
    if (poll == PGRES_POLLING_OK) break;
    if (poll == PGRES_POLLING_FAILED) fail("cannot connect");
  }
  wrap_socket();
  if (PQsetnonblocking(conn_, 1) != 0) fail("cannot make the connection non-blocking");
}

awaitable<void> Connection::flush(Clock::time_point deadline) {
  for (;;) {
    int r = PQflush(conn_);
    if (r == 0) co_return;
    if (r < 0) fail("sending to the database");
    co_await wait(Direction::write, deadline);
  }
}

void Connection::drain_notifications() {
  while (PGnotify* n = PQnotifies(conn_)) {
    Notification copy{n->relname, n->extra ? n->extra : ""};
    PQfreemem(n);
    if (on_notification) on_notification(copy);
  }
}

awaitable<Result> Connection::collect(Clock::time_point deadline) {
  Result last;
  std::optional<Error> error;
  for (;;) {
    while (PQisBusy(conn_)) {
      co_await wait(Direction::read, deadline);
      if (!PQconsumeInput(conn_)) fail("reading from the database");
      drain_notifications();
    }
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    Result result(r);
    ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      if (!error) error.emplace(primary ? primary : PQresultErrorMessage(r), state ? state : "", false);
    } else {
      last = result;
    }
  }
  drain_notifications();
  if (PQstatus(conn_) == CONNECTION_BAD) fail("connection lost");
  if (error) throw *error;
  co_return last;
}

awaitable<Result> Connection::query(const std::string& sql, const std::vector<Param>& params,
                                    Clock::duration timeout) {
  if (!connected()) throw Error("not connected", "", true);
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const auto& p : params) {
    values.push_back(p.value ? p.value->data() : nullptr);
    lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
    formats.push_back(p.binary ? 1 : 0);
  }
  auto deadline = Clock::now() + timeout;
  if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                         lengths.data(), formats.data(), 0))
    fail("sending a query");
  co_await flush(deadline);
  co_return co_await collect(deadline);
}

awaitable<void> Connection::wait_for_notifications(Clock::duration timeout) {
  if (!connected()) throw Error("not connected", "", true);
  drain_notifications();
  const bool ready = co_await wait_ready(Direction::read, Clock::now() + timeout);
  if (!ready) co_return;  // a quiet period
  if (!PQconsumeInput(conn_)) fail("reading from the database");
  drain_notifications();
}

}  // namespace outreachd::pg
