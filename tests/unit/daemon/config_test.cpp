#include "core/config.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace outreachd;
using outreachd::test::message_of;

namespace {

std::string error(const std::string &text) {
	return message_of<ConfigError>([&] { parse_config(text, "outreachd.toml"); });
}

// "[table]\nkey = value\n...": the value is on line 2.
std::string error_in(const std::string &table, const std::string &key, const std::string &value,
                     const std::string &also = "") {
	return error("[" + table + "]\n" + key + " = " + value + "\n" + also + "\n");
}

struct IntegerKey {
	const char *table, *key;
	int min, max;
	const char *also = "";  // another setting needed for the bounds to be valid
};

constexpr IntegerKey integer_keys[] = {
    {"database", "connect_timeout_seconds", 1, 300},
    {"database", "statement_timeout_seconds", 1, 86400},
    {"database", "reconnect_max_seconds", 1, 3600},
    {"daemon", "lease_seconds", 5, 3600},
    {"daemon", "shutdown_grace_seconds", 1, 3600},
    {"daemon", "catch_up_seconds", 60, 604800},
    {"jobs.sweep", "batch_size", 1, 1000000},
    {"jobs.delete", "batch_size", 1, 1000000},
    {"jobs.notify", "batch_size", 1, 10000},
    {"jobs.notify", "max_attempts", 1, 1000},
    {"jobs.notify", "backoff_base_seconds", 1, 86400, "backoff_cap_seconds = 604800"},
    {"jobs.notify", "backoff_cap_seconds", 1, 604800, "backoff_base_seconds = 1"},
    {"jobs.notify", "timeout_seconds", 1, 300},
    {"jobs.export", "io_timeout_seconds", 1, 86400},
    {"smtp", "port", 1, 65535},
};

}  // namespace

// ---- Defaults ---------------------------------------------------------------------------------

TEST(Config, EveryDefault) {
	const Config c = parse_config("", "outreachd.toml");
	EXPECT_EQ(c.database.conninfo, "");
	EXPECT_EQ(c.database.connect_timeout_seconds, 10);
	EXPECT_EQ(c.database.statement_timeout_seconds, 300);
	EXPECT_EQ(c.database.reconnect_max_seconds, 30);
	EXPECT_EQ(c.daemon.name, "");
	EXPECT_EQ(c.daemon.timezone, "Europe/London");
	EXPECT_EQ(c.daemon.lease_seconds, 30);
	EXPECT_EQ(c.daemon.shutdown_grace_seconds, 30);
	EXPECT_EQ(c.daemon.log_format, LogFormat::human);
	EXPECT_EQ(c.daemon.log_level, LogLevel::info);
	EXPECT_EQ(c.daemon.catch_up_seconds, 3600);
	EXPECT_EQ(c.http.listen, "127.0.0.1:9187");
	EXPECT_TRUE(c.http.enabled());
	EXPECT_EQ(c.http.host, "127.0.0.1");
	EXPECT_EQ(c.http.port, 9187);
	EXPECT_TRUE(c.jobs.sweep.enabled);
	EXPECT_EQ(c.jobs.sweep.schedule, "30 1 * * *");
	EXPECT_EQ(c.jobs.sweep.batch_size, 10000);
	EXPECT_TRUE(c.jobs.delete_.enabled);
	EXPECT_EQ(c.jobs.delete_.schedule, "0 3 * * *");
	EXPECT_EQ(c.jobs.delete_.batch_size, 10000);
	EXPECT_TRUE(c.jobs.notify.enabled);
	EXPECT_EQ(c.jobs.notify.schedule, "*/5 * * * *");
	EXPECT_EQ(c.jobs.notify.batch_size, 100);
	EXPECT_EQ(c.jobs.notify.max_attempts, 12);
	EXPECT_EQ(c.jobs.notify.backoff_base_seconds, 5);
	EXPECT_EQ(c.jobs.notify.backoff_cap_seconds, 3600);
	EXPECT_EQ(c.jobs.notify.timeout_seconds, 10);
	EXPECT_TRUE(c.jobs.escalate.enabled);
	EXPECT_EQ(c.jobs.escalate.schedule, "0 9 * * 1-5");
	EXPECT_TRUE(c.jobs.export_.enabled);
	EXPECT_EQ(c.jobs.export_.schedule, "0 6 20 11 *");
	EXPECT_EQ(c.jobs.export_.directory, "/var/lib/outreach/exports");
	EXPECT_TRUE(c.jobs.export_.recipients.empty());
	EXPECT_EQ(c.jobs.export_.io_timeout_seconds, 600);
	EXPECT_EQ(c.webhook.secret_file, "");
	EXPECT_TRUE(c.webhook.allow_private_networks.empty());  // webhooks reach public addresses only
	EXPECT_EQ(c.webhook.user_agent, "outreachd/" + std::string(outreachd_version));
	EXPECT_EQ(c.smtp.host, "127.0.0.1");
	EXPECT_EQ(c.smtp.port, 25);
	EXPECT_EQ(c.smtp.from, "outreach@localhost");
	EXPECT_EQ(c.smtp.helo, "");
	EXPECT_EQ(c.smtp.starttls, StartTls::opportunistic);
	// Every default schedule parses.
	EXPECT_NO_THROW((c.jobs.sweep.cron(), c.jobs.delete_.cron(), c.jobs.notify.cron(), c.jobs.escalate.cron(),
	                 c.jobs.export_.cron()));
}

