// HTTP(S) POST of a notice with Boost.Beast. TLS verifies the certificate and host name against
// the system's CA store. Redirects are not followed (a notice must reach the URL the member gave).
// The host is looked up off the event loop, and only public addresses (or networks the service
// allows) are connected to: members choose these URLs (core/address_policy.hpp).
#include "core/http_url.hpp"
#include "deliver/delivery.hpp"
#include "deliver/resolve.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include <ctime>

namespace outreachd {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string http_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

http::request<http::string_body> make_request(const HttpUrl& url, const WebhookMessage& m) {
  http::request<http::string_body> req{http::verb::post, url.target, 11};
  bool default_port = url.port == (url.tls ? "443" : "80");
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  req.set(http::field::host, default_port ? host : host + ":" + url.port);
  req.set(http::field::user_agent, m.user_agent);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::date, http_date());
  req.set("Idempotency-Key", m.idempotency_key);
  req.set("X-Outreach-Idempotency-Key", m.idempotency_key);
  req.set("X-Outreach-Signature", m.signature);
  req.body() = m.body;
  req.prepare_payload();
  return req;
}

DeliveryResult classify(unsigned status) {
  DeliveryResult r;
  r.shown = fmt::format("HTTP {}", status);
  if (status >= 200 && status < 300) {
    r.ok = true;
  } else if (status == 408 || status == 425 || status == 429 || status >= 500) {
    r.permanent = false;  // the receiver may recover
  } else {
    r.permanent = true;   // 3xx (not followed) and other 4xx: retrying sends the same request
    if (status >= 300 && status < 400) r.shown += " (redirects are not followed)";
  }
  r.logged = r.shown;
  return r;
}

// Connecting, TLS and the exchange failed: the member sees one category, and only when the
// attempt's deadline has passed, so that neither the text nor the time the attempt took tells
// a refused connection from a silent port or a TLS error.
awaitable<DeliveryResult> no_response(const std::string& why, Clock::time_point deadline) {
  asio::steady_timer wait(co_await asio::this_coro::executor, deadline);
  boost::system::error_code ignored;
  co_await wait.async_wait(asio::redirect_error(use_awaitable, ignored));
  DeliveryResult r{false, false, shown::no_response, why};
  co_return r;
}

template <typename Stream>
awaitable<unsigned> exchange(Stream& stream, http::request<http::string_body>& req) {
  co_await http::async_write(stream, req, use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);  // the answer is only looked at for its status
  co_await http::async_read(stream, buffer, parser, use_awaitable);
  co_return parser.get().result_int();
}

}  // namespace

awaitable<DeliveryResult> post_webhook(const WebhookMessage& message, const WebhookConfig& config,
                                       asio::thread_pool& names, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;  // one deadline for the lookup, connect and exchange
  std::string error;
  auto url = parse_http_url(message.url, error);
  if (!url) {
    std::string why = "malformed webhook URL: " + error;  // about the text the member wrote: safe to show
    DeliveryResult r{false, true, why, why};
    co_return r;
  }
  if (message.signature.empty()) {
    DeliveryResult r{false, false, "not sent: the service has no webhook signing key (webhook.secret_file)",
                     "no webhook secret configured (webhook.secret_file)"};
    co_return r;
  }
  // Every address the name has is judged; only those that pass are connected to, without a
  // second lookup (a DNS answer that changes in between cannot slip a private address in).
  Resolved resolved = co_await resolve_host(names, url->host, url->port, deadline);
  if (!resolved.error.empty()) {
    DeliveryResult r = co_await no_response(resolved.error, deadline);
    co_return r;
  }
  const auto port = static_cast<unsigned short>(std::stoi(url->port));
  std::vector<tcp::endpoint> endpoints;
  std::string refused;
  for (const auto& a : resolved.addresses) {
    if (auto why = webhook_refusal(a, config.allow_private_networks))
      refused += (refused.empty() ? "" : ", ") + a.text() + " (" + *why + ")";
    else
      endpoints.push_back(endpoint_of(a, port));
  }
  if (endpoints.empty()) {
    DeliveryResult r{false, true, shown::refused_by_policy,
                     fmt::format("refused by policy: {} resolves to {}, not allowed by webhook.allow_private_networks",
                                 url->host, refused)};
    co_return r;
  }
  auto executor = co_await asio::this_coro::executor;
  auto req = make_request(*url, message);
  std::string failure;
  try {
    if (!url->tls) {
      beast::tcp_stream stream(executor);
      stream.expires_at(deadline);
      co_await stream.async_connect(endpoints, use_awaitable);
      unsigned status = co_await exchange(stream, req);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      DeliveryResult r = classify(status);
      co_return r;
    }
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str())) {
      DeliveryResult r{false, false, shown::no_response, "TLS: cannot set the server name"};
      co_return r;
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(url->host));
    beast::get_lowest_layer(stream).expires_at(deadline);
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, use_awaitable);
    co_await stream.async_handshake(asio::ssl::stream_base::client, use_awaitable);
    unsigned status = co_await exchange(stream, req);
    DeliveryResult r = classify(status);
    co_return r;
  } catch (const boost::system::system_error& e) {
    failure = e.code() == beast::error::timeout ? fmt::format("HTTP: timeout after {} s", timeout.count())
                                                : "HTTP: " + e.code().message();
  } catch (const std::exception& e) {
    failure = std::string("HTTP: ") + e.what();
  }
  const std::string why = fmt::format("{} ({})", failure, message.url);
  DeliveryResult r = co_await no_response(why, deadline);
  co_return r;
}

}  // namespace outreachd
