// Export files expire: the sweep job removes the file and manifest of every export the
// recipient confirmed receiving more than the service's export_file_days ago
// (outreach.export_files_expired), in the directory it was written to (else the configured
// one), checked and overwritten as jobs/file_removal.hpp says, and records each removal
// (outreach.export_file_removed). A file that cannot be removed (not the export, a symbolic
// link, a directory not mounted) is left, logged and reported as the job's failure; the others
// are removed.
#include "jobs/export_expiry.hpp"

#include "jobs/export_file.hpp"
#include "jobs/file_removal.hpp"
#include "jobs/file_steps.hpp"
#include "log.hpp"

namespace outreachd {

awaitable<std::int64_t> remove_expired_exports(JobContext& ctx) {
  auto due = co_await ctx.sql("SELECT export_id, directory, file_name, sha256 FROM outreach.export_files_expired()");
  const std::string configured = ctx.rt.config.jobs.export_.directory;
  std::int64_t removed = 0;
  std::vector<std::string> failures;
  for (int i = 0; i < due.rows() && !ctx.rt.stopping; ++i) {
    const std::string id(due.text(i, 0));
    const std::string dir = due.opt_text(i, 1).value_or(configured);
    const std::string name(due.text(i, 2));
    const std::string sha(due.text(i, 3));
    std::string how;
    try {
      const std::function<std::string()> remove = [dir, name, sha] { return remove_export_file(dir, name, sha); };
      how = co_await file_call<std::string>(ctx, "removing an expired export file", remove);
    } catch (const LeaseLost&) {
      throw;
    } catch (const std::exception& e) {
      log::warning("sweep: export {} ({}/{}) expired but was not removed: {}", id, dir, name, e.what());
      failures.push_back(fmt::format("export {}: {}", id, e.what()));
      continue;
    }
    // Recorded before the manifest is looked at: the file is gone whatever happens to it.
    co_await ctx.sql("SELECT outreach.export_file_removed($1::bigint, $2)", id, how);
    if (how == "not_found")
      log::warning("sweep: export {} expired; {} was not in {} (removed by hand?)", id, name, dir);
    else
      log::info("sweep: export {} expired: {}/{} {}", id, dir, name, how);
    ++removed;
    try {
      const std::function<bool()> manifest = [dir, name] { return remove_manifest(dir, name + ".manifest.json"); };
      co_await file_call<bool>(ctx, "removing an expired export's manifest", manifest);
    } catch (const LeaseLost&) {
      throw;
    } catch (const std::exception& e) {
      log::warning("sweep: export {}: its manifest was not removed: {}", id, e.what());
      failures.push_back(fmt::format("export {} (manifest): {}", id, e.what()));
    }
  }
  if (!failures.empty()) {
    std::string all;
    for (const auto& f : failures) all += (all.empty() ? "" : "; ") + f;
    throw FileError(fmt::format("{} expired export files could not be removed ({} were): {}", failures.size(), removed, all));
  }
  co_return removed;
}

}  // namespace outreachd