TEST(Config, EveryKeySet) {
	const Config c = parse_config(R"(
[database]
conninfo = "service=outreach"
connect_timeout_seconds = 5
statement_timeout_seconds = 600
reconnect_max_seconds = 60

[daemon]
name = "db2-outreachd"
timezone = "UTC"
lease_seconds = 60
shutdown_grace_seconds = 10
log_format = "json"
log_level = "debug"
catch_up_seconds = 7200

[http]
listen = "[::1]:9999"

[jobs.sweep]
enabled = false
schedule = "0 2 * * *"
batch_size = 500

[jobs.delete]
enabled = false
schedule = "0 4 * * *"
batch_size = 1000000

[jobs.notify]
enabled = false
schedule = "* * * * *"
batch_size = 10000
max_attempts = 3
backoff_base_seconds = 10
backoff_cap_seconds = 10
timeout_seconds = 30

[jobs.escalate]
enabled = false
schedule = "0 10 * * MON"

[jobs.export]
enabled = false
schedule = "@yearly"
directory = "/srv/exports"
recipients = ["hesa", "tracker"]

[webhook]
secret_file = "/etc/outreachd/webhook.key"
user_agent = "outreach-test/1"
allow_private_networks = ["10.20.0.0/16", "fd00::/8", "127.0.0.1"]

[smtp]
host = "mail.example.org"
port = 587
from = "noreply@example.org"
helo = "db2.example.org"
starttls = "required"
)",
	                              "outreachd.toml");
	EXPECT_EQ(c.database.conninfo, "service=outreach");
	EXPECT_EQ(c.database.connect_timeout_seconds, 5);
	EXPECT_EQ(c.database.statement_timeout_seconds, 600);
	EXPECT_EQ(c.database.reconnect_max_seconds, 60);
	EXPECT_EQ(c.daemon.name, "db2-outreachd");
	EXPECT_EQ(c.daemon.timezone, "UTC");
	EXPECT_EQ(c.daemon.lease_seconds, 60);
	EXPECT_EQ(c.daemon.shutdown_grace_seconds, 10);
	EXPECT_EQ(c.daemon.log_format, LogFormat::json);
	EXPECT_EQ(c.daemon.log_level, LogLevel::debug);
	EXPECT_EQ(c.daemon.catch_up_seconds, 7200);
	EXPECT_EQ(c.http.host, "::1");
	EXPECT_EQ(c.http.port, 9999);
	EXPECT_FALSE(c.jobs.sweep.enabled);
	EXPECT_EQ(c.jobs.sweep.schedule, "0 2 * * *");
	EXPECT_EQ(c.jobs.sweep.batch_size, 500);
	EXPECT_FALSE(c.jobs.delete_.enabled);
	EXPECT_EQ(c.jobs.delete_.schedule, "0 4 * * *");
	EXPECT_EQ(c.jobs.delete_.batch_size, 1000000);
	EXPECT_FALSE(c.jobs.notify.enabled);
	EXPECT_EQ(c.jobs.notify.schedule, "* * * * *");
	EXPECT_EQ(c.jobs.notify.batch_size, 10000);
	EXPECT_EQ(c.jobs.notify.max_attempts, 3);
	EXPECT_EQ(c.jobs.notify.backoff_base_seconds, 10);
	EXPECT_EQ(c.jobs.notify.backoff_cap_seconds, 10);
	EXPECT_EQ(c.jobs.notify.timeout_seconds, 30);
	EXPECT_FALSE(c.jobs.escalate.enabled);
	EXPECT_EQ(c.jobs.escalate.schedule, "0 10 * * MON");
	EXPECT_FALSE(c.jobs.export_.enabled);
	EXPECT_EQ(c.jobs.export_.schedule, "@yearly");
	EXPECT_EQ(c.jobs.export_.directory, "/srv/exports");
	EXPECT_EQ(c.jobs.export_.recipients, (std::vector<std::string>{"hesa", "tracker"}));
	EXPECT_EQ(c.webhook.secret_file, "/etc/outreachd/webhook.key");
	EXPECT_EQ(c.webhook.user_agent, "outreach-test/1");
	ASSERT_EQ(c.webhook.allow_private_networks.size(), 3u);
	EXPECT_EQ(c.webhook.allow_private_networks[1].base.text(), "fd00::");
	EXPECT_EQ(c.webhook.allow_private_networks[2].prefix, 32);
	EXPECT_EQ(c.smtp.host, "mail.example.org");
	EXPECT_EQ(c.smtp.port, 587);
	EXPECT_EQ(c.smtp.from, "noreply@example.org");
	EXPECT_EQ(c.smtp.helo, "db2.example.org");
	EXPECT_EQ(c.smtp.starttls, StartTls::required);
}

