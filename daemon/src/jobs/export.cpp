// Linkage exports: for each recipient, the extension stages the eligible participants
// (export_begin), the daemon streams the CSV records (export_lines) into a hidden temporary file
// (mode 0600, SHA-256 on the way), fsyncs it, optionally encrypts it to the recipient's OpenPGP
// key with gpg, and only then calls export_finish, which writes the ledger and returns the
// manifest in one transaction. After that commit the manifest is written beside it, then the
// file renamed into place (a visible file always has its manifest). A crash before the commit
// leaves only a ".partial" file and no ledger rows (the next run abandons that export and writes
// a new one); a crash or a failure (disk full) after the commit is repaired by the next run (the
// finished export's checksum identifies the file).
//
// Every file step (create, write, fsync, hash, rename, the repair's scan) runs on the file
// workers (blocking.hpp), never on the event loop, within jobs.export.io_timeout_seconds, and
// the job's lease is renewed while it waits. A step that outlives its deadline fails the export
// like a full disk does (abandoned, ledger unchanged); the next run starts it again.
#include "blocking.hpp"
#include "jobs/child_process.hpp"
#include "jobs/export_file.hpp"
#include "jobs/file_removal.hpp"
#include "jobs/file_steps.hpp"
#include "jobs/job.hpp"
#include "log.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace outreachd {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Removes the throwaway gpg home however encrypt() ends (without a child process: with gpg
// missing from PATH, rm might be too).
struct RemoveTree {
  std::string path;
  ~RemoveTree() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Drops a file (closing it, and removing it unless kept) on a worker: on a hung disk even
// close() and unlink() block.
void release_on_worker(JobContext& ctx, std::shared_ptr<ExportFile>& file) {
  if (file) asio::post(ctx.rt.pools->files, [f = std::move(file)]() mutable { f.reset(); });
}

// Encrypts `plain` to `key` (an armoured public key) into `out` with gpg, in a throwaway home.
// `out` is created mode 0600 first (gpg --yes writes into it, keeping the mode; gpg would create
// it under the umask, e.g. 0644).
awaitable<void> encrypt(JobContext& ctx, const std::string& key, const std::string& plain, const std::string& out) {
  const std::function<std::string()> prepare = [key, out]() -> std::string {
    char home_template[] = "/tmp/outreachd-gpg-XXXXXX";
    const char* made = ::mkdtemp(home_template);
    if (!made) throw FileError("cannot create a temporary directory for gpg");
    const std::string dir = made;
    {
      std::ofstream k(dir + "/recipient.asc");
      k << key;
    }
    ::unlink(out.c_str());
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      const std::string why = std::strerror(errno);
      const RemoveTree cleanup{dir};
      throw FileError("cannot create " + out + ": " + why);
    }
    ::close(fd);
    return dir;
  };
  const std::string home = co_await file_call<std::string>(ctx, "preparing gpg", prepare);
  // Removed on a worker, however encrypt() ends (or with the pool's queue at exit).
  auto home_dir = std::shared_ptr<RemoveTree>(new RemoveTree{home}, [pools = ctx.rt.pools](RemoveTree* t) {
    asio::post(pools->files, [tree = std::unique_ptr<RemoveTree>(t)]() mutable { tree.reset(); });
  });
  const std::string key_file = home + "/recipient.asc";
  std::vector<std::string> argv{"gpg",  "--batch", "--quiet", "--yes", "--homedir", home, "--trust-model",
                                "always", "--recipient-file", key_file, "--output", out, "--encrypt", plain};
  ChildResult r = co_await run_child(argv, io_timeout(ctx));
  if (!r.error.empty()) throw FileError(r.error + " (install Debian's gnupg)");
  if (r.exit_code != 0)
    throw FileError(r.exit_code == -1 ? fmt::format("gpg did not finish within {} s (jobs.export.io_timeout_seconds) or was killed",
                                                    io_timeout(ctx).count())
                                      : "gpg could not encrypt the export (exit code " + std::to_string(r.exit_code) + ")");
  const std::function<void()> restrict_mode = [out] {
    if (::chmod(out.c_str(), 0600) != 0) throw FileError("cannot chmod " + out + ": " + std::strerror(errno));
  };
  co_await file_step(ctx, "chmod of the encrypted export", restrict_mode);
}

class ExportJob final : public Job {
 public:
  std::string name() const override { return "export"; }

