#include "jobs/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace outreachd {

awaitable<ChildResult> run_child(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  ChildResult result;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    result.error = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
    co_return result;
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    auto executor = co_await asio::this_coro::executor;
    asio::posix::stream_descriptor exited(executor, pidfd);  // owns and closes the pidfd
    asio::steady_timer deadline(executor, timeout);
    auto done = std::make_shared<bool>(false);
    deadline.async_wait([done, pid](boost::system::error_code ec) {
      if (!ec && !*done) ::kill(pid, SIGKILL);
    });
    boost::system::error_code ec;
    co_await exited.async_wait(asio::posix::descriptor_base::wait_read, asio::redirect_error(use_awaitable, ec));
    *done = true;
    deadline.cancel();
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  co_return result;
}

}  // namespace outreachd