TEST(Config, DottedKeysAndInlineTablesWorkToo) {
	const Config c = parse_config("jobs.sweep.batch_size = 7\nsmtp = { port = 2525 }\n", "x");
	EXPECT_EQ(c.jobs.sweep.batch_size, 7);
	EXPECT_EQ(c.smtp.port, 2525);
}

// ---- Integers ---------------------------------------------------------------------------------

TEST(Config, IntegerRangesAreEnforcedWithKeyAndLine) {
	for (const auto &k : integer_keys) {
		const std::string key = std::string(k.table) + "." + k.key;
		SCOPED_TRACE(key);
		const std::string range = "must be between " + std::to_string(k.min) + " and " + std::to_string(k.max);
		const auto err = [&](const std::string &value) { return error_in(k.table, k.key, value, k.also); };
		const std::string at = "outreachd.toml:2: " + key + ": ";
		EXPECT_EQ(err(std::to_string(k.min - 1)), at + range + " (got " + std::to_string(k.min - 1) + ")");
		EXPECT_EQ(err(std::to_string(k.max + 1)), at + range + " (got " + std::to_string(k.max + 1) + ")");
		EXPECT_EQ(err("-1"), at + range + " (got -1)");
		EXPECT_EQ(err("9223372036854775807"), at + range + " (got 9223372036854775807)");
		EXPECT_EQ(err("\"10\""), at + "must be an integer (got a string)");
		EXPECT_EQ(err("10.0"), at + "must be an integer (got a floating-point number)");
		EXPECT_EQ(err("true"), at + "must be an integer (got a boolean)");
		EXPECT_EQ(err("[1]"), at + "must be an integer (got an array)");
		// The bounds themselves are accepted.
		for (int ok : {k.min, k.max})
			EXPECT_NO_THROW(parse_config(std::string("[") + k.table + "]\n" + k.key + " = " + std::to_string(ok) +
			                                 "\n" + k.also + "\n",
			                             "x"));
	}
	// The example from the documentation, with the key further down the file.
	EXPECT_EQ(error("# outreachd\n\n[daemon]\nlease_seconds = 30\n\n[jobs.sweep]\nenabled = true\n\n\n\n\nbatch_size = 0\n"),
	          "outreachd.toml:12: jobs.sweep.batch_size: must be between 1 and 1000000 (got 0)");
}

TEST(Config, BackoffCapMayNotBeBelowBase) {
	EXPECT_EQ(error("[jobs.notify]\nbackoff_base_seconds = 60\nbackoff_cap_seconds = 30\n"),
	          "outreachd.toml:3: jobs.notify.backoff_cap_seconds: must not be less than "
	          "jobs.notify.backoff_base_seconds (60; got 30)");
	EXPECT_EQ(error("[jobs.notify]\nbackoff_base_seconds = 7200\n"),
	          "outreachd.toml:2: jobs.notify.backoff_base_seconds: must not exceed jobs.notify.backoff_cap_seconds "
	          "(3600, the default; got 7200)");
}

