// A job's file steps (create, write, fsync, hash, rename, remove) run on the file workers
// (blocking.hpp), never on the event loop, within jobs.export.io_timeout_seconds, with the job's
// lease renewed while they wait. Used by the export job and by the sweep job's removal of
// expired export files.
#pragma once
#include "blocking.hpp"
#include "jobs/job.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

namespace outreachd {

inline std::chrono::seconds io_timeout(const JobContext& ctx) {
  return std::chrono::seconds(ctx.rt.config.jobs.export_.io_timeout_seconds);
}

// Renews the job's lease while a file step runs (a third of the lease, as a standby looks).
inline KeepAlive renew_lease(JobContext& ctx) {
  return {[&ctx] { return ctx.hold(); }, std::chrono::seconds(std::max(1, ctx.rt.config.daemon.lease_seconds / 3))};
}

// One file step on the file workers. `fn` must own what it touches (copies, shared pointers):
// after the deadline this coroutine is gone and the step may still be running. (Callers name
// their functions before the co_await: see blocking.hpp.)
inline awaitable<void> file_step(JobContext& ctx, const char* what, const std::function<void()>& fn) {
  const KeepAlive keep = renew_lease(ctx);
  co_await run_blocking(ctx.rt.pools->files, fn, Clock::now() + io_timeout(ctx), what, keep);
}

template <typename R>
awaitable<R> file_call(JobContext& ctx, const char* what, const std::function<R()>& fn) {
  const KeepAlive keep = renew_lease(ctx);
  R value = co_await run_blocking_for<R>(ctx.rt.pools->files, fn, Clock::now() + io_timeout(ctx), what, keep);
  co_return value;
}

}  // namespace outreachd
