#include "core/signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace outreachd {

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length))
    throw std::runtime_error("HMAC-SHA256 failed");
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

std::string member_webhook_secret(std::string_view master_key, std::string_view member_code) {
  return hmac_sha256_hex(master_key, "outreach-webhook:" + std::string(member_code));
}

std::string webhook_signature(std::string_view member_secret, std::string_view body) {
  return "sha256=" + hmac_sha256_hex(member_secret, body);
}

std::optional<std::string> read_master_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  std::string key = content.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  return key;
}

}  // namespace outreachd
