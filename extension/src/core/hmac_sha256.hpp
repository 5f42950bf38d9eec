// HMAC-SHA256 (RFC 2104) with the keyed inner and outer SHA-256 states computed once per key,
// so each message costs two compression rounds and no allocation: pseudonymising millions of
// rows spends its time hashing, not setting up OpenSSL contexts.
//
// OpenSSL 3 deprecates the SHA256_* calls, but its EVP equivalent (keyed EVP_MD_CTX templates
// copied into a working context with EVP_MD_CTX_copy_ex) frees and allocates the provider's
// context on every copy before OpenSSL 3.5 (openssl/openssl#25703, #25726). Measured on
// OpenSSL 3.0.19 (Debian 12), one backend pseudonymising 1,000,000 rows: 552-570 ns of CPU a
// row with these calls, 862-1072 ns with EVP; EVP_MAC with a re-initialised or duplicated
// context is slower still. Revisit when the oldest supported OpenSSL reuses the context.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_CTX: the low-level API is the one that exposes midstates
#include <openssl/sha.h>

namespace outreach::crypto {

using Digest = std::array<std::uint8_t, 32>;

class HmacSha256 {
public:
	explicit HmacSha256(std::string_view key);
	~HmacSha256();
	HmacSha256(const HmacSha256 &) = default;
	HmacSha256 &operator=(const HmacSha256 &) = default;

	Digest digest(std::string_view message) const;

private:
	SHA256_CTX inner_;
	SHA256_CTX outer_;
};

}  // namespace outreach::crypto

#include "cpp_only.hpp"
