// What every part of the running daemon shares: the configuration (replaced on SIGHUP), its
// name among several daemons, metrics, the stop flag, a random source for jitter and the worker
// threads for blocking calls.
#pragma once
#include "asio.hpp"
#include "blocking.hpp"
#include "core/config.hpp"
#include "core/zone.hpp"
#include "metrics.hpp"

#include <functional>
#include <memory>
#include <random>
#include <string>

namespace outreachd {

struct Runtime {
  asio::io_context& io;
  Config config;
  std::string config_path;  // empty: defaults and the environment only
  std::string holder;       // this daemon's name in leases and histories
  std::shared_ptr<const Zone> zone;
  Metrics metrics;
  bool stopping = false;
  std::mt19937_64 rng{std::random_device{}()};
  // Worker threads for blocking calls (blocking.hpp); joined before `io` goes (declared after it).
  std::shared_ptr<BlockingPools> pools = std::make_shared<BlockingPools>();

  double random_unit() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }
  static double wall_now();  // seconds since the epoch, for histories and metrics only
};

}  // namespace outreachd
