// Email over SMTP to a relay (RFC 5321): EHLO, STARTTLS when the relay offers it (or always /
// never, per smtp.starttls), MAIL FROM, RCPT TO, DATA. A whole exchange has one deadline.
// With "opportunistic" the relay's certificate is not verified (like a mail server's "may"
// policy: it protects against passive listeners only); "required" verifies it.
#include "deliver/delivery.hpp"
#include "deliver/resolve.hpp"

#include <boost/asio/ssl.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <ctime>

namespace outreachd {
using tcp = asio::ip::tcp;

namespace {

struct SmtpFailure : std::runtime_error {
  SmtpFailure(int code, const std::string& text) : std::runtime_error(text), code(code) {}
  int code;
};

struct Reply {
  int code = 0;
  std::string text;  // all lines
};

template <typename Stream>
awaitable<Reply> read_reply(Stream& stream, std::string& buffer) {
  Reply reply;
  for (;;) {
    std::size_t n = co_await asio::async_read_until(stream, asio::dynamic_buffer(buffer), "\r\n", use_awaitable);
    std::string line = buffer.substr(0, n - 2);
    buffer.erase(0, n);
    if (line.size() < 3) throw SmtpFailure(0, "malformed SMTP reply: " + line);
    reply.code = std::atoi(line.substr(0, 3).c_str());
    reply.text += (reply.text.empty() ? "" : " | ") + line;
    if (line.size() == 3 || line[3] == ' ') co_return reply;
  }
}

template <typename Stream>
awaitable<Reply> command(Stream& stream, std::string& buffer, const std::string& line, int expect_class) {
  co_await asio::async_write(stream, asio::buffer(line + "\r\n"), use_awaitable);
  Reply reply = co_await read_reply(stream, buffer);
  if (reply.code / 100 != expect_class) throw SmtpFailure(reply.code, reply.text);
  co_return reply;
}

std::string rfc5322_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

bool header_safe(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }

std::string message_text(const SmtpConfig& smtp, const EmailMessage& m) {
  std::string out = fmt::format(
      "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@outreachd>\r\n"
      "X-Outreach-Idempotency-Key: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\n",
      smtp.from, m.to, m.subject, rfc5322_date(), m.idempotency_key, m.idempotency_key);
  // Body: CRLF line ends, dot-stuffing (RFC 5321 4.5.2).
  std::size_t start = 0;
  while (start <= m.text.size()) {
    auto end = m.text.find('\n', start);
    std::string line = m.text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (end == std::string::npos && line.empty()) break;
    if (!line.empty() && line.front() == '.') out += '.';
    out += line + "\r\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  out += ".";
  return out;
}

std::string helo_name(const SmtpConfig& smtp) {
  if (!smtp.helo.empty()) return smtp.helo;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == 0) return "localhost";
  return host;
}

template <typename Stream>
awaitable<void> transaction(Stream& stream, std::string& buffer, const SmtpConfig& smtp, const EmailMessage& m) {
  co_await command(stream, buffer, "MAIL FROM:<" + smtp.from + ">", 2);
  co_await command(stream, buffer, "RCPT TO:<" + m.to + ">", 2);
  co_await command(stream, buffer, "DATA", 3);
  Reply done = co_await command(stream, buffer, message_text(smtp, m), 2);
  (void)done;
  boost::system::error_code ignored;
  co_await asio::async_write(stream, asio::buffer(std::string("QUIT\r\n")),
                             asio::redirect_error(use_awaitable, ignored));
}

}  // namespace

awaitable<DeliveryResult> send_email(const SmtpConfig& smtp, asio::thread_pool& names, const EmailMessage& m,
                                     std::chrono::seconds timeout) {
  if (m.to.empty() || m.to.find('@') == std::string::npos || !header_safe(m.to) ||
      m.to.find_first_of("<> ,;") != std::string::npos)
    {
      DeliveryResult r{false, true, "malformed email address", "malformed email address: " + m.to};
      co_return r;
    }
  if (!header_safe(m.subject)) {
      DeliveryResult r{false, true, "subject contains a line break", "subject contains a line break"};
      co_return r;
    }
  auto executor = co_await asio::this_coro::executor;
  const auto until = Clock::now() + timeout;
  // The relay's name comes from the service's configuration, not from members: no address
  // policy, but the lookup too is off the loop and within the deadline.
  const std::string port = std::to_string(smtp.port);
  Resolved relay = co_await resolve_host(names, smtp.host, port, until);
  if (!relay.error.empty()) {
    DeliveryResult r{false, false, shown::relay_unavailable, "SMTP: " + relay.error};
    co_return r;
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& a : relay.addresses) endpoints.push_back(endpoint_of(a, static_cast<unsigned short>(smtp.port)));
  tcp::socket socket(executor);
  // One deadline for the whole exchange: closing the socket ends any pending operation.
  struct State {
    bool expired = false;
    bool done = false;  // set before the frame goes: a late handler must not touch the socket
  };
  auto state = std::make_shared<State>();
  asio::steady_timer deadline(executor, until);
  deadline.async_wait([state, &socket](boost::system::error_code ec) {
    if (!ec && !state->done) {
      state->expired = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  std::string buffer;
  DeliveryResult result;
  try {
    co_await asio::async_connect(socket, endpoints, use_awaitable);
    Reply greeting = co_await read_reply(socket, buffer);
    if (greeting.code != 220) throw SmtpFailure(greeting.code, greeting.text);
    std::string helo = helo_name(smtp);
    Reply ehlo = co_await command(socket, buffer, "EHLO " + helo, 2);
    bool offers_tls = ehlo.text.find("STARTTLS") != std::string::npos;
    bool use_tls = smtp.starttls == StartTls::required || (smtp.starttls == StartTls::opportunistic && offers_tls);
    if (smtp.starttls == StartTls::required && !offers_tls)
      throw SmtpFailure(0, "relay does not offer STARTTLS (smtp.starttls = required)");
    if (use_tls) {
      co_await command(socket, buffer, "STARTTLS", 2);
      asio::ssl::context tls(asio::ssl::context::tls_client);
      if (smtp.starttls == StartTls::required) {
        tls.set_default_verify_paths();
        tls.set_verify_mode(asio::ssl::verify_peer);
      } else {
        tls.set_verify_mode(asio::ssl::verify_none);
      }
      asio::ssl::stream<tcp::socket&> secure(socket, tls);
      SSL_set_tlsext_host_name(secure.native_handle(), smtp.host.c_str());
      if (smtp.starttls == StartTls::required) secure.set_verify_callback(asio::ssl::host_name_verification(smtp.host));
      co_await secure.async_handshake(asio::ssl::stream_base::client, use_awaitable);
      buffer.clear();  // nothing read before TLS may be trusted after it (RFC 3207)
      co_await command(secure, buffer, "EHLO " + helo, 2);
      co_await transaction(secure, buffer, smtp, m);
      result = DeliveryResult{true, false, "SMTP 250 (STARTTLS)", "SMTP 250 (STARTTLS)"};
    } else {
      co_await transaction(socket, buffer, smtp, m);
      result = DeliveryResult{true, false, "SMTP 250", "SMTP 250"};
    }
  } catch (const SmtpFailure& e) {
    // 5xx: the relay refuses for good; 4xx and others: try again later. The member sees the
    // reply code only: the relay's text can name internal hosts.
    result = DeliveryResult{false, e.code >= 500, e.code > 0 ? fmt::format("SMTP {}", e.code) : shown::relay_unavailable,
                            std::string("SMTP ") + e.what()};
  } catch (const boost::system::system_error& e) {
    result = DeliveryResult{false, false, shown::relay_unavailable,
                            state->expired ? fmt::format("SMTP timeout after {} s", timeout.count())
                                           : "SMTP: " + e.code().message()};
  }
  state->done = true;
  deadline.cancel();
  boost::system::error_code ignored;
  socket.close(ignored);
  co_return result;
}

}  // namespace outreachd
