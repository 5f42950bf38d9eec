#include "core/signature.hpp"

#include <gtest/gtest.h>

using namespace outreachd;

// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
TEST(Signature, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, MemberSecretsDifferPerMemberAndAreStable) {
  const std::string master = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(member_webhook_secret(master, "alpha"), member_webhook_secret(master, "alpha"));
  EXPECT_NE(member_webhook_secret(master, "alpha"), member_webhook_secret(master, "beta"));
  EXPECT_NE(member_webhook_secret(master, "alpha"), member_webhook_secret(master + "x", "alpha"));
  EXPECT_EQ(member_webhook_secret(master, "alpha"), hmac_sha256_hex(master, "outreach-webhook:alpha"));
  EXPECT_EQ(member_webhook_secret(master, "alpha").size(), 64u);
}

TEST(Signature, HeaderValueIsOverTheExactBody) {
  const std::string secret = member_webhook_secret("k", "alpha");
  const std::string body = R"({"type":"deletion_notice","notice_id":1})";
  EXPECT_EQ(webhook_signature(secret, body), "sha256=" + hmac_sha256_hex(secret, body));
  EXPECT_NE(webhook_signature(secret, body), webhook_signature(secret, body + " "));
}
