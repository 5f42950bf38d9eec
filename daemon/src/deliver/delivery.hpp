// Sending one message over one channel. Every outcome is a DeliveryResult, never an exception:
// the notify job records it and decides about retries.
#pragma once
#include "asio.hpp"
#include "core/config.hpp"

#include <chrono>
#include <string>

namespace outreachd {

struct DeliveryResult {
  bool ok = false;
  bool permanent = false;  // retrying cannot help (malformed URL, HTTP 4xx, address rejected)
  std::string detail;      // 'HTTP 200', 'timeout after 10 s', 'SMTP 550 ...'
};

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

awaitable<DeliveryResult> post_webhook(const WebhookMessage& message, std::chrono::seconds timeout);
awaitable<DeliveryResult> send_email(const SmtpConfig& smtp, const EmailMessage& message,
                                     std::chrono::seconds timeout);

}  // namespace outreachd
