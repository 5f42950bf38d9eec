#include "keyring.hpp"

#include "error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace outreach::keys {
namespace {

constexpr std::size_t max_file_bytes = 1 << 20;

[[noreturn]] void config_error(std::string message, std::string hint = {}) {
	throw Error(sqlstate::config_file_error, std::move(message), {}, std::move(hint));
}

std::vector<std::string_view> fields(std::string_view line) {
	std::vector<std::string_view> out;
	std::size_t i = 0;
	while (i < line.size()) {
		while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			++i;
		const std::size_t start = i;
		while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			++i;
		if (i > start)
			out.push_back(line.substr(start, i - start));
	}
	return out;
}

int hex_value(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool parse_version(std::string_view s, int &out) {
	if (s.empty() || s.size() > 9 || s[0] == '0')
		return false;
	int v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	out = v;
	return true;
}

}  // namespace

bool is_valid_scope(std::string_view scope) {
	if (scope.empty() || scope.size() > 63)
		return false;
	for (char c : scope)
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':' || c == '-' || c == '.'))
			return false;
	return true;
}

KeyRing KeyRing::parse(std::string_view content, std::string_view source_name) {
	KeyRing ring;
	ring.source_ = std::string(source_name);
	const std::string where = "key file \"" + ring.source_ + "\"";
	int line_no = 0;
	std::size_t pos = 0;
	while (pos <= content.size()) {
		std::size_t end = content.find('\n', pos);
		if (end == std::string_view::npos)
			end = content.size();
		const std::string_view line = content.substr(pos, end - pos);
		pos = end + 1;
		++line_no;
		const auto f = fields(line);
		if (f.empty() || f[0][0] == '#')
			continue;
		const std::string at = where + " line " + std::to_string(line_no);
		if (f.size() != 3)
			config_error(at + ": expected three fields, \"scope version hex-key\"");
		if (!is_valid_scope(f[0]))
			config_error(at + ": the scope must be 1 to 63 characters of a-z, 0-9, '_', ':', '-' and '.'");
		int version = 0;
		if (!parse_version(f[1], version))
			config_error(at + ": the version must be a whole number from 1 to 999999999");
		const std::string_view hex = f[2];
		if (hex.size() % 2 != 0)
			config_error(at + ": the key must be an even number of hexadecimal digits");
		std::string key(hex.size() / 2, '\0');
		for (std::size_t i = 0; i < key.size(); ++i) {
			const int hi = hex_value(hex[2 * i]);
			const int lo = hex_value(hex[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				std::fill(key.begin(), key.end(), '\0');
				config_error(at + ": the key must be hexadecimal digits only");
			}
			key[i] = static_cast<char>(hi * 16 + lo);
		}
		if (key.size() < min_key_bytes) {
			std::fill(key.begin(), key.end(), '\0');
			config_error(at + ": the key for scope \"" + std::string(f[0]) + "\" version " + std::to_string(version) +
			                 " is " + std::to_string(key.size()) + " bytes; at least " + std::to_string(min_key_bytes) +
			                 " are required",
			             "Generate one with: openssl rand -hex 32");
		}
		auto &versions = ring.scopes_[std::string(f[0])];
		if (versions.count(version)) {
			std::fill(key.begin(), key.end(), '\0');
			config_error(at + ": scope \"" + std::string(f[0]) + "\" version " + std::to_string(version) +
			             " appears twice");
		}
		versions.emplace(version, crypto::HmacSha256(key));
		std::fill(key.begin(), key.end(), '\0');
	}
	return ring;
}

KeyRing KeyRing::load_file(const std::string &path) {
	if (path.empty())
		config_error("outreach.key_file is not set",
		             "A superuser sets it in postgresql.conf to a file of lines \"scope version hex-key\" readable only by the server.");
	if (path[0] != '/')
		config_error("key file \"" + path + "\" must be an absolute path");
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		config_error("could not open key file \"" + path + "\": " + std::strerror(errno));
	struct FdCloser {
		int fd;
		~FdCloser() { ::close(fd); }
	} closer{fd};
	struct stat st;
	if (::fstat(fd, &st) != 0)
		config_error("could not stat key file \"" + path + "\": " + std::strerror(errno));
	if (!S_ISREG(st.st_mode))
		config_error("key file \"" + path + "\" is not a regular file");
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		config_error("key file \"" + path + "\" is accessible by group or others",
		             "Restrict it with: chmod 600 (or 400) on the file, owned by the server's user.");
	if (static_cast<std::size_t>(st.st_size) > max_file_bytes)
		config_error("key file \"" + path + "\" is larger than 1 MiB");
	std::string content(static_cast<std::size_t>(st.st_size), '\0');
	std::size_t got = 0;
	while (got < content.size()) {
		const ssize_t n = ::read(fd, content.data() + got, content.size() - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			config_error("could not read key file \"" + path + "\"");
		got += static_cast<std::size_t>(n);
	}
	struct Wipe {  // the file's text holds the keys: clear it however parse() ends
		std::string &text;
		~Wipe() { std::fill(text.begin(), text.end(), '\0'); }
	} wipe{content};
	KeyRing ring = parse(content, path);
	if (ring.empty())
		config_error("key file \"" + path + "\" holds no keys");
	return ring;
}

KeyRing::Signer KeyRing::newest(std::string_view scope) const {
	const auto it = scopes_.find(scope);
	if (it == scopes_.end() || it->second.empty())
		throw Error(sqlstate::undefined_object,
		            "no key for scope \"" + std::string(scope) + "\" in key file \"" + source_ + "\"",
		            {}, "Add a line \"" + std::string(scope) + " 1 <64 hex digits>\" to the key file.");
	const auto &last = *it->second.rbegin();
	return {last.first, &last.second};
}

KeyRing::Signer KeyRing::at(std::string_view scope, int version) const {
	const auto it = scopes_.find(scope);
	if (it != scopes_.end()) {
		const auto v = it->second.find(version);
		if (v != it->second.end())
			return {v->first, &v->second};
	}
	throw Error(sqlstate::undefined_object, "no key for scope \"" + std::string(scope) + "\" version " +
	                                            std::to_string(version) + " in key file \"" + source_ + "\"");
}

std::size_t KeyRing::size() const {
	std::size_t n = 0;
	for (const auto &s : scopes_)
		n += s.second.size();
	return n;
}

}  // namespace outreach::keys
