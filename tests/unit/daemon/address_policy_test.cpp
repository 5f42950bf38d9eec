#include "core/address_policy.hpp"

#include <gtest/gtest.h>

using namespace outreachd;

namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) ADD_FAILURE() << "cannot parse " << text;
  return a.value_or(IpAddress{});
}

std::vector<IpNetwork> networks(std::initializer_list<const char*> texts) {
  std::vector<IpNetwork> out;
  for (auto t : texts) {
    std::string error;
    auto n = IpNetwork::parse(t, error);
    if (!n) ADD_FAILURE() << t << ": " << error;
    else out.push_back(*n);
  }
  return out;
}

std::string refusal(const char* text, const std::vector<IpNetwork>& allowed = {}) {
  return webhook_refusal(ip(text), allowed).value_or("allowed");
}

}  // namespace

TEST(AddressPolicy, PublicAddressesAreAllowed) {
  for (auto a : {"8.8.8.8", "1.1.1.1", "151.101.0.1", "100.63.255.255", "100.128.0.0", "172.15.255.255",
                 "172.32.0.0", "192.167.255.255", "169.253.0.1", "223.255.255.255", "2a00:1450:4009:81f::200e",
                 "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"})
    EXPECT_EQ(refusal(a), "allowed") << a;
}

TEST(AddressPolicy, EveryIPv4SpecialRangeIsRefusedAtBothEnds) {
  struct Case {
    const char *first, *last, *reason;
  };
  const Case cases[] = {
      {"0.0.0.0", "0.255.255.255", "'this network'"},
      {"10.0.0.0", "10.255.255.255", "private"},
      {"100.64.0.0", "100.127.255.255", "shared address space"},
      {"127.0.0.1", "127.255.255.255", "loopback"},
      {"169.254.0.0", "169.254.255.255", "link-local"},
      {"172.16.0.0", "172.31.255.255", "private"},
      {"192.168.0.0", "192.168.255.255", "private"},
      {"192.0.0.0", "192.0.0.255", "IETF"},
      {"192.0.2.0", "192.0.2.255", "documentation"},
      {"198.18.0.0", "198.19.255.255", "benchmarking"},
      {"224.0.0.0", "239.255.255.255", "multicast"},
      {"240.0.0.0", "255.255.255.254", "reserved"},
      {"255.255.255.255", "255.255.255.255", "broadcast"},
  };
  for (const auto& c : cases) {
    EXPECT_NE(refusal(c.first).find(c.reason), std::string::npos) << c.first << ": " << refusal(c.first);
    EXPECT_NE(refusal(c.last).find(c.reason), std::string::npos) << c.last << ": " << refusal(c.last);
  }
  EXPECT_EQ(refusal("169.254.169.254"), "link-local (cloud metadata services live here)");
}

TEST(AddressPolicy, IPv6SpecialRangesAndIPv4InsideIPv6AreRefused) {
  EXPECT_EQ(refusal("::"), "unspecified (::)");
  EXPECT_EQ(refusal("::1"), "loopback");
  EXPECT_EQ(refusal("fe80::1"), "link-local");
  EXPECT_EQ(refusal("febf:ffff::1"), "link-local");
  EXPECT_EQ(refusal("fc00::1"), "unique local (private)");
  EXPECT_EQ(refusal("fdff:ffff::1"), "unique local (private)");
  EXPECT_EQ(refusal("ff02::1"), "multicast");
  EXPECT_EQ(refusal("fec0::1"), "site-local (deprecated)");
  EXPECT_EQ(refusal("2001:db8::1"), "documentation");
  EXPECT_EQ(refusal("2001::1"), "IETF protocol assignments (Teredo and others)");
  EXPECT_EQ(refusal("100::1"), "discard-only");
  EXPECT_EQ(refusal("64:ff9b:1::1"), "NAT64 local use");
  // The same IPv4 targets written as IPv6: mapped, compatible, NAT64, 6to4.
  EXPECT_EQ(refusal("::ffff:127.0.0.1"), "loopback, inside an IPv6 address");
  EXPECT_EQ(refusal("::ffff:10.1.2.3"), "private (RFC 1918), inside an IPv6 address");
  EXPECT_EQ(refusal("::ffff:169.254.169.254"), "link-local (cloud metadata services live here), inside an IPv6 address");
  EXPECT_EQ(refusal("::ffff:0.0.0.0"), "'this network' (0.0.0.0/8), inside an IPv6 address");
  EXPECT_EQ(refusal("::127.0.0.1"), "loopback, inside an IPv6 address");
  EXPECT_EQ(refusal("64:ff9b::192.168.1.1"), "private (RFC 1918), inside an IPv6 address");
  EXPECT_EQ(refusal("2002:7f00:1::"), "loopback, inside an IPv6 address");
}

TEST(AddressPolicy, AllowedNetworksLetSpecialAddressesThroughAndNothingElse) {
  const auto allowed = networks({"127.0.0.1/32", "10.20.0.0/16", "fd12:3456::/32"});
  EXPECT_EQ(refusal("127.0.0.1", allowed), "allowed");
  EXPECT_EQ(refusal("::ffff:127.0.0.1", allowed), "allowed");  // the same address written as IPv6
  EXPECT_EQ(refusal("127.0.0.2", allowed), "loopback");
  EXPECT_EQ(refusal("10.20.255.1", allowed), "allowed");
  EXPECT_EQ(refusal("10.21.0.1", allowed), "private (RFC 1918)");
  EXPECT_EQ(refusal("fd12:3456:1::1", allowed), "allowed");
  EXPECT_EQ(refusal("fd12:3457::1", allowed), "unique local (private)");
  EXPECT_EQ(refusal("::1", allowed), "loopback");
  EXPECT_EQ(refusal("0.0.0.0", allowed), "'this network' (0.0.0.0/8)");  // 0.0.0.0 reaches the host itself
  EXPECT_EQ(refusal("169.254.169.254", networks({"0.0.0.0/0"})), "allowed");
  EXPECT_EQ(refusal("::1", networks({"0.0.0.0/0"})), "loopback");
}

TEST(AddressPolicy, NetworkParsing) {
  std::string error;
  auto n = IpNetwork::parse("192.168.1.0/24", error);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->prefix, 24);
  n = IpNetwork::parse("127.0.0.1", error);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->prefix, 32);
  n = IpNetwork::parse("fd00::/8", error);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->prefix, 8);
  EXPECT_FALSE(IpNetwork::parse("192.168.1.1/24", error));
  EXPECT_EQ(error, "host bits are set beyond the prefix (did you mean 192.168.1.0/24?)");
  EXPECT_FALSE(IpNetwork::parse("10.0.0.0/33", error));
  EXPECT_EQ(error, "prefix length must be 0 to 32");
  EXPECT_FALSE(IpNetwork::parse("10.0.0.0/", error));
  EXPECT_FALSE(IpNetwork::parse("10.0.0.0/-1", error));
  EXPECT_FALSE(IpNetwork::parse("localhost", error));
  EXPECT_FALSE(IpNetwork::parse("10.1/16", error));  // inet_aton's short forms are not accepted
  EXPECT_FALSE(IpNetwork::parse("::/129", error));
}

TEST(AddressPolicy, AddressText) {
  EXPECT_EQ(ip("::ffff:10.0.0.1").text(), "::ffff:10.0.0.1");
  EXPECT_EQ(ip("10.0.0.1").text(), "10.0.0.1");
  EXPECT_FALSE(IpAddress::parse("2130706433"));  // the resolver would take it; the policy sees 127.0.0.1 then
}
