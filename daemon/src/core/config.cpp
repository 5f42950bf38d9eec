#include "core/config.hpp"

#include "core/zone.hpp"

#include <libpq-fe.h>
#include <toml++/toml.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <utility>

namespace outreachd {

namespace {

std::string type_name(const toml::node &n) {
	switch (n.type()) {
	case toml::node_type::string: return "a string";
	case toml::node_type::integer: return "an integer";
	case toml::node_type::floating_point: return "a floating-point number";
	case toml::node_type::boolean: return "a boolean";
	case toml::node_type::table: return "a table";
	case toml::node_type::array: return "an array";
	default: return "a date or time";
	}
}

bool printable_ascii(std::string_view s) {
	for (char c : s)
		if (c < 0x20 || c > 0x7e)
			return false;
	return true;
}

// libpq's own reading of a conninfo: null when it cannot parse it (`error` then holds its
// message), otherwise whether the text sets a password.
std::optional<bool> sets_password(const std::string &conninfo, std::string &error) {
	char *message = nullptr;
	PQconninfoOption *options = PQconninfoParse(conninfo.c_str(), &message);
	if (options == nullptr) {
		error = message != nullptr ? message : "out of memory";
		PQfreemem(message);
		return std::nullopt;
	}
	bool found = false;
	for (const PQconninfoOption *o = options; o->keyword != nullptr; ++o)
		found = found || (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr);
	PQconninfoFree(options);
	return found;
}

// Returns an empty string when the conninfo (keyword=value pairs or a URI) holds no password,
// otherwise what is wrong. libpq's keywords are case-sensitive: "PASSWORD=x" is not one to libpq
// but still a secret in the file, so a text libpq rejects is read again in lower case. Never
// quotes the input or libpq's message about it (the daemon keeps the C locale, so that message
// is English): either may hold the password.
std::string conninfo_problem(const std::string &s) {
	const std::string advice =
	    "passwords never go in this file (it and the logs must not hold one): put it in a "
	    ".pgpass file (PGPASSFILE or passfile=) and, if you like, the connection settings in a "
	    "pg_service.conf service (conninfo = \"service=name\")";
	std::string error, ignored;
	std::optional<bool> password = sets_password(s, error);
	if (!password) {
		std::string lower = s;
		for (char &c : lower)
			c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
		if (sets_password(lower, ignored).value_or(false))
			password = true;
	}
	if (password.value_or(false)) {
		if (!s.starts_with("postgresql://") && !s.starts_with("postgres://"))
			return "contains a password (password=); " + advice;
		// libpq looks for user:password@ before the first '/' after "//".
		const std::string_view rest = std::string_view(s).substr(s.find("//") + 2);
		const std::string_view authority = rest.substr(0, rest.find('/'));
		const std::size_t at = authority.find('@');
		if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos)
			return "contains a password (user:password@ in the URI); " + advice;
		return "contains a password (password= in the URI); " + advice;
	}
	if (password)
		return "";
	if (error.find("missing \"=\"") != std::string::npos)
		return "is not a valid conninfo: a keyword is not followed by '=' (expected keyword=value pairs)";
	if (error.find("unterminated quoted string") != std::string::npos)
		return "is not a valid conninfo: unterminated quoted value";
	if (error.find("invalid connection option") != std::string::npos ||
	    error.find("invalid URI query parameter") != std::string::npos)
		return "is not a valid conninfo: a keyword libpq does not know (they are case-sensitive)";
	return "is not a valid conninfo: libpq cannot parse it";
}

// Splits "host:port" / "[v6]:port"; empty host on failure.
std::pair<std::string, int> parse_listen(std::string_view s) {
	std::string_view host, port;
	if (s.starts_with('[')) {
		const std::size_t close = s.find(']');
		if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
			return {};
		host = s.substr(1, close - 1);
		port = s.substr(close + 2);
		if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
			return {};
	} else {
		const std::size_t colon = s.rfind(':');
		if (colon == std::string_view::npos)
			return {};
		host = s.substr(0, colon);
		port = s.substr(colon + 1);
		if (host.empty() ||
		    host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		        std::string_view::npos)
			return {};
	}
	if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
		return {};
	const int p = std::stoi(std::string(port));
	if (p < 1 || p > 65535)
		return {};
	return {std::string(host), p};
}

// Walks the document, filling a Config; the first problem throws.
class Reader {
public:
	explicit Reader(std::string_view source) : source_(source) {}

