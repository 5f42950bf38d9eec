// outreachd: the companion daemon of the outreach extension. Arguments, signals and wiring; the
// work is in jobs/, the database connection in pg/, deliveries in deliver/.
#include "asio.hpp"
#include "core/config.hpp"
#include "core/signature.hpp"
#include "core/zone.hpp"
#include "http/server.hpp"
#include "import_member.hpp"
#include "import_outcomes.hpp"
#include "load_reference.hpp"
#include "jobs/runner.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "runtime.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

namespace outreachd {
namespace {

constexpr const char* usage = R"(Usage:
  outreachd [--config FILE] [run]               run the daemon (the default)
  outreachd [--config FILE] run-once JOB [--as-of YYYY-MM-DD]
                                                run one job now and exit: sweep, delete,
                                                notify, escalate, export
  outreachd [--config FILE] run-once export [--recipient NAME] [--output-dir DIR]
                                                write linkage export files now (all enabled
                                                recipients, or one; DIR overrides
                                                jobs.export.directory)
  outreachd [--config FILE] run-once export --recreate EXPORT_ID [--output-dir DIR]
                                                send an earlier export's records again, as
                                                they were sent (refused when one of them is
                                                no longer held, shareable or the same)
  outreachd [--config FILE] import --controller CODE --kind participants|activities|attendance
            [--date-format DD/MM/YYYY|MM/DD/YYYY|YYYY-MM-DD] [--database CONNINFO] FILE
                                                import a member's own file as the member's
                                                writer (the role of CONNINFO, else of PG*);
                                                lines not imported are listed on stdout
                                                (docs/import.md)
  outreachd [--config FILE] import-outcomes --recipient NAME FILE
                                                import an outcome file a recipient returned;
                                                lines not imported are listed on stdout
  outreachd [--config FILE] load-reference --kind onspd|polar4|tundra|imd
            [--vintage YYYY] [--index imd|wimd|simd|nimdm] FILE
                                                load a neighbourhood look-up file as published
                                                (docs/area_lookups.md); lines not loaded are
                                                listed on stdout
  outreachd [--config FILE] --check-config      check the configuration and exit
  outreachd [--config FILE] webhook-secret CODE print the webhook secret of member CODE
  outreachd --help | --version

Without --config the defaults apply and the database is found through libpq's environment
(PGHOST, PGPORT, PGDATABASE, PGUSER, PGSERVICE, PGPASSFILE ...). Passwords belong in a
.pgpass file or a service file, never on the command line or in the configuration.

Signals: SIGTERM/SIGINT finish the current batch and exit 0; SIGHUP reloads the configuration.
Exit codes: 0 success, 1 failure (a file refused whole), 2 bad usage or configuration,
3 import, import-outcomes or load-reference left some lines out (listed), 75 another daemon
holds the job.
Documentation: docs/outreachd.md
)";

struct Args {
  std::string config_path;
  std::string command = "run";
  std::string job;
  JobOptions options;
  ReferenceLoad reference;
  MemberImport member_import;
  bool check_config = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "outreachd: %s\nTry 'outreachd --help'.\n", message.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& name) -> std::string {
      auto eq = arg.find('=');
      if (eq != std::string::npos) return arg.substr(eq + 1);
      if (i + 1 >= argc) usage_error(name + " needs a value");
      return argv[++i];
    };
    auto is = [&](const std::string& name) { return arg == name || arg.rfind(name + "=", 0) == 0; };
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("outreachd %s\n", std::string(outreachd_version).c_str());
      std::exit(0);
    } else if (is("--config") || arg == "-c") {
      a.config_path = value("--config");
    } else if (arg == "--check-config") {
      a.check_config = true;
    } else if (is("--as-of")) {
      a.options.as_of = value("--as-of");
    } else if (is("--recipient")) {
      a.options.recipient = value("--recipient");
    } else if (is("--recreate")) {
      a.options.recreate = value("--recreate");
    } else if (is("--output-dir")) {
      a.options.output_dir = value("--output-dir");
    } else if (is("--controller")) {
      a.member_import.controller = value("--controller");
    } else if (is("--date-format")) {
      a.member_import.date_format = value("--date-format");
    } else if (is("--database")) {
      a.member_import.conninfo = value("--database");
    } else if (is("--kind")) {
      a.reference.kind = value("--kind");
    } else if (is("--vintage")) {
      a.reference.vintage = value("--vintage");
    } else if (is("--index")) {
      a.reference.index = value("--index");
    } else if (!arg.empty() && arg[0] == '-') {
      usage_error("unknown option '" + arg + "'");
    } else {
      positional.push_back(arg);
    }
  }
  if (!positional.empty()) a.command = positional[0];
  if (a.command == "run") {
    if (positional.size() > 1) usage_error("'run' takes no arguments");
  } else if (a.command == "run-once") {
    if (positional.size() != 2) usage_error("run-once needs one job: sweep, delete, notify, escalate or export");
    a.job = positional[1];
  } else if (a.command == "import") {
    if (positional.size() != 2) usage_error("import needs one FILE");
    if (a.member_import.controller.empty()) usage_error("import needs --controller CODE (the member)");
    if (a.reference.kind != "participants" && a.reference.kind != "activities" && a.reference.kind != "attendance")
      usage_error("import needs --kind participants, activities or attendance");
    a.member_import.kind = a.reference.kind;
    a.reference.kind.clear();
    a.member_import.path = positional[1];
  } else if (a.command == "import-outcomes") {
    if (positional.size() != 2) usage_error("import-outcomes needs one FILE");
    if (!a.options.recipient) usage_error("import-outcomes needs --recipient NAME");
    a.job = positional[1];
  } else if (a.command == "load-reference") {
    if (positional.size() != 2) usage_error("load-reference needs one FILE");
    if (a.reference.kind.empty()) usage_error("load-reference needs --kind onspd, polar4, tundra or imd");
    a.reference.path = positional[1];
  } else if (a.command == "webhook-secret") {
    if (positional.size() != 2) usage_error("webhook-secret needs a member code");
    a.job = positional[1];
  } else {
    usage_error("unknown command '" + a.command + "'");
  }
  if (a.command != "load-reference" && (!a.reference.kind.empty() || a.reference.vintage || a.reference.index))
    usage_error("--kind, --vintage and --index apply to load-reference");
  if (a.options.as_of && a.job != "sweep") usage_error("--as-of applies to run-once sweep only");
  if (a.command != "import" && (!a.member_import.controller.empty() || a.member_import.date_format || a.member_import.conninfo))
    usage_error("--controller, --date-format and --database apply to import");
  if ((a.options.recipient || a.options.output_dir) && a.job != "export" && a.command != "import-outcomes")
    usage_error("--recipient and --output-dir apply to run-once export (and --recipient to import-outcomes)");
  if (a.options.recreate) {
    if (a.command != "run-once" || a.job != "export") usage_error("--recreate applies to run-once export only");
    if (a.options.recipient) usage_error("--recreate sends the export's recipient its records again: no --recipient");
    const std::string& id = *a.options.recreate;
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
      usage_error("--recreate needs an export id (a number), not '" + id + "'");
  }
  return a;
}