  awaitable<JobOutcome> run(JobContext& ctx) override {
    const auto& cfg = ctx.rt.config.jobs.export_;
    const std::string dir = ctx.options.output_dir.value_or(cfg.directory);
    // Before anything is begun: the ledger stays as it was.
    const std::function<void()> check = [dir] { ExportFile::require_writable_directory(dir); };
    co_await file_step(ctx, "checking the export directory", check);
    std::vector<std::string> recipients;
    if (ctx.options.recreate) {
      // An earlier export sent again (its recipient's only): its records as they were sent.
      auto r = co_await ctx.sql("SELECT recipient FROM outreach.export WHERE export_id = $1::bigint", *ctx.options.recreate);
      if (r.rows() == 0) throw FileError("unknown export " + *ctx.options.recreate);
      recipients.emplace_back(r.text(0, 0));
    } else if (ctx.options.recipient) {
      recipients.push_back(*ctx.options.recipient);
    } else if (!cfg.recipients.empty()) {
      recipients = cfg.recipients;
    } else {
      auto r = co_await ctx.sql("SELECT name FROM outreach.recipient WHERE enabled ORDER BY name");
      for (int i = 0; i < r.rows(); ++i) recipients.emplace_back(r.text(i, 0));
    }
    co_await repair(ctx, dir);
    JobOutcome outcome;
    std::vector<std::string> written;
    // One recipient that cannot be exported (no layout yet, no key, a full disk) does not keep
    // the others from theirs; the run then fails, naming each recipient and why.
    std::vector<std::string> failures;
    for (const auto& recipient : recipients) {
      if (ctx.rt.stopping) {
        outcome.stopped = true;
        break;
      }
      std::string file;
      std::exception_ptr lost;
      try {
        file = co_await export_one(ctx, dir, recipient, outcome.rows);
      } catch (const pg::Error& e) {
        if (e.connection_lost() || !ctx.db.connected()) lost = std::current_exception();
        else failures.push_back(fmt::format("{}: {}{}", recipient, e.what(),
                                            e.sqlstate().empty() ? "" : " (SQLSTATE " + e.sqlstate() + ")"));
      } catch (const LeaseLost&) {
        lost = std::current_exception();
      } catch (const std::exception& e) {
        failures.push_back(fmt::format("{}: {}", recipient, e.what()));
      }
      if (lost) std::rethrow_exception(lost);
      if (!file.empty()) written.push_back(file);
    }
    if (!failures.empty()) {
      std::string all;
      for (const auto& f : failures) all += (all.empty() ? "" : "; ") + f;
      throw FileError(fmt::format("{} of {} recipients not exported ({} files written): {}", failures.size(),
                                  recipients.size(), written.size(), all));
    }
    outcome.detail = fmt::format("{} rows in {} files in {}", outcome.rows, written.size(), dir);
    for (const auto& f : written) outcome.detail += " " + f;
    co_return outcome;
  }

 private:
  awaitable<std::string> export_one(JobContext& ctx, const std::string& dir, const std::string& recipient,
                                    std::int64_t& rows_total) {
    // (Statements are named before the co_await: see blocking.hpp.)
    const std::string begin =
        ctx.options.recreate
            ? "SELECT export_id, file_name, row_count, pgp_public_key FROM outreach.export_begin_recreation($1::bigint)"
            : "SELECT export_id, file_name, row_count, pgp_public_key FROM outreach.export_begin($1)";
    const std::string begin_arg = ctx.options.recreate.value_or(recipient);
    auto begun = co_await ctx.sql(begin, begin_arg);
    const std::string id(begun.text(0, 0));
    const std::string file_name(begun.text(0, 1));
    const std::int64_t staged = begun.int64(0, 2);
    const auto key = begun.opt_text(0, 3);
    log::info("export: {} export {}: {} rows staged", recipient, id, staged);
    std::string failure;
    std::string manifest;
    std::shared_ptr<ExportFile> plain;
    bool in_transaction = false;  // stream_lines' transaction is open (to roll back on failure)
    try {
      // Encrypted exports never put the plain text under a name that could be taken for the file.
      const std::string name = key ? file_name + ".plain" : file_name;
      const std::function<std::shared_ptr<ExportFile>()> create = [dir, name] {
        return std::make_shared<ExportFile>(dir, name);
      };
      plain = co_await file_call<std::shared_ptr<ExportFile>>(ctx, "creating the export file", create);
      std::int64_t lines = co_await stream_lines(ctx, id, plain, in_transaction);
      const std::function<void()> sync = [file = plain] { file->finish_writing(); };
      co_await file_step(ctx, "fsync of the export file", sync);
      std::string sha = plain->sha256_hex();
      if (key) {
        const std::string encrypted = dir + "/" + ExportFile::temporary_name(file_name);
        co_await encrypt(ctx, *key, plain->temporary_path(), encrypted);
        const std::function<std::string()> hash = [encrypted] { return ExportFile::sha256_of_file(encrypted); };
        sha = co_await file_call<std::string>(ctx, "hashing the encrypted export", hash);
      }
      // The directory is recorded for the file's removal after delivery (57_export_files.sql).
      const std::string where = std::filesystem::absolute(dir).lexically_normal().string();
      auto finished = co_await ctx.sql("SELECT outreach.export_finish($1, $2, $3, $4)::text", id, sha, lines - 1, where);
      manifest = std::string(finished.scalar());
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      if (ctx.db.connected()) {
        try {
          // Only inside stream_lines' transaction: a failure after its COMMIT (fsync, gpg,
          // export_finish) has none to roll back.
          if (in_transaction) co_await ctx.sql("ROLLBACK");
          in_transaction = false;
          co_await ctx.sql("SELECT outreach.export_abandon($1, $2)", id, failure);
        } catch (const std::exception& e) {
          log::warning("export: could not record the abandoned export {}: {}", id, e.what());
        }
      }
      if (key) asio::post(ctx.rt.pools->files, [path = dir + "/" + ExportFile::temporary_name(file_name)] {
        ::unlink(path.c_str());
      });
      release_on_worker(ctx, plain);
      throw FileError(fmt::format("export of {} failed (export {} abandoned, ledger unchanged): {}", recipient, id,
                                  failure));
    }
    // Committed: the ledger says it was sent. The complete file stays (hidden) whatever happens
    // now; the manifest goes in place first, then the file, so that a visible file always has
    // its manifest. A failure from here on is completed by the next run (repair).
    if (!key) plain->keep();
    release_on_worker(ctx, plain);
    try {
      const std::function<void()> put_in_place = [dir, file_name, manifest] {
        ExportFile::write_atomically(dir, file_name + ".manifest.json", manifest + "\n");
        ExportFile::commit_existing(dir, file_name);
        // The directory holds exports: the sweep's removal of expired files relies on the mark.
        mark_export_directory(dir);
      };
      co_await file_step(ctx, "putting the export in place", put_in_place);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty())
      throw FileError(fmt::format("export {} of {} is finished (ledger written) but {} could not be put in place: {}; "
                                  "the next run puts it in place",
                                  id, recipient, file_name, failure));
    rows_total += staged;
    log::info("export: {} written: {} ({} rows)", recipient, file_name, staged);
    co_return file_name;
  }

