#include "core/address_policy.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace outreachd {
namespace {

struct Range {
  const char* network;
  const char* reason;
};

// IANA's special-purpose registries (RFC 6890 and successors), the parts a webhook must not reach
// by default. Order matters only where ranges nest (broadcast before reserved).
constexpr Range v4_ranges[] = {
    {"0.0.0.0/8", "'this network' (0.0.0.0/8)"},
    {"10.0.0.0/8", "private (RFC 1918)"},
    {"100.64.0.0/10", "shared address space (carrier-grade NAT, RFC 6598)"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local (cloud metadata services live here)"},
    {"172.16.0.0/12", "private (RFC 1918)"},
    {"192.0.0.0/24", "IETF protocol assignments"},
    {"192.0.2.0/24", "documentation"},
    {"192.88.99.0/24", "6to4 relay anycast"},
    {"192.168.0.0/16", "private (RFC 1918)"},
    {"198.18.0.0/15", "benchmarking"},
    {"198.51.100.0/24", "documentation"},
    {"203.0.113.0/24", "documentation"},
    {"224.0.0.0/4", "multicast"},
    {"255.255.255.255/32", "broadcast"},
    {"240.0.0.0/4", "reserved"},
};

// :: and ::1 are judged first, then IPv6 forms that carry an IPv4 address (::ffff:0:0/96, ::/96,
// 64:ff9b::/96, 2002::/16) by that address (IpAddress::embedded_v4), then this table.
constexpr Range v6_ranges[] = {
    {"64:ff9b:1::/48", "NAT64 local use"},
    {"100::/64", "discard-only"},
    {"2001::/23", "IETF protocol assignments (Teredo and others)"},
    {"2001:db8::/32", "documentation"},
    {"fc00::/7", "unique local (private)"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local (deprecated)"},
    {"ff00::/8", "multicast"},
};

struct Special {
  IpNetwork network;
  std::string reason;
};

// The tables parsed once (thread-safe static initialisation); a bad entry throws at first use,
// which the unit tests catch.
template <std::size_t N>
std::vector<Special> parse_table(const Range (&table)[N]) {
  std::vector<Special> out;
  std::string error;
  for (const auto& r : table) out.push_back({IpNetwork::parse(r.network, error).value(), r.reason});
  return out;
}

const std::vector<Special>& v4_special() {
  static const std::vector<Special> table = parse_table(v4_ranges);
  return table;
}

const std::vector<Special>& v6_special() {
  static const std::vector<Special> table = parse_table(v6_ranges);
  return table;
}

bool prefix_equal(const IpAddress& a, const IpAddress& b, int prefix) {
  for (int i = 0; prefix > 0; ++i, prefix -= 8) {
    const std::uint8_t mask = prefix >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - prefix));
    if ((a.bytes[i] & mask) != (b.bytes[i] & mask)) return false;
  }
  return true;
}

bool all_zero(const IpAddress& a, int from, int to) {
  return std::all_of(a.bytes.begin() + from, a.bytes.begin() + to, [](std::uint8_t b) { return b == 0; });
}

}  // namespace

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress r;
  r.bytes[0] = a;
  r.bytes[1] = b;
  r.bytes[2] = c;
  r.bytes[3] = d;
  return r;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string s(text);
  IpAddress r;
  if (inet_pton(AF_INET, s.c_str(), r.bytes.data()) == 1) return r;
  r.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), r.bytes.data()) == 1) return r;
  return std::nullopt;
}

std::string IpAddress::text() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddress> IpAddress::embedded_v4() const {
  if (!v6) return std::nullopt;
  const auto& b = bytes;
  auto tail = [&](int at) { return IpAddress::v4(b[at], b[at + 1], b[at + 2], b[at + 3]); };
  if (all_zero(*this, 0, 10) && b[10] == 0xff && b[11] == 0xff) return tail(12);  // ::ffff:a.b.c.d
  if (all_zero(*this, 0, 12) && !all_zero(*this, 12, 15)) return tail(12);        // ::a.b.c.d (not ::, ::1)
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && all_zero(*this, 4, 12)) return tail(12);
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);  // 6to4
  return std::nullopt;
}

bool IpNetwork::contains(const IpAddress& a) const { return a.v6 == base.v6 && prefix_equal(a, base, prefix); }

std::optional<IpNetwork> IpNetwork::parse(std::string_view text, std::string& error) {
  const auto slash = text.find('/');
  const auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    error = "not an IP address or network (e.g. \"10.1.2.0/24\", \"fd00::/8\", \"127.0.0.1\")";
    return std::nullopt;
  }
  const int bits = address->v6 ? 128 : 32;
  IpNetwork n{*address, bits};
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(p)) > bits) {
      error = "prefix length must be 0 to " + std::to_string(bits);
      return std::nullopt;
    }
    n.prefix = std::stoi(std::string(p));
  }
  IpAddress masked = n.base;
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(n.prefix - 8 * i, 0, 8);
    masked.bytes[i] &= static_cast<std::uint8_t>(0xff00 >> keep);
  }
  if (masked.bytes != n.base.bytes) {
    error = "host bits are set beyond the prefix (did you mean " + masked.text() + "/" + std::to_string(n.prefix) + "?)";
    return std::nullopt;
  }
  return n;
}

std::optional<std::string> special_purpose(const IpAddress& a) {
  if (!a.v6) {
    for (const auto& s : v4_special())
      if (s.network.contains(a)) return s.reason;
    return std::nullopt;
  }
  if (all_zero(a, 0, 15) && a.bytes[15] <= 1) return a.bytes[15] == 0 ? "unspecified (::)" : "loopback";
  if (auto v4 = a.embedded_v4()) {
    if (auto why = special_purpose(*v4)) return *why + ", inside an IPv6 address";
    return std::nullopt;
  }
  for (const auto& s : v6_special())
    if (s.network.contains(a)) return s.reason;
  return std::nullopt;
}

std::optional<std::string> webhook_refusal(const IpAddress& a, const std::vector<IpNetwork>& allowed) {
  auto why = special_purpose(a);
  if (!why) return std::nullopt;
  const auto v4 = a.embedded_v4();
  for (const auto& n : allowed)
    if (n.contains(a) || (v4 && n.contains(*v4))) return std::nullopt;
  return *why;
}

}  // namespace outreachd
