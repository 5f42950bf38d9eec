#include "core/http_url.hpp"

#include <gtest/gtest.h>

using outreachd::parse_http_url;

namespace {
std::string reason(std::string_view url) {
  std::string error;
  auto parsed = parse_http_url(url, error);
  return parsed ? "parsed" : error;
}
}  // namespace

TEST(HttpUrl, DefaultsPortAndPathByScheme) {
  std::string error;
  auto u = parse_http_url("https://hooks.example.ac.uk", error);
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.example.ac.uk");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/");
  u = parse_http_url("http://127.0.0.1:8080/notices/deletion?member=abc#frag", error);
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/notices/deletion?member=abc");
  u = parse_http_url("http://example.org?x=1", error);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->target, "/?x=1");
}

TEST(HttpUrl, Ipv6Literal) {
  std::string error;
  auto u = parse_http_url("http://[::1]:9000/hook", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "9000");
  EXPECT_EQ(reason("http://[::1/hook"), "unterminated IPv6 address in URL");
}

TEST(HttpUrl, MalformedUrlsAreRefusedWithAReason) {
  EXPECT_EQ(reason("ftp://example.org/"), "URL must start with http:// or https://");
  EXPECT_EQ(reason("example.org/hook"), "URL must start with http:// or https://");
  EXPECT_EQ(reason("http:///path"), "URL has no host");
  EXPECT_EQ(reason("http://user:pw@example.org/"), "URL must not contain credentials");
  EXPECT_EQ(reason("http://example.org:0/"), "URL port must be a number between 1 and 65535");
  EXPECT_EQ(reason("http://example.org:65536/"), "URL port must be a number between 1 and 65535");
  EXPECT_EQ(reason("http://example.org:/"), "URL port must be a number between 1 and 65535");
  EXPECT_EQ(reason("http://example.org:8o/"), "URL port must be a number between 1 and 65535");
  EXPECT_EQ(reason("http://exa mple.org/"), "URL contains a space, control or non-ASCII character");
  EXPECT_EQ(reason("http://example.org/\r\nX-Injected: 1"), "URL contains a space, control or non-ASCII character");
  EXPECT_EQ(reason("http://exämple.org/"), "URL contains a space, control or non-ASCII character");
  EXPECT_EQ(reason("http://ex%61mple.org/"), "URL host contains an invalid character");
}