	[[noreturn]] void fail(const toml::source_region &where, const std::string &message) const {
		std::string where_text = source_;
		if (where.begin.line > 0)
			where_text += ":" + std::to_string(where.begin.line);
		throw ConfigError(where_text + ": " + message);
	}
	[[noreturn]] void fail(const toml::node &n, const std::string &key, const std::string &message) const {
		fail(n.source(), key + ": " + message);
	}

	// A sub-table, or nullptr when absent.
	const toml::table *table(const toml::table &parent, std::string_view key, const std::string &path) const {
		const toml::node *n = parent.get(key);
		if (n == nullptr)
			return nullptr;
		if (!n->is_table())
			fail(*n, path, "must be a table (got " + type_name(*n) + ")");
		return n->as_table();
	}

	void only(const toml::table &t, const std::string &prefix, std::initializer_list<std::string_view> known) const {
		for (auto &&[k, v] : t) {
			bool ok = false;
			for (auto name : known)
				ok = ok || k.str() == name;
			if (ok)
				continue;
			std::string list;
			for (auto name : known)
				list += (list.empty() ? "" : ", ") + std::string(name);
			fail(k.source(), std::string("unknown ") + (v.is_table() ? "table" : "key") + " '" + prefix +
			                     std::string(k.str()) + "' (known here: " + list + ")");
		}
	}

	const toml::node *get(const toml::table *t, std::string_view key) const {
		return t == nullptr ? nullptr : t->get(key);
	}

	void integer(const toml::table *t, std::string_view key, const std::string &path, int &out, int min, int max) const {
		const toml::node *n = get(t, key);
		if (n == nullptr)
			return;
		if (!n->is_integer())
			fail(*n, path, "must be an integer (got " + type_name(*n) + ")");
		const std::int64_t v = n->as_integer()->get();
		if (v < min || v > max)
			fail(*n, path,
			     "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " + std::to_string(v) + ")");
		out = static_cast<int>(v);
	}

	// Returns the node when present (for further checks).
	const toml::node *string(const toml::table *t, std::string_view key, const std::string &path, std::string &out) const {
		const toml::node *n = get(t, key);
		if (n == nullptr)
			return nullptr;
		if (!n->is_string())
			fail(*n, path, "must be a string (got " + type_name(*n) + ")");
		out = n->as_string()->get();
		return n;
	}

	void boolean(const toml::table *t, std::string_view key, const std::string &path, bool &out) const {
		const toml::node *n = get(t, key);
		if (n == nullptr)
			return;
		if (!n->is_boolean())
			fail(*n, path, "must be true or false (got " + type_name(*n) + ")");
		out = n->as_boolean()->get();
	}

	template <class E>
	void choice(const toml::table *t, std::string_view key, const std::string &path, E &out,
	            std::initializer_list<std::pair<std::string_view, E>> choices) const {
		std::string s;
		const toml::node *n = string(t, key, path, s);
		if (n == nullptr)
			return;
		std::string list;
		for (auto &[name, value] : choices) {
			if (name == s) {
				out = value;
				return;
			}
			list += (list.empty() ? "\"" : ", \"") + std::string(name) + "\"";
		}
		fail(*n, path, "must be one of " + list + " (got \"" + s + "\")");
	}

	void schedule(const toml::table *t, const std::string &prefix, std::string &out) const {
		if (const toml::node *n = string(t, "schedule", prefix + "schedule", out)) {
			try {
				CronExpr::parse(out);
			} catch (const std::invalid_argument &e) {
				fail(*n, prefix + "schedule", e.what());
			}
		}
	}

