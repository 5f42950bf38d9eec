#include "hmac_sha256.hpp"

#include <openssl/crypto.h>

namespace outreach::crypto {

HmacSha256::HmacSha256(std::string_view key) {
	constexpr std::size_t block = SHA256_CBLOCK;  // 64 bytes
	std::uint8_t k[block] = {};
	if (key.size() > block) {
		SHA256(reinterpret_cast<const unsigned char *>(key.data()), key.size(), k);
	} else {
		for (std::size_t i = 0; i < key.size(); ++i)
			k[i] = static_cast<std::uint8_t>(key[i]);
	}
	std::uint8_t pad[block];
	for (std::size_t i = 0; i < block; ++i)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&inner_);
	SHA256_Update(&inner_, pad, block);
	for (std::size_t i = 0; i < block; ++i)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&outer_);
	SHA256_Update(&outer_, pad, block);
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(pad, sizeof pad);
}

HmacSha256::~HmacSha256() {
	OPENSSL_cleanse(&inner_, sizeof inner_);
	OPENSSL_cleanse(&outer_, sizeof outer_);
}

Digest HmacSha256::digest(std::string_view message) const {
	Digest inner_hash;
	SHA256_CTX ctx = inner_;
	SHA256_Update(&ctx, message.data(), message.size());
	SHA256_Final(inner_hash.data(), &ctx);
	ctx = outer_;
	SHA256_Update(&ctx, inner_hash.data(), inner_hash.size());
	Digest out;
	SHA256_Final(out.data(), &ctx);
	OPENSSL_cleanse(&ctx, sizeof ctx);
	return out;
}

}  // namespace outreach::crypto
