#include "core/hmac_sha256.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

using outreach::crypto::Digest;
using outreach::crypto::HmacSha256;

namespace {

std::string hex(const Digest &d, std::size_t bytes = 32) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (std::size_t i = 0; i < bytes; ++i) {
		out.push_back(digits[d[i] >> 4]);
		out.push_back(digits[d[i] & 15]);
	}
	return out;
}

std::string bytes_from(int first, int count) {
	std::string out;
	for (int i = 0; i < count; ++i)
		out.push_back(static_cast<char>(first + i));
	return out;
}

std::string mac_hex(const std::string &key, const std::string &message, std::size_t bytes = 32) {
	return hex(HmacSha256(key).digest(message), bytes);
}

}  // namespace

// RFC 4231, section 4.

TEST(HmacSha256, Rfc4231Case1) {
	EXPECT_EQ(mac_hex(std::string(20, '\x0b'), "Hi There"),
	          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256, Rfc4231Case2KeyShorterThanOutput) {
	EXPECT_EQ(mac_hex("Jefe", "what do ya want for nothing?"),
	          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, Rfc4231Case3) {
	EXPECT_EQ(mac_hex(std::string(20, '\xaa'), std::string(50, '\xdd')),
	          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

TEST(HmacSha256, Rfc4231Case4) {
	EXPECT_EQ(mac_hex(bytes_from(0x01, 25), std::string(50, '\xcd')),
	          "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

TEST(HmacSha256, Rfc4231Case5TruncatedTo128Bits) {
	EXPECT_EQ(mac_hex(std::string(20, '\x0c'), "Test With Truncation", 16), "a3b6167473100ee06e0c796c2955552b");
}

TEST(HmacSha256, Rfc4231Case6KeyLongerThanBlock) {
	EXPECT_EQ(mac_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
	          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, Rfc4231Case7KeyAndDataLongerThanBlock) {
	EXPECT_EQ(mac_hex(std::string(131, '\xaa'),
	                  "This is a test using a larger than block-size key and a larger than block-size data. "
	                  "The key needs to be hashed before being used by the HMAC algorithm."),
	          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

// Either side of the block size (64 bytes): a 64-byte key is used as is, a 65-byte one hashed.
// Expected values from Python's hmac module.

TEST(HmacSha256, KeyOfExactlyTheBlockSize) {
	EXPECT_EQ(mac_hex(bytes_from(0, 64), "block-size key"),
	          "1dad230598e011a4e4eabc6c8da8f55ef9a66a8881d1e16e23ea116ae28231ec");
}

TEST(HmacSha256, KeyOneByteLongerThanTheBlock) {
	EXPECT_EQ(mac_hex(bytes_from(0, 65), "block-size key"),
	          "d0b754c1861695b26bca3bd3a8581ef73f46ba28ada969cf73dbdb39d991eb2d");
}

TEST(HmacSha256, EmptyKeyAndMessage) {
	EXPECT_EQ(mac_hex("", ""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacSha256, DigestDoesNotConsumeTheKeyedState) {
	const HmacSha256 mac(std::string(20, '\x0b'));
	const Digest first = mac.digest("Hi There");
	(void)mac.digest("something else in between");
	EXPECT_EQ(mac.digest("Hi There"), first);
	EXPECT_EQ(hex(first), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256, CopyComputesTheSameMac) {
	const HmacSha256 original("Jefe");
	const HmacSha256 copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
	EXPECT_EQ(hex(copy.digest("what do ya want for nothing?")),
	          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
