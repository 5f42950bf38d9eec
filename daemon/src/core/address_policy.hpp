// Which addresses a member's webhook may reach. Members register webhook URLs through SQL, so
// without a check a member could make the daemon POST to the service's own network (loopback,
// private ranges, cloud metadata at 169.254.169.254): server-side request forgery. Every address
// a host name resolves to is classified here; the daemon connects only to addresses that pass,
// and never resolves the name a second time (so DNS rebinding cannot swap one in later).
// Pure logic: no I/O, no Asio.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outreachd {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4 bytes

  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  static std::optional<IpAddress> parse(std::string_view text);  // dotted quad or RFC 4291 text
  std::string text() const;
  // The IPv4 address an IPv6 address carries and reaches (::ffff:a.b.c.d, ::a.b.c.d, NAT64
  // 64:ff9b::a.b.c.d, 6to4 2002:AABB:CCDD::), if any.
  std::optional<IpAddress> embedded_v4() const;
};

struct IpNetwork {
  IpAddress base;
  int prefix = 0;
  bool contains(const IpAddress& a) const;
  // "10.0.0.0/8", "fd00::/8", or one address ("127.0.0.1" = /32); bits beyond the prefix must be 0.
  static std::optional<IpNetwork> parse(std::string_view text, std::string& error);
};

// Why an address is not an ordinary public unicast address ("loopback", "private (RFC 1918)",
// "link-local" ...), or nullopt when it is one.
std::optional<std::string> special_purpose(const IpAddress& a);

// Whether a webhook may connect to `a`: public addresses always, special-purpose ones only
// inside a network the service's configuration allows (webhook.allow_private_networks).
// Returns nullopt when allowed, else the reason for the daemon's log.
std::optional<std::string> webhook_refusal(const IpAddress& a, const std::vector<IpNetwork>& allowed);

}  // namespace outreachd
