// Sending one message over one channel. Every outcome is a DeliveryResult, never an exception:
// the notify job records it and decides about retries.
//
// What is recorded for the member (delivery_attempt.detail, notice_delivery.last_error) is a
// coarse category; the full reason goes to the daemon's log only. A member chooses its webhook
// URL, so precise errors ("connection refused" on one port, "timeout" on another, a TLS alert
// on a third) would let it map the network the daemon sits in.
#pragma once
#include "asio.hpp"
#include "core/config.hpp"

#include <chrono>
#include <string>

namespace outreachd {

struct DeliveryResult {
  bool ok = false;
  bool permanent = false;  // retrying cannot help (malformed URL, HTTP 4xx, address refused)
  std::string shown;       // for the member: 'HTTP 200', 'HTTP 503', one of the categories below
  std::string logged;      // for the daemon's log: the full reason
};

// The member-safe categories of failures that carry no HTTP or SMTP status.
namespace shown {
inline constexpr const char* no_response =
    "no response: could not connect, timed out or the connection failed (details in the service's log)";
inline constexpr const char* refused_by_policy =
    "refused by policy: the webhook's host is not at a public address (details in the service's log)";
inline constexpr const char* relay_unavailable = "mail relay unavailable (details in the service's log)";
}  // namespace shown

struct WebhookMessage {
  std::string url;
  std::string body;  // JSON
  std::string signature;
  std::string idempotency_key;
  std::string user_agent;
};

struct EmailMessage {
  std::string to;
  std::string subject;
  std::string text;
  std::string idempotency_key;
};

// `names` runs the host name lookups (deliver/resolve.hpp).
awaitable<DeliveryResult> post_webhook(const WebhookMessage& message, const WebhookConfig& config,
                                       asio::thread_pool& names, std::chrono::seconds timeout);
awaitable<DeliveryResult> send_email(const SmtpConfig& smtp, asio::thread_pool& names, const EmailMessage& message,
                                     std::chrono::seconds timeout);

}  // namespace outreachd
