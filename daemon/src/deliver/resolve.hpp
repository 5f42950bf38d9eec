// Host name lookups with a deadline, off the event loop. getaddrinfo cannot be cancelled, and
// Asio's async_resolve runs every lookup on one private thread: one member's webhook host whose
// DNS never answers would queue every later lookup (other members', the SMTP relay's) behind
// it, with no deadline. Here each lookup runs on a small pool and the caller stops waiting at
// its deadline.
#pragma once
#include "asio.hpp"
#include "core/address_policy.hpp"

#include <string>
#include <vector>

namespace outreachd {

struct Resolved {
  std::vector<IpAddress> addresses;  // in getaddrinfo's order, without duplicates
  std::string error;                 // empty when addresses were found
};

// Never throws for a failed lookup: a timeout or a resolver error is in `error`.
awaitable<Resolved> resolve_host(asio::thread_pool& names, const std::string& host, const std::string& port,
                                 Clock::time_point deadline);

asio::ip::tcp::endpoint endpoint_of(const IpAddress& address, unsigned short port);

}  // namespace outreachd
