#include "blocking.hpp"

#include <fmt/format.h>

#include <atomic>

namespace outreachd {
namespace {
std::atomic<int> in_flight{0};
}

int blocking_calls_in_flight() { return in_flight.load(); }

awaitable<void> run_blocking(asio::thread_pool& pool, const std::function<void()>& fn, Clock::time_point deadline,
                             std::string_view what, const KeepAlive& keep_alive) {
  // Shared with the worker; read and written on the loop's thread only (the worker posts back).
  struct State {
    bool done = false;
    std::exception_ptr error;
    asio::steady_timer* waiter = nullptr;  // null once the coroutine stopped waiting
  };
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<State>();
  const auto started = Clock::now();
  ++in_flight;
  asio::post(pool, [state, executor, fn = std::function<void()>(fn)]() mutable {
    std::exception_ptr error;
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
    fn = nullptr;  // what it captured goes now, on this thread, not later on the loop
    asio::post(executor, [state, error] {
      state->done = true;
      state->error = error;
      if (state->waiter) state->waiter->cancel();
    });
    --in_flight;
  });
  asio::steady_timer timer(executor);
  state->waiter = &timer;
  struct StopWaiting {
    State& s;
    ~StopWaiting() { s.waiter = nullptr; }
  } stop_waiting{*state};
  auto next_renewal = keep_alive.renew ? started + keep_alive.every : Clock::time_point::max();
  while (!state->done) {
    const auto now = Clock::now();
    if (now >= deadline)
      throw BlockingTimeout(fmt::format(
          "{} did not finish within {:.0f} s (a slow or hung disk or resolver); abandoned", what,
          std::chrono::duration<double>(deadline - started).count()));
    if (now >= next_renewal) {
      co_await keep_alive.renew();
      next_renewal = Clock::now() + keep_alive.every;
      continue;
    }
    timer.expires_at(std::min(deadline, next_renewal));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  if (state->error) std::rethrow_exception(state->error);
}

}  // namespace outreachd