// ---- Strings, booleans, choices ---------------------------------------------------------------

TEST(Config, ChoicesAndTypes) {
	EXPECT_EQ(error_in("daemon", "log_format", "\"xml\""),
	          "outreachd.toml:2: daemon.log_format: must be one of \"human\", \"json\" (got \"xml\")");
	EXPECT_EQ(error_in("daemon", "log_level", "\"verbose\""),
	          "outreachd.toml:2: daemon.log_level: must be one of \"debug\", \"info\", \"warning\", \"error\" (got "
	          "\"verbose\")");
	EXPECT_EQ(error_in("daemon", "log_level", "\"INFO\""),
	          "outreachd.toml:2: daemon.log_level: must be one of \"debug\", \"info\", \"warning\", \"error\" (got "
	          "\"INFO\")");
	EXPECT_EQ(error_in("daemon", "log_level", "1"), "outreachd.toml:2: daemon.log_level: must be a string (got an integer)");
	EXPECT_EQ(error_in("smtp", "starttls", "\"yes\""),
	          "outreachd.toml:2: smtp.starttls: must be one of \"opportunistic\", \"required\", \"never\" (got \"yes\")");
	EXPECT_EQ(error_in("smtp", "starttls", "false"), "outreachd.toml:2: smtp.starttls: must be a string (got a boolean)");
	EXPECT_EQ(error_in("jobs.sweep", "enabled", "\"yes\""),
	          "outreachd.toml:2: jobs.sweep.enabled: must be true or false (got a string)");
	EXPECT_EQ(error_in("jobs.export", "enabled", "1"), "outreachd.toml:2: jobs.export.enabled: must be true or false (got an integer)");
	EXPECT_EQ(error_in("database", "conninfo", "1"), "outreachd.toml:2: database.conninfo: must be a string (got an integer)");
	EXPECT_EQ(error("database = 5\n"), "outreachd.toml:1: database: must be a table (got an integer)");
	EXPECT_EQ(error("[jobs]\nsweep = \"daily\"\n"), "outreachd.toml:2: jobs.sweep: must be a table (got a string)");
	EXPECT_EQ(error("[[jobs]]\n"), "outreachd.toml:1: jobs: must be a table (got an array)");
}

TEST(Config, OtherStrings) {
	EXPECT_EQ(error_in("daemon", "name", "\"" + std::string(64, 'n') + "\""),
	          "outreachd.toml:2: daemon.name: must be 0 to 63 printable ASCII characters (got \"" + std::string(64, 'n') +
	              "\")");
	EXPECT_EQ(error_in("daemon", "name", "\"a\\tb\""),
	          "outreachd.toml:2: daemon.name: must be 0 to 63 printable ASCII characters (got \"a\tb\")");
	EXPECT_EQ(error_in("jobs.export", "directory", "\"exports\""),
	          "outreachd.toml:2: jobs.export.directory: must be an absolute path (got \"exports\")");
	EXPECT_EQ(error_in("jobs.export", "directory", "\"\""),
	          "outreachd.toml:2: jobs.export.directory: must be an absolute path (got \"\")");
	EXPECT_EQ(error_in("webhook", "secret_file", "\"webhook.key\""),
	          "outreachd.toml:2: webhook.secret_file: must be an absolute path (got \"webhook.key\")");
	EXPECT_EQ(parse_config("[webhook]\nsecret_file = \"\"\n", "x").webhook.secret_file, "");
	EXPECT_EQ(error_in("webhook", "user_agent", "\"\""),
	          "outreachd.toml:2: webhook.user_agent: must be 1 to 200 printable ASCII characters (got \"\")");
	EXPECT_EQ(error_in("webhook", "user_agent", "\"a\\r\\nX-Evil: 1\""),
	          "outreachd.toml:2: webhook.user_agent: must be 1 to 200 printable ASCII characters (got \"a\r\nX-Evil: 1\")");
	EXPECT_EQ(error_in("smtp", "host", "\"\""),
	          "outreachd.toml:2: smtp.host: must be 1 to 253 printable ASCII characters without spaces (got \"\")");
	EXPECT_EQ(error_in("smtp", "helo", "\"my host\""),
	          "outreachd.toml:2: smtp.helo: must be 0 to 253 printable ASCII characters without spaces (got \"my host\")");
	for (const char *from : {"outreach", "@example.org", "outreach@", "Outreach <o@example.org>", "a b@example.org"})
		EXPECT_EQ(error_in("smtp", "from", std::string("\"") + from + "\""),
		          std::string("outreachd.toml:2: smtp.from: must be a plain address such as \"outreach@example.org\" "
		                      "(got \"") + from + "\")");
}

