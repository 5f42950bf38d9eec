// One asynchronous libpq connection on the Asio event loop (the only place that touches libpq).
// Non-blocking connect (PQconnectStartParams + PQconnectPoll), queries with PQsendQueryParams,
// the socket waited on through an asio stream_descriptor (released before PQfinish and re-wrapped
// when libpq changes sockets while connecting), a deadline on every wait, and NOTIFY messages
// drained after every read and handed to a callback.
#pragma once
#include "asio.hpp"
#include "pg/result.hpp"

#include <libpq-fe.h>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace outreachd::pg {

// A failure: a server error (with its SQLSTATE), a timeout, or a lost connection.
class Error : public std::runtime_error {
 public:
  Error(std::string message, std::string sqlstate, bool connection_lost)
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)), lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool connection_lost() const { return lost_; }

 private:
  std::string sqlstate_;
  bool lost_;
};

struct Param {
  std::optional<std::string> value;  // nullopt: SQL NULL
  bool binary = false;               // e.g. a bytea sent as raw bytes
  Param(std::nullopt_t) {}
  Param(std::optional<std::string> v) : value(std::move(v)) {}
  Param(std::string v, bool bin = false) : value(std::move(v)), binary(bin) {}
  Param(const char* v) : value(std::string(v)) {}
  Param(std::int64_t v) : value(std::to_string(v)) {}
  Param(int v) : value(std::to_string(v)) {}
};

struct Notification {
  std::string channel;
  std::string payload;
};

struct ConnectOptions {
  std::string conninfo;             // empty: libpq's PG* environment variables
  int connect_timeout_seconds = 10;
  int statement_timeout_seconds = 300;
  std::string application_name = "outreachd";
};

class Connection {
 public:
  Connection(asio::any_io_executor executor, ConnectOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  awaitable<void> connect();
  // Runs one statement; throws Error on any failure (the connection is closed if it was lost).
  awaitable<Result> query(const std::string& sql, const std::vector<Param>& params = {},
                          Clock::duration timeout = std::chrono::seconds(300));
  // Waits until a notification arrives or the timeout passes (LISTEN connections).
  awaitable<void> wait_for_notifications(Clock::duration timeout);

  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
  // True while a transaction is open on the connection, an aborted one included.
  bool in_transaction() const { return connected() && PQtransactionStatus(conn_) != PQTRANS_IDLE; }
  void close();
  std::string describe() const;  // "host:port/db as user", never the password

  std::function<void(const Notification&)> on_notification;

 private:
  enum class Direction { read, write };
  awaitable<void> wait(Direction direction, Clock::time_point deadline);        // throws on timeout
  awaitable<bool> wait_ready(Direction direction, Clock::time_point deadline);  // false on timeout
  awaitable<void> flush(Clock::time_point deadline);
  awaitable<Result> collect(Clock::time_point deadline);
  void wrap_socket();
  void drain_notifications();
  [[noreturn]] void fail(const std::string& what);

  asio::any_io_executor executor_;
  ConnectOptions options_;
  PGconn* conn_ = nullptr;
  std::optional<asio::posix::stream_descriptor> socket_;
};

}  // namespace outreachd::pg
