#include "deliver/resolve.hpp"

#include "blocking.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace outreachd {
namespace {

Resolved lookup(const std::string& host, const std::string& port) {
  Resolved r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    r.error = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return r;
  }
  for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
    IpAddress a;
    if (ai->ai_family == AF_INET) {
      std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
    } else if (ai->ai_family == AF_INET6) {
      a.v6 = true;
      std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::none_of(r.addresses.begin(), r.addresses.end(),
                     [&](const IpAddress& b) { return b.v6 == a.v6 && b.bytes == a.bytes; }))
      r.addresses.push_back(a);
  }
  ::freeaddrinfo(list);
  if (r.addresses.empty()) r.error = "cannot resolve " + host + ": no IPv4 or IPv6 address";
  return r;
}

}  // namespace

awaitable<Resolved> resolve_host(asio::thread_pool& names, const std::string& host, const std::string& port,
                                 Clock::time_point deadline) {
  std::string problem;
  try {
    const std::function<Resolved()> call = [host, port] { return lookup(host, port); };
    const std::string what = "the DNS lookup of " + host;
    const KeepAlive none;
    Resolved r = co_await run_blocking_for<Resolved>(names, call, deadline, what, none);
    co_return r;
  } catch (const BlockingTimeout& e) {
    problem = e.what();
  }
  Resolved r;
  r.error = problem;
  co_return r;
}

asio::ip::tcp::endpoint endpoint_of(const IpAddress& address, unsigned short port) {
  if (!address.v6) {
    asio::ip::address_v4::bytes_type b{};
    std::copy_n(address.bytes.begin(), 4, b.begin());
    return {asio::ip::address_v4(b), port};
  }
  asio::ip::address_v6::bytes_type b{};
  std::copy_n(address.bytes.begin(), 16, b.begin());
  return {asio::ip::address_v6(b), port};
}

}  // namespace outreachd
