// Parsing a webhook URL (http or https only). Members type these; a malformed one must fail that
// member's deliveries with a clear reason, not crash or reach somewhere unintended.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace outreachd {

struct HttpUrl {
  bool tls = false;
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // "80" / "443" when absent
  std::string target;  // path and query, "/" when absent
};

// Returns the parsed URL, or nullopt with `error` set to the reason.
std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error);

}  // namespace outreachd