  // Streams the export's records through a cursor (bounded memory), renewing the lease.
  awaitable<std::int64_t> stream_lines(JobContext& ctx, const std::string& id, std::shared_ptr<ExportFile> out,
                                       bool& in_transaction) {
    co_await ctx.sql("BEGIN");
    in_transaction = true;
    co_await ctx.sql("DECLARE outreach_export NO SCROLL CURSOR FOR SELECT l FROM outreach.export_lines($1) AS l", id);
    std::int64_t lines = 0;
    for (;;) {
      auto chunk = co_await ctx.sql("FETCH 20000 FROM outreach_export");
      if (chunk.rows() == 0) break;
      std::string bytes;
      for (int i = 0; i < chunk.rows(); ++i) {
        bytes += chunk.text(i, 0);
        bytes += "\r\n";
      }
      const std::function<void()> write = [out, bytes = std::move(bytes)] { out->write(bytes); };
      co_await file_step(ctx, "writing the export file", write);
      lines += chunk.rows();
      co_await ctx.hold();
    }
    co_await ctx.sql("COMMIT");
    in_transaction = false;
    co_return lines;
  }

  // After a crash: finished exports whose file was not yet renamed into place (or whose
  // manifest is missing) are completed; temporary files of unfinished exports are removed.
  awaitable<void> repair(JobContext& ctx, const std::string& dir) {
    auto finished = co_await ctx.sql(
        "SELECT file_name, sha256, manifest::text FROM outreach.export WHERE status = 'finished' "
        "AND finished_at > now() - interval '90 days' AND removed_at IS NULL");
    struct Finished {
      std::string name, sha, manifest;
    };
    std::vector<Finished> rows;
    for (int i = 0; i < finished.rows(); ++i)
      rows.push_back({std::string(finished.text(i, 0)), std::string(finished.text(i, 1)),
                      std::string(finished.text(i, 2))});
    // The scan runs on a worker; what it did comes back as lines for the log.
    const std::function<std::vector<std::string>()> scan = [dir, rows] {
      std::vector<std::string> done;
      std::set<std::string> keep;
      for (const auto& f : rows) {
        const std::string final_path = dir + "/" + f.name;
        const std::string temp = dir + "/" + ExportFile::temporary_name(f.name);
        const bool in_place = exists(final_path);
        const bool waiting = !in_place && exists(temp) && ExportFile::sha256_of_file(temp) == f.sha;
        if ((in_place || waiting) && !exists(final_path + ".manifest.json"))  // the manifest first, as export_one
          ExportFile::write_atomically(dir, f.name + ".manifest.json", f.manifest + "\n");
        if (waiting) {
          ExportFile::commit_existing(dir, f.name);
          done.push_back(fmt::format("completed {} (renamed after an interruption)", f.name));
        }
        keep.insert(ExportFile::temporary_name(f.name));
      }
      if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
          std::string entry = e->d_name;
          if (entry.size() > 9 && entry[0] == '.' && entry.compare(entry.size() - 8, 8, ".partial") == 0 &&
              !keep.count(entry)) {
            ::unlink((dir + "/" + entry).c_str());
            done.push_back(fmt::format("removed {} left by an interrupted export", entry));
          }
        }
        ::closedir(d);
      }
      return done;
    };
    const auto notes = co_await file_call<std::vector<std::string>>(ctx, "repairing the export directory", scan);
    for (const auto& n : notes) log::info("export: {}", n);
  }
};

}  // namespace

std::unique_ptr<Job> make_export_job() { return std::make_unique<ExportJob>(); }

}  // namespace outreachd