	void absolute_path(const toml::table *t, std::string_view key, const std::string &path, std::string &out,
	                   bool allow_empty) const {
		if (const toml::node *n = string(t, key, path, out)) {
			if (out.empty() && allow_empty)
				return;
			if (!out.starts_with('/'))
				fail(*n, path, "must be an absolute path (got \"" + out + "\")");
		}
	}

	void printable(const toml::table *t, std::string_view key, const std::string &path, std::string &out,
	               std::size_t min_length, std::size_t max_length, bool no_spaces) const {
		if (const toml::node *n = string(t, key, path, out)) {
			if (out.empty() && min_length == 0)
				return;
			if (out.size() < min_length || out.size() > max_length || !printable_ascii(out) ||
			    (no_spaces && out.find(' ') != std::string::npos))
				fail(*n, path, "must be " + std::to_string(min_length) + " to " + std::to_string(max_length) +
				                   " printable ASCII characters" + (no_spaces ? " without spaces" : "") +
				                   " (got \"" + out + "\")");
		}
	}

private:
	std::string source_;
};

void read_database(const Reader &r, const toml::table *t, DatabaseConfig &c) {
	if (t)
		r.only(*t, "database.", {"conninfo", "connect_timeout_seconds", "statement_timeout_seconds", "reconnect_max_seconds"});
	if (const toml::node *n = r.string(t, "conninfo", "database.conninfo", c.conninfo)) {
		const std::string problem = conninfo_problem(c.conninfo);
		if (!problem.empty())
			r.fail(*n, "database.conninfo", problem);
	}
	r.integer(t, "connect_timeout_seconds", "database.connect_timeout_seconds", c.connect_timeout_seconds, 1, 300);
	r.integer(t, "statement_timeout_seconds", "database.statement_timeout_seconds", c.statement_timeout_seconds, 1, 86400);
	r.integer(t, "reconnect_max_seconds", "database.reconnect_max_seconds", c.reconnect_max_seconds, 1, 3600);
}

void read_daemon(const Reader &r, const toml::table *t, DaemonConfig &c) {
	if (t)
		r.only(*t, "daemon.",
		       {"name", "timezone", "lease_seconds", "shutdown_grace_seconds", "log_format", "log_level", "catch_up_seconds"});
	r.printable(t, "name", "daemon.name", c.name, 0, 63, false);
	if (const toml::node *n = r.string(t, "timezone", "daemon.timezone", c.timezone)) {
		try {
			SystemZone::load(c.timezone);
		} catch (const std::invalid_argument &e) {
			r.fail(*n, "daemon.timezone", e.what());
		}
	}
	r.integer(t, "lease_seconds", "daemon.lease_seconds", c.lease_seconds, 5, 3600);
	r.integer(t, "shutdown_grace_seconds", "daemon.shutdown_grace_seconds", c.shutdown_grace_seconds, 1, 3600);
	r.choice(t, "log_format", "daemon.log_format", c.log_format, {{"human", LogFormat::human}, {"json", LogFormat::json}});
	r.choice(t, "log_level", "daemon.log_level", c.log_level,
	         {{"debug", LogLevel::debug}, {"info", LogLevel::info}, {"warning", LogLevel::warning}, {"error", LogLevel::error}});
	r.integer(t, "catch_up_seconds", "daemon.catch_up_seconds", c.catch_up_seconds, 60, 7 * 86400);
}

void read_http(const Reader &r, const toml::table *t, HttpConfig &c) {
	if (t)
		r.only(*t, "http.", {"listen"});
	const toml::node *n = r.string(t, "listen", "http.listen", c.listen);
	if (n == nullptr)
		return;
	if (c.listen.empty()) {
		c.host.clear();
		c.port = 0;
		return;
	}
	auto [host, port] = parse_listen(c.listen);
	if (host.empty())
		r.fail(*n, "http.listen",
		       "must be host:port with a port from 1 to 65535, such as \"127.0.0.1:9187\" or \"[::1]:9187\", "
		       "or \"\" to disable (got \"" + c.listen + "\")");
	c.host = host;
	c.port = port;
}

void read_batch_job(const Reader &r, const toml::table *t, const std::string &p, BatchJobConfig &c) {
	if (t)
		r.only(*t, p, {"enabled", "schedule", "batch_size"});
	r.boolean(t, "enabled", p + "enabled", c.enabled);
	r.schedule(t, p, c.schedule);
	r.integer(t, "batch_size", p + "batch_size", c.batch_size, 1, 1000000);
}

void read_jobs(const Reader &r, const toml::table *t, JobsConfig &c) {
	if (t)
		r.only(*t, "jobs.", {"sweep", "delete", "notify", "escalate", "export"});
	const auto sub = [&](std::string_view name) { return t ? r.table(*t, name, "jobs." + std::string(name)) : nullptr; };
	read_batch_job(r, sub("sweep"), "jobs.sweep.", c.sweep);
	read_batch_job(r, sub("delete"), "jobs.delete.", c.delete_);

	const toml::table *n = sub("notify");
	if (n)
		r.only(*n, "jobs.notify.",
		       {"enabled", "schedule", "batch_size", "max_attempts", "backoff_base_seconds", "backoff_cap_seconds",
		        "timeout_seconds"});
	r.boolean(n, "enabled", "jobs.notify.enabled", c.notify.enabled);
	r.schedule(n, "jobs.notify.", c.notify.schedule);
	r.integer(n, "batch_size", "jobs.notify.batch_size", c.notify.batch_size, 1, 10000);
	r.integer(n, "max_attempts", "jobs.notify.max_attempts", c.notify.max_attempts, 1, 1000);
	r.integer(n, "backoff_base_seconds", "jobs.notify.backoff_base_seconds", c.notify.backoff_base_seconds, 1, 86400);
	r.integer(n, "backoff_cap_seconds", "jobs.notify.backoff_cap_seconds", c.notify.backoff_cap_seconds, 1, 7 * 86400);
	r.integer(n, "timeout_seconds", "jobs.notify.timeout_seconds", c.notify.timeout_seconds, 1, 300);
	if (c.notify.backoff_cap_seconds < c.notify.backoff_base_seconds) {
		const std::string base = std::to_string(c.notify.backoff_base_seconds);
		const std::string cap = std::to_string(c.notify.backoff_cap_seconds);
		if (const toml::node *cap_node = r.get(n, "backoff_cap_seconds"))
			r.fail(*cap_node, "jobs.notify.backoff_cap_seconds",
			       "must not be less than jobs.notify.backoff_base_seconds (" + base + "; got " + cap + ")");
		r.fail(*r.get(n, "backoff_base_seconds"), "jobs.notify.backoff_base_seconds",
		       "must not exceed jobs.notify.backoff_cap_seconds (" + cap + ", the default; got " + base + ")");
	}

	const toml::table *e = sub("escalate");
	if (e)
		r.only(*e, "jobs.escalate.", {"enabled", "schedule"});
	r.boolean(e, "enabled", "jobs.escalate.enabled", c.escalate.enabled);
	r.schedule(e, "jobs.escalate.", c.escalate.schedule);

	const toml::table *x = sub("export");
	if (x)
		r.only(*x, "jobs.export.", {"enabled", "schedule", "directory", "recipients", "io_timeout_seconds"});
	r.boolean(x, "enabled", "jobs.export.enabled", c.export_.enabled);
	r.integer(x, "io_timeout_seconds", "jobs.export.io_timeout_seconds", c.export_.io_timeout_seconds, 1, 86400);
	r.schedule(x, "jobs.export.", c.export_.schedule);
	r.absolute_path(x, "directory", "jobs.export.directory", c.export_.directory, false);
	if (const toml::node *list = r.get(x, "recipients")) {
		const std::string key = "jobs.export.recipients";
		if (!list->is_array())
			r.fail(*list, key, "must be an array of strings (got " + type_name(*list) + ")");
		for (const toml::node &item : *list->as_array()) {
			if (!item.is_string())
				r.fail(item, key, "must be an array of strings (found " + type_name(item) + ")");
			const std::string &name = item.as_string()->get();
			if (name.empty() || !printable_ascii(name))
				r.fail(item, key, "recipient names must be non-empty printable text");
			for (const auto &seen : c.export_.recipients)
				if (seen == name)
					r.fail(item, key, "recipient \"" + name + "\" is listed twice");
			c.export_.recipients.push_back(name);
		}
	}
}

void read_webhook(const Reader &r, const toml::table *t, WebhookConfig &c) {
	if (t)
		r.only(*t, "webhook.", {"secret_file", "user_agent", "allow_private_networks"});
	r.absolute_path(t, "secret_file", "webhook.secret_file", c.secret_file, true);
	r.printable(t, "user_agent", "webhook.user_agent", c.user_agent, 1, 200, false);
	if (const toml::node *list = r.get(t, "allow_private_networks")) {
		const std::string key = "webhook.allow_private_networks";
		if (!list->is_array())
			r.fail(*list, key, "must be an array of strings (got " + type_name(*list) + ")");
		for (const toml::node &item : *list->as_array()) {
			if (!item.is_string())
				r.fail(item, key, "must be an array of strings (found " + type_name(item) + ")");
			std::string error;
			auto network = IpNetwork::parse(item.as_string()->get(), error);
			if (!network)
				r.fail(item, key, "\"" + item.as_string()->get() + "\": " + error);
			c.allow_private_networks.push_back(*network);
		}
	}
}

void read_smtp(const Reader &r, const toml::table *t, SmtpConfig &c) {
	if (t)
		r.only(*t, "smtp.", {"host", "port", "from", "helo", "starttls"});
	r.printable(t, "host", "smtp.host", c.host, 1, 253, true);
	r.integer(t, "port", "smtp.port", c.port, 1, 65535);
	if (const toml::node *n = r.string(t, "from", "smtp.from", c.from)) {
		const auto at = c.from.find('@');
		if (at == 0 || at == std::string::npos || at + 1 == c.from.size() || !printable_ascii(c.from) ||
		    c.from.find_first_of(" <>\"") != std::string::npos)
			r.fail(*n, "smtp.from", "must be a plain address such as \"outreach@example.org\" (got \"" + c.from + "\")");
	}
	r.printable(t, "helo", "smtp.helo", c.helo, 0, 253, true);
	r.choice(t, "starttls", "smtp.starttls", c.starttls,
	         {{"opportunistic", StartTls::opportunistic}, {"required", StartTls::required}, {"never", StartTls::never}});
}

}  // namespace