Config load(const Args& a) {
  try {
    return a.config_path.empty() ? parse_config("", "(defaults)") : load_config(a.config_path);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "outreachd: %s\n", e.what());
    std::exit(2);
  }
}

void apply_logging(const Config& c) {
  auto level = static_cast<log::Level>(static_cast<int>(c.daemon.log_level));
  log::configure(level, c.daemon.log_format == LogFormat::json);
}

std::string default_holder() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
  return fmt::format("{}:{}", host, getpid());
}

std::unique_ptr<Job> make_job(const std::string& name) {
  if (name == "sweep") return make_sweep_job();
  if (name == "delete") return make_delete_job();
  if (name == "notify") return make_notify_job();
  if (name == "escalate") return make_escalate_job();
  if (name == "export") return make_export_job();
  return nullptr;
}

int webhook_secret(const Config& c, const std::string& code) {
  if (c.webhook.secret_file.empty()) {
    std::fprintf(stderr, "outreachd: webhook.secret_file is not set in the configuration\n");
    return 2;
  }
  auto key = read_master_key_file(c.webhook.secret_file);
  if (!key) {
    std::fprintf(stderr, "outreachd: cannot read %s\n", c.webhook.secret_file.c_str());
    return 1;
  }
  std::printf("%s\n", member_webhook_secret(*key, code).c_str());
  return 0;
}

}  // namespace

