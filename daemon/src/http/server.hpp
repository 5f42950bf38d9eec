// GET /healthz and GET /metrics on a loopback address (http.listen), with Boost.Beast.
#pragma once
#include "asio.hpp"
#include "runtime.hpp"

namespace outreachd {

// Binds now (so a bad address fails at start-up) and serves until rt.stopping.
class HttpServer {
 public:
  HttpServer(Runtime& rt, const std::string& host, int port);
  awaitable<void> serve();
  void stop();
  std::string address() const;

 private:
  awaitable<void> handle(asio::ip::tcp::socket socket);
  Runtime& rt_;
  asio::ip::tcp::acceptor acceptor_;
};

}  // namespace outreachd
