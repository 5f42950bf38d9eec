// outreachd's configuration: a TOML file (docs/outreachd.md, "Configuration", lists every key
// with its default). Every key is optional; unknown keys and tables are errors so that a typo
// is not silently ignored. Errors name the file, line and key:
//   outreachd.toml:12: jobs.sweep.batch_size: must be between 1 and 1000000 (got 0)
// No password is ever accepted here (database.conninfo is checked), so this file and the
// daemon's logs never hold one.
#pragma once
#include "core/address_policy.hpp"
#include "core/cron.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace outreachd {

// The extension's default_version (extension/outreach.control), defined by daemon/CMakeLists.txt.
inline constexpr std::string_view outreachd_version = OUTREACH_VERSION;

class ConfigError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

enum class LogFormat { human, json };
enum class LogLevel { debug, info, warning, error };
enum class StartTls { opportunistic, required, never };

struct DatabaseConfig {
	std::string conninfo;  // empty: libpq's PG* environment variables apply
	int connect_timeout_seconds = 10;
	int statement_timeout_seconds = 300;
	int reconnect_max_seconds = 30;  // cap of the reconnect backoff
};

struct DaemonConfig {
	std::string name;  // empty: hostname:pid, decided at run time
	std::string timezone = "Europe/London";
	int lease_seconds = 30;
	int shutdown_grace_seconds = 30;
	LogFormat log_format = LogFormat::human;
	LogLevel log_level = LogLevel::info;
	int catch_up_seconds = 3600;
};

struct HttpConfig {
	std::string listen = "127.0.0.1:9187";  // empty: no HTTP endpoint
	std::string host = "127.0.0.1";         // parsed from listen, without IPv6 brackets
	int port = 9187;                        // 0 when disabled
	bool enabled() const { return !listen.empty(); }
};

struct BatchJobConfig {  // sweep, delete
	bool enabled = true;
	std::string schedule;
	int batch_size = 10000;
	CronExpr cron() const { return CronExpr::parse(schedule); }
};

struct NotifyJobConfig {
	bool enabled = true;
	std::string schedule = "*/5 * * * *";
	int batch_size = 100;
	int max_attempts = 12;
	int backoff_base_seconds = 5;
	int backoff_cap_seconds = 3600;
	int timeout_seconds = 10;
	CronExpr cron() const { return CronExpr::parse(schedule); }
};

struct EscalateJobConfig {
	bool enabled = true;
	std::string schedule = "0 9 * * 1-5";
	CronExpr cron() const { return CronExpr::parse(schedule); }
};

struct ExportJobConfig {
	bool enabled = true;
	std::string schedule = "0 6 20 11 *";
	std::string directory = "/var/lib/outreach/exports";
	std::vector<std::string> recipients;  // empty: every defined recipient
	int io_timeout_seconds = 600;  // one file step (a write, fsync, hashing, gpg) before the export fails
	CronExpr cron() const { return CronExpr::parse(schedule); }
};

struct JobsConfig {
	BatchJobConfig sweep{true, "30 1 * * *", 10000};
	BatchJobConfig delete_{true, "0 3 * * *", 10000};  // [jobs.delete]
	NotifyJobConfig notify;
	EscalateJobConfig escalate;
	ExportJobConfig export_;  // [jobs.export]
};

struct WebhookConfig {
	std::string secret_file;  // empty: webhook deliveries fail (they are never sent unsigned)
	std::string user_agent = "outreachd/" + std::string(outreachd_version);
	// Special-purpose networks (loopback, private, link-local ...) webhooks may reach anyway;
	// empty: public addresses only (members choose webhook URLs, see core/address_policy.hpp).
	std::vector<IpNetwork> allow_private_networks;
};

struct SmtpConfig {
	std::string host = "127.0.0.1";
	int port = 25;
	std::string from = "outreach@localhost";
	std::string helo;  // empty: the host name
	StartTls starttls = StartTls::opportunistic;
};

struct Config {
	DatabaseConfig database;
	DaemonConfig daemon;
	HttpConfig http;
	JobsConfig jobs;
	WebhookConfig webhook;
	SmtpConfig smtp;
};

// `source_name` prefixes error messages ("outreachd.toml"). Throws ConfigError.
Config parse_config(std::string_view text, std::string_view source_name);
// Reads and parses a file; an unreadable file is a ConfigError naming the path.
Config load_config(const std::string &path);

}  // namespace outreachd
