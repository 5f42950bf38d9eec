#include "http/server.hpp"

#include "log.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace outreachd {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

HttpServer::HttpServer(Runtime& rt, const std::string& host, int port) : rt_(rt), acceptor_(rt.io) {
  tcp::endpoint endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
}

std::string HttpServer::address() const {
  auto e = acceptor_.local_endpoint();
  return fmt::format("{}:{}", e.address().to_string(), e.port());
}

void HttpServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

awaitable<void> HttpServer::serve() {
  while (!rt_.stopping) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (rt_.stopping || ec == asio::error::operation_aborted) break;
      continue;
    }
    asio::co_spawn(acceptor_.get_executor(), handle(std::move(socket)), asio::detached);
  }
}

awaitable<void> HttpServer::handle(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(10));
  beast::flat_buffer buffer;
  http::request<http::empty_body> req;
  boost::system::error_code ec;
  co_await http::async_read(stream, buffer, req, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  res.set(http::field::server, "outreachd");
  if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET");
    res.body() = "method not allowed\n";
  } else if (req.target() == "/healthz") {
    bool ok = rt_.metrics.database_up;
    res.result(ok ? http::status::ok : http::status::service_unavailable);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = ok ? "ok\n" : "database unreachable\n";
  } else if (req.target() == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = rt_.metrics.render();
  } else {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "not found: try /healthz or /metrics\n";
  }
  res.prepare_payload();
  co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace outreachd