int run_main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  Config config = load(args);
  std::shared_ptr<const Zone> zone;
  try {
    zone = std::make_shared<SystemZone>(SystemZone::load(config.daemon.timezone));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outreachd: daemon.timezone: %s\n", e.what());
    return 2;
  }
  if (args.check_config) {
    std::printf("%s: configuration is valid\n", args.config_path.empty() ? "(defaults)" : args.config_path.c_str());
    return 0;
  }
  if (args.command == "webhook-secret") return webhook_secret(config, args.job);
  apply_logging(config);

  asio::io_context io(1);
  Runtime rt{io, config, args.config_path, config.daemon.name.empty() ? default_holder() : config.daemon.name, zone, {}};
  rt.metrics.started_at = Runtime::wall_now();

  if (args.command == "import") {
    int code = 1;
    asio::co_spawn(io, [&]() -> awaitable<void> { code = co_await import_member_file(rt, args.member_import); },
                   asio::detached);
    io.run();
    return code;
  }

  if (args.command == "import-outcomes") {
    int code = 1;
    asio::co_spawn(io, [&]() -> awaitable<void> { code = co_await import_outcomes(rt, *args.options.recipient, args.job); },
                   asio::detached);
    io.run();
    return code;
  }

  if (args.command == "load-reference") {
    int code = 1;
    asio::co_spawn(io, [&]() -> awaitable<void> { code = co_await load_reference(rt, args.reference); }, asio::detached);
    io.run();
    return code;
  }

  std::vector<std::unique_ptr<JobRunner>> runners;
  if (args.command == "run-once") {
    auto job = make_job(args.job);
    if (!job) usage_error("unknown job '" + args.job + "' (sweep, delete, notify, escalate, export)");
    runners.push_back(std::make_unique<JobRunner>(rt, std::move(job)));
  } else {
    for (const char* name : {"sweep", "delete", "notify", "escalate", "export"})
      runners.push_back(std::make_unique<JobRunner>(rt, make_job(name)));
  }

  std::unique_ptr<HttpServer> http;
  if (args.command == "run" && config.http.enabled()) {
    try {
      http = std::make_unique<HttpServer>(rt, config.http.host, config.http.port);
    } catch (const std::exception& e) {
      log::error("http.listen {}: {}", config.http.listen, e.what());
      return 1;
    }
  }
  std::map<std::string, JobRunner*> by_name;
  for (auto& r : runners) by_name[r->name()] = r.get();
  Listener listener(rt, by_name);

  // Signals: stop after the current batch (bounded by shutdown_grace_seconds), or reload.
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  asio::steady_timer grace(io);
  std::function<void()> watch_signals = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (rt.config_path.empty()) {
          log::info("SIGHUP: no configuration file to reload");
        } else {
          try {
            Config fresh = load_config(rt.config_path);
            auto fresh_zone = std::make_shared<SystemZone>(SystemZone::load(fresh.daemon.timezone));
            if (fresh.database.conninfo != rt.config.database.conninfo)
              log::warning("SIGHUP: database.conninfo changes take effect on the next reconnect");
            rt.config = fresh;
            rt.zone = fresh_zone;
            apply_logging(rt.config);
            log::info("SIGHUP: configuration reloaded from {}", rt.config_path);
          } catch (const std::exception& e) {
            log::error("SIGHUP: configuration not reloaded, keeping the old one: {}", e.what());
          }
        }
        watch_signals();
        return;
      }
      if (rt.stopping) return;
      log::info("{}: finishing the current batch, then exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      rt.stopping = true;
      for (auto& r : runners) r->stop();
      if (http) http->stop();
      grace.expires_after(std::chrono::seconds(rt.config.daemon.shutdown_grace_seconds));
      grace.async_wait([](boost::system::error_code ec) {
        if (ec) return;
        log::warning("shutdown grace period over: exiting with work in flight (the database rolls it back)");
        std::_Exit(0);
      });
      watch_signals();
    });
  };
  watch_signals();

  int exit_code = 0;
  if (args.command == "run-once") {
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          exit_code = co_await runners[0]->run_once(args.options,
                                                    std::chrono::seconds(rt.config.daemon.lease_seconds + 5));
          co_await runners[0]->release_lease();
          signals.cancel();
          grace.cancel();
        },
        asio::detached);
  } else {
    log::info("outreachd {} starting as {} (jobs: sweep, delete, notify, escalate, export{})", outreachd_version, rt.holder,
              http ? "; http on " + http->address() : "");
    auto remaining = std::make_shared<std::size_t>(runners.size() + 1);
    auto finished = [&, remaining]() -> awaitable<void> {
      if (--*remaining == 0) {
        for (auto& r : runners) co_await r->release_lease();
        signals.cancel();
        grace.cancel();
        log::info("stopped");
      }
    };
    for (auto& r : runners) {
      JobRunner* runner = r.get();
      asio::co_spawn(io, [runner, finished]() -> awaitable<void> {
        co_await runner->loop();
        co_await finished();
      }, asio::detached);
    }
    asio::co_spawn(io, [&listener, finished]() -> awaitable<void> {
      co_await listener.loop();
      co_await finished();
    }, asio::detached);
    if (http) asio::co_spawn(io, http->serve(), asio::detached);
  }
  io.run();
  // A blocking call abandoned at its deadline may still be stuck in the kernel (a hung disk):
  // its pool cannot be joined, so exit without waiting for it.
  if (const int stuck = blocking_calls_in_flight(); stuck > 0) {
    log::warning("exiting with {} abandoned blocking call(s) still running (a slow disk or resolver)", stuck);
    std::fflush(nullptr);
    std::_Exit(exit_code);
  }
  rt.pools->files.join();  // what was queued for the workers (removing temporary files) is done
  rt.pools->names.join();
  return exit_code;
}

}  // namespace outreachd

int main(int argc, char** argv) {
  try {
    return outreachd::run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outreachd: fatal: %s\n", e.what());
    return 1;
  }
}
