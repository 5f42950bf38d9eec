// Blocking calls (export file writes, fsync, hashing a file, getaddrinfo) run on worker threads,
// never on the event loop's one thread: a slow disk or resolver must not stall /healthz, lease
// renewals or the other jobs. The calling coroutine waits without blocking the loop, up to a
// deadline; past it the call is abandoned (its thread finishes on its own, the result is dropped)
// and the caller gets BlockingTimeout. Workers touch only what their function owns (shared
// pointers, copies): no Asio object, no log, no database connection.
#pragma once
#include "asio.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace outreachd {

struct BlockingTimeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Separate pools, so that a member's slow DNS name cannot hold up export files, nor a hung
// disk the webhooks.
struct BlockingPools {
  asio::thread_pool files{2};
  asio::thread_pool names{4};
};

// Calls started and not yet finished (stuck in the kernel, possibly): at exit the daemon does
// not wait for them (main).
int blocking_calls_in_flight();

struct KeepAlive {  // while waiting: `renew` every `every` (a job's lease)
  std::function<awaitable<void>()> renew;
  Clock::duration every{};
};

// (Arguments by reference or view, and callers pass named objects: GCC 12 destroys some class
// temporaries inside a co_await expression twice.)
awaitable<void> run_blocking(asio::thread_pool& pool, const std::function<void()>& fn, Clock::time_point deadline,
                             std::string_view what, const KeepAlive& keep_alive);

// The same for a function with a result.
template <typename R>
awaitable<R> run_blocking_for(asio::thread_pool& pool, const std::function<R()>& fn, Clock::time_point deadline,
                              std::string_view what, const KeepAlive& keep_alive) {
  auto result = std::make_shared<std::optional<R>>();
  const std::function<void()> call = [result, fn] { result->emplace(fn()); };
  co_await run_blocking(pool, call, deadline, what, keep_alive);
  R value = std::move(**result);
  co_return value;
}

}  // namespace outreachd