TEST(Config, ExportRecipients) {
	EXPECT_EQ(error_in("jobs.export", "recipients", "\"hesa\""),
	          "outreachd.toml:2: jobs.export.recipients: must be an array of strings (got a string)");
	EXPECT_EQ(error("[jobs.export]\nrecipients = [\n  \"hesa\",\n  3,\n]\n"),
	          "outreachd.toml:4: jobs.export.recipients: must be an array of strings (found an integer)");
	EXPECT_EQ(error("[jobs.export]\nrecipients = [\"hesa\", \"\"]\n"),
	          "outreachd.toml:2: jobs.export.recipients: recipient names must be non-empty printable text");
	EXPECT_EQ(error("[jobs.export]\nrecipients = [\n\"hesa\",\n\"hesa\"]\n"),
	          "outreachd.toml:4: jobs.export.recipients: recipient \"hesa\" is listed twice");
}

TEST(Config, WebhookAllowPrivateNetworksMustBeNetworks) {
	EXPECT_EQ(error_in("webhook", "allow_private_networks", "\"127.0.0.0/8\""),
	          "outreachd.toml:2: webhook.allow_private_networks: must be an array of strings (got a string)");
	EXPECT_EQ(error("[webhook]\nallow_private_networks = [\n  \"10.0.0.0/8\",\n  \"10.1.2.3/8\",\n]\n"),
	          "outreachd.toml:4: webhook.allow_private_networks: \"10.1.2.3/8\": host bits are set beyond the prefix "
	          "(did you mean 10.0.0.0/8?)");
	EXPECT_EQ(error("[webhook]\nallow_private_networks = [\"intranet\"]\n"),
	          "outreachd.toml:2: webhook.allow_private_networks: \"intranet\": not an IP address or network (e.g. "
	          "\"10.1.2.0/24\", \"fd00::/8\", \"127.0.0.1\")");
	EXPECT_EQ(error("[webhook]\nallow_private_networks = [8]\n"),
	          "outreachd.toml:2: webhook.allow_private_networks: must be an array of strings (found an integer)");
}

// ---- Schedules and time zone ------------------------------------------------------------------

TEST(Config, SchedulesAreValidated) {
	for (const char *job : {"sweep", "delete", "notify", "escalate", "export"}) {
		SCOPED_TRACE(job);
		EXPECT_EQ(error_in(std::string("jobs.") + job, "schedule", "\"0 25 * * *\""),
		          std::string("outreachd.toml:2: jobs.") + job +
		              ".schedule: invalid cron expression '0 25 * * *': hour field '25': value 25 out of range 0-23");
	}
	EXPECT_EQ(error_in("jobs.sweep", "schedule", "\"daily\""),
	          "outreachd.toml:2: jobs.sweep.schedule: invalid cron expression 'daily': expected 5 fields (minute hour "
	          "day-of-month month day-of-week) or a macro such as @daily, got 1");
	EXPECT_EQ(error_in("jobs.sweep", "schedule", "5"), "outreachd.toml:2: jobs.sweep.schedule: must be a string (got an integer)");
}

TEST(Config, TimeZoneIsValidated) {
	EXPECT_EQ(error_in("daemon", "timezone", "\"Europe/Lodnon\""),
	          "outreachd.toml:2: daemon.timezone: unknown time zone 'Europe/Lodnon'");
	EXPECT_EQ(error_in("daemon", "timezone", "\"../../etc/passwd\""),
	          "outreachd.toml:2: daemon.timezone: unknown time zone '../../etc/passwd'");
	EXPECT_EQ(parse_config("[daemon]\ntimezone = \"America/New_York\"\n", "x").daemon.timezone, "America/New_York");
}

// ---- http.listen ------------------------------------------------------------------------------