Config parse_config(std::string_view text, std::string_view source_name) {
	const Reader r(source_name);
	toml::table doc;
	try {
		doc = toml::parse(text, source_name);
	} catch (const toml::parse_error &e) {
		r.fail(e.source(), "syntax error: " + std::string(e.description()));
	}
	r.only(doc, "", {"database", "daemon", "http", "jobs", "webhook", "smtp"});
	Config c;
	read_database(r, r.table(doc, "database", "database"), c.database);
	read_daemon(r, r.table(doc, "daemon", "daemon"), c.daemon);
	read_http(r, r.table(doc, "http", "http"), c.http);
	read_jobs(r, r.table(doc, "jobs", "jobs"), c.jobs);
	read_webhook(r, r.table(doc, "webhook", "webhook"), c.webhook);
	read_smtp(r, r.table(doc, "smtp", "smtp"), c.smtp);
	return c;
}

Config load_config(const std::string &path) {
	std::string text;
	std::FILE *f = std::fopen(path.c_str(), "rb");
	int err = errno;
	if (f != nullptr) {
		char buf[8192];
		for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
			text.append(buf, n);
		err = std::ferror(f) ? errno : 0;  // reading a directory fails here (EISDIR)
		std::fclose(f);
	}
	if (f == nullptr || err != 0)
		throw ConfigError("cannot read configuration file '" + path + "': " + std::strerror(err));
	return parse_config(text, path);
}

}  // namespace outreachd
