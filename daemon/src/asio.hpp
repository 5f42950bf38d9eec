// One place that includes Boost.Asio for the daemon. Boost 1.74's awaitable.hpp uses
// std::exchange without including <utility>; including it first keeps every file compiling.
#pragma once
#include <utility>
#include <boost/asio.hpp>

namespace outreachd {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
}  // namespace outreachd
