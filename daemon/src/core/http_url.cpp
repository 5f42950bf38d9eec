#include "core/http_url.hpp"

#include <cctype>

namespace outreachd {

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error) {
  HttpUrl out;
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) {
      error = "URL contains a space, control or non-ASCII character";
      return std::nullopt;
    }
  }
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    out.tls = true;
    rest = url.substr(8);
  } else {
    error = "URL must start with http:// or https://";
    return std::nullopt;
  }
  auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view tail = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    error = "URL must not contain credentials";
    return std::nullopt;
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated IPv6 address in URL";
      return std::nullopt;
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "unexpected text after the IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    error = "URL has no host";
    return std::nullopt;
  }
  for (char c : out.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_')) {
      error = "URL host contains an invalid character";
      return std::nullopt;
    }
  }
  if (!port.empty() || authority.find(':') != std::string_view::npos) {
    if (port.empty() || port.size() > 5) {
      error = "URL port must be a number between 1 and 65535";
      return std::nullopt;
    }
    long value = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        error = "URL port must be a number between 1 and 65535";
        return std::nullopt;
      }
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) {
      error = "URL port must be a number between 1 and 65535";
      return std::nullopt;
    }
    out.port = std::to_string(value);
  } else {
    out.port = out.tls ? "443" : "80";
  }
  auto hash = tail.find('#');
  tail = tail.substr(0, hash);
  out.target = tail.empty() ? "/" : (tail.front() == '?' ? "/" + std::string(tail) : std::string(tail));
  return out;
}

}  // namespace outreachd
