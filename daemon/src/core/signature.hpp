// Webhook signatures. Each member's secret is derived from the daemon's one master key
// (HMAC-SHA256(master, "outreach-webhook:" + member code), as hex), so no per-member secret is
// stored in the database or in a table pg_dump copies; `outreachd webhook-secret CODE` prints
// a member's secret for the DBA to hand over. The body's signature is
// hex(HMAC-SHA256(member secret as ASCII, body)), sent as "X-Outreach-Signature: sha256=<hex>".
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace outreachd {

std::string hmac_sha256_hex(std::string_view key, std::string_view message);
std::string member_webhook_secret(std::string_view master_key, std::string_view member_code);
std::string webhook_signature(std::string_view member_secret, std::string_view body);
// The master key file's content without trailing line ends and spaces; nullopt if unreadable.
std::optional<std::string> read_master_key_file(const std::string& path);

}  // namespace outreachd