TEST(Config, ListenAddresses) {
	const auto listen = [](const std::string &v) { return parse_config("[http]\nlisten = \"" + v + "\"\n", "x").http; };
	EXPECT_FALSE(listen("").enabled());
	EXPECT_EQ(listen("").port, 0);
	EXPECT_EQ(listen("0.0.0.0:80").host, "0.0.0.0");
	EXPECT_EQ(listen("0.0.0.0:80").port, 80);
	EXPECT_EQ(listen("localhost:65535").host, "localhost");
	EXPECT_EQ(listen("localhost:65535").port, 65535);
	EXPECT_EQ(listen("[::]:1").host, "::");
	EXPECT_EQ(listen("[::ffff:127.0.0.1]:9187").host, "::ffff:127.0.0.1");
	for (const char *bad : {"9187", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:99999999",
	                        "::1:9187", "[::1]", "[::1]9187", "[]:80", ":9187", "localhost:http", "local host:80",
	                        "[::1]:-1"}) {
		SCOPED_TRACE(bad);
		EXPECT_EQ(error_in("http", "listen", std::string("\"") + bad + "\""),
		          std::string("outreachd.toml:2: http.listen: must be host:port with a port from 1 to 65535, such as "
		                      "\"127.0.0.1:9187\" or \"[::1]:9187\", or \"\" to disable (got \"") + bad + "\")");
	}
}

// ---- database.conninfo and passwords ----------------------------------------------------------

TEST(Config, ConninfoWithAPasswordIsRejectedWithoutRepeatingIt) {
	const std::string advice =
	    "passwords never go in this file (it and the logs must not hold one): put it in a .pgpass file (PGPASSFILE "
	    "or passfile=) and, if you like, the connection settings in a pg_service.conf service (conninfo = "
	    "\"service=name\")";
	const struct {
		const char *conninfo, *what;
	} cases[] = {
	    {"host=db password=s3cret", "password="},
	    {"host=db  password = s3cret dbname=x", "password="},
	    {"password='s3 cret' host=db", "password="},
	    {"host=db PASSWORD=s3cret", "password="},
	    {"postgresql://alice:s3cret@db/outreach", "user:password@ in the URI"},
	    {"postgres://alice:s3cret@db:5432,db2:5432/outreach?sslmode=require", "user:password@ in the URI"},
	    {"postgresql://alice@db/outreach?sslmode=require&password=s3cret", "password= in the URI"},
	    {"postgresql:///outreach?pass%77ord=s3cret", "password= in the URI"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.conninfo);
		const std::string message = error_in("database", "conninfo", std::string("'''") + c.conninfo + "'''");
		EXPECT_EQ(message, std::string("outreachd.toml:2: database.conninfo: contains a password (") + c.what + "); " + advice);
		EXPECT_EQ(message.find("s3"), std::string::npos);
	}
}

TEST(Config, ConninfoWithoutPasswordIsAccepted) {
	for (const char *ok : {"", "service=outreach", "host=/var/run/postgresql dbname=outreach user=outreachd",
	                       "dbname=password_reset", "host=db passfile=/etc/outreachd/pgpass",
	                       "application_name='pass word=x' dbname=x", "dbname = 'it\\'s' sslmode=verify-full",
	                       "postgresql://alice@db/outreach?sslmode=require", "postgresql:///outreach",
	                       "postgresql://db/outreach?passfile=/x"}) {
		SCOPED_TRACE(ok);
		EXPECT_EQ(parse_config(std::string("[database]\nconninfo = '''") + ok + "'''\n", "x").database.conninfo, ok);
	}
}

TEST(Config, MalformedConninfoIsRejected) {
	EXPECT_EQ(error_in("database", "conninfo", "'host=db s3cret'"),
	          "outreachd.toml:2: database.conninfo: is not a valid conninfo: a keyword is not followed by '=' "
	          "(expected keyword=value pairs)");
	EXPECT_EQ(error_in("database", "conninfo", "\"host='db\""),
	          "outreachd.toml:2: database.conninfo: is not a valid conninfo: unterminated quoted value");
}

TEST(Config, ConninfoPasswordIsFoundWhereLibpqFindsIt) {
	const auto start = [](const std::string &value, std::size_t n) {
		return error_in("database", "conninfo", value).substr(0, n);
	};
	// libpq takes user:password@ from everything before the first '/', a '?' included.
	const std::string userinfo = "outreachd.toml:2: database.conninfo: contains a password (user:password@ in the URI)";
	EXPECT_EQ(start("'postgresql://alice:s3?cret@db/outreach'", userinfo.size()), userinfo);
	// A keyword libpq would reject for its case still holds a secret.
	const std::string parameter = "outreachd.toml:2: database.conninfo: contains a password (password= in the URI)";
	EXPECT_EQ(start("'postgresql://db/outreach?PassWord=s3cret'", parameter.size()), parameter);
}

