// Running a helper program (gpg) without blocking the event loop: posix_spawn, then wait on a
// pidfd (readable when the child exits) through Asio.
#pragma once
#include "asio.hpp"

#include <string>
#include <vector>

namespace outreachd {

struct ChildResult {
  int exit_code = -1;   // -1: killed by a signal or not started
  std::string error;    // why it could not start
};

awaitable<ChildResult> run_child(const std::vector<std::string>& argv, std::chrono::seconds timeout);

}  // namespace outreachd