TEST(Config, ConninfoLibpqCannotParseIsRejectedWithoutQuotingIt) {
	const auto rejected = [](const char *conninfo, const std::string &why) {
		SCOPED_TRACE(conninfo);
		const std::string message = error_in("database", "conninfo", std::string("'") + conninfo + "'");
		EXPECT_EQ(message, "outreachd.toml:2: database.conninfo: is not a valid conninfo: " + why);
		EXPECT_EQ(message.find("s3"), std::string::npos);
	};
	const std::string unknown = "a keyword libpq does not know (they are case-sensitive)";
	rejected("host=db s3cret=x", unknown);
	rejected("Host=s3cret", unknown);
	rejected("postgresql://db/outreach?s3cret=x", unknown);
	rejected("postgresql://[::1/s3cret", "libpq cannot parse it");
	rejected("postgresql://db/outreach?sslmode=require=s3cret", "libpq cannot parse it");
}

// ---- Unknown keys, syntax errors --------------------------------------------------------------

TEST(Config, UnknownKeysAndTablesAreErrors) {
	EXPECT_EQ(error("[jobs.sweep]\nenabled = true\nbach_size = 5\n"),
	          "outreachd.toml:3: unknown key 'jobs.sweep.bach_size' (known here: enabled, schedule, batch_size)");
	EXPECT_EQ(error("\n[jobs.swep]\nenabled = true\n"),
	          "outreachd.toml:2: unknown table 'jobs.swep' (known here: sweep, delete, notify, escalate, export)");
	EXPECT_EQ(error("[databse]\n"),
	          "outreachd.toml:1: unknown table 'databse' (known here: database, daemon, http, jobs, webhook, smtp)");
	EXPECT_EQ(error("log_level = \"debug\"\n"),
	          "outreachd.toml:1: unknown key 'log_level' (known here: database, daemon, http, jobs, webhook, smtp)");
	EXPECT_EQ(error("[daemon]\ntimezone = \"UTC\"\n[daemon.extra]\nx = 1\n"),
	          "outreachd.toml:3: unknown table 'daemon.extra' (known here: name, timezone, lease_seconds, "
	          "shutdown_grace_seconds, log_format, log_level, catch_up_seconds)");
	EXPECT_EQ(error("[smtp]\nport = 25\npassword = \"x\"\n"),
	          "outreachd.toml:3: unknown key 'smtp.password' (known here: host, port, from, helo, starttls)");
}

TEST(Config, SyntaxErrorsGiveTheLine) {
	EXPECT_EQ(error("[daemon]\nname = \"a\"\nlease_seconds = = 3\n").substr(0, 32), "outreachd.toml:3: syntax error: ");
	EXPECT_EQ(error("[daemon]\nname = \"a\"\n\nname = \"b\"\n").substr(0, 32), "outreachd.toml:4: syntax error: ");
	EXPECT_EQ(error("[daemon\n").substr(0, 32), "outreachd.toml:1: syntax error: ");
	EXPECT_EQ(error("\n\n[http]\nlisten = \"127.0.0.1:9187\n").substr(0, 32), "outreachd.toml:4: syntax error: ");
}

// ---- Files ------------------------------------------------------------------------------------

TEST(Config, LoadConfigReadsAFileAndNamesItInErrors) {
	const std::string dir = ::testing::TempDir();
	const std::string path = dir + "/outreachd_config_test.toml";
	{
		std::ofstream out(path);
		out << "[jobs.sweep]\nbatch_size = 5\n";
	}
	EXPECT_EQ(load_config(path).jobs.sweep.batch_size, 5);
	{
		std::ofstream out(path);
		out << "[jobs.sweep]\n\nbatch_size = 0\n";
	}
	EXPECT_EQ(message_of<ConfigError>([&] { load_config(path); }),
	          path + ":3: jobs.sweep.batch_size: must be between 1 and 1000000 (got 0)");
	std::filesystem::remove(path);
	EXPECT_EQ(message_of<ConfigError>([&] { load_config(path); }),
	          "cannot read configuration file '" + path + "': No such file or directory");
	EXPECT_EQ(message_of<ConfigError>([&] { load_config(dir); }),
	          "cannot read configuration file '" + dir + "': Is a directory");
}
