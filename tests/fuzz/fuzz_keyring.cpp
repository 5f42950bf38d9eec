// Properties of outreach::keys::KeyRing::parse:
//  - it either returns or throws outreach::Error F0000, nothing else;
//  - no message, detail or hint ever contains 64 consecutive hex digits that occur in the input
//    (a key, or most of one, echoed into a log);
//  - it accepts exactly the files a small reference reading of the format accepts
//    (`scope version hex-key` lines, '#' comments, blank lines; scope [a-z0-9_:.-]{1,63},
//    version 1..999999999 without leading zero, an even number >= 64 of hex digits, no
//    (scope, version) twice), and then holds exactly those keys: at(scope, version) signs like
//    an HMAC-SHA256 built from the decoded key, and newest(scope) is the highest version.
#include "core/error.hpp"
#include "core/hmac_sha256.hpp"
#include "core/keyring.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keys = outreach::keys;

namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Every window of 64 hex digits in the input (there are few: inputs are short).
std::set<std::string> hex_windows(std::string_view s) {
	std::set<std::string> out;
	std::size_t run = 0;
	for (std::size_t i = 0; i < s.size(); ++i) {
		run = is_hex(s[i]) ? run + 1 : 0;
		if (run >= 64)
			out.emplace(s.substr(i + 1 - 64, 64));
	}
	return out;
}

void check_no_key_echoed(const std::set<std::string> &secrets, const std::string &text) {
	for (const std::string &w : hex_windows(text))
		FUZZ_CHECK(secrets.count(w) == 0);
}

void check_error(const outreach::Error &e, const char *code, const std::set<std::string> &secrets) {
	FUZZ_CHECK(std::strcmp(e.sqlstate(), code) == 0);
	check_no_key_echoed(secrets, e.what());
	check_no_key_echoed(secrets, e.detail());
	check_no_key_echoed(secrets, e.hint());
}

struct RefKey {
	std::string scope;
	int version;
	std::string key;  // decoded bytes
};

std::vector<std::string_view> split_fields(std::string_view line) {
	std::vector<std::string_view> f;
	std::size_t i = 0;
	while (i < line.size()) {
		const auto sep = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
		while (i < line.size() && sep(line[i]))
			++i;
		const std::size_t start = i;
		while (i < line.size() && !sep(line[i]))
			++i;
		if (i > start)
			f.push_back(line.substr(start, i - start));
	}
	return f;
}

int hex_digit(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

// The reference reading; nullopt when the file must be rejected.
std::optional<std::vector<RefKey>> reference(std::string_view content) {
	std::vector<RefKey> keys;
	std::set<std::pair<std::string, int>> seen;
	std::size_t pos = 0;
	for (;;) {
		const std::size_t nl = content.find('\n', pos);
		const std::string_view line = content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
		const auto f = split_fields(line);
		if (!f.empty() && f[0][0] != '#') {
			if (f.size() != 3 || f[0].size() > 63)
				return std::nullopt;
			for (char c : f[0])
				if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c != 0 && std::strchr("_:-.", c))))
					return std::nullopt;
			if (f[1].size() > 9 || f[1][0] == '0')
				return std::nullopt;
			int version = 0;
			for (char c : f[1]) {
				if (c < '0' || c > '9')
					return std::nullopt;
				version = version * 10 + (c - '0');
			}
			if (f[2].size() % 2 != 0 || f[2].size() < 64)
				return std::nullopt;
			std::string key;
			for (std::size_t i = 0; i < f[2].size(); i += 2) {
				if (!is_hex(f[2][i]) || !is_hex(f[2][i + 1]))
					return std::nullopt;
				key.push_back(static_cast<char>(hex_digit(f[2][i]) * 16 + hex_digit(f[2][i + 1])));
			}
			if (!seen.emplace(std::string(f[0]), version).second)
				return std::nullopt;
			keys.push_back({std::string(f[0]), version, key});
		}
		if (nl == std::string_view::npos)
			break;
		pos = nl + 1;
	}
	return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	const std::string_view content(reinterpret_cast<const char *>(data), size);
	const std::set<std::string> secrets = hex_windows(content);
	const auto expected = reference(content);

	std::optional<keys::KeyRing> ring;
	try {
		ring.emplace(keys::KeyRing::parse(content, "fuzz.keys"));
	} catch (const outreach::Error &e) {
		check_error(e, "F0000", secrets);
		FUZZ_CHECK(std::string_view(e.what()).rfind("key file \"fuzz.keys\" line ", 0) == 0);
	} catch (...) {
		FUZZ_CHECK(!"KeyRing::parse threw something other than outreach::Error");
	}
	FUZZ_CHECK(ring.has_value() == expected.has_value());
	if (!ring)
		return 0;

	FUZZ_CHECK(ring->size() == expected->size());
	FUZZ_CHECK(ring->empty() == expected->empty());
	std::map<std::string, int> newest;
	for (const RefKey &k : *expected) {
		const auto signer = ring->at(k.scope, k.version);
		FUZZ_CHECK(signer.version == k.version && signer.mac != nullptr);
		const outreach::crypto::HmacSha256 mac(k.key);
		FUZZ_CHECK(signer.mac->digest(content) == mac.digest(content));
		int &n = newest[k.scope];
		if (k.version > n)
			n = k.version;
	}
	for (const auto &[scope, version] : newest)
		FUZZ_CHECK(ring->newest(scope).version == version);

	// Lookups that miss throw 42704, again without echoing a key.
	if (!newest.count("no-such-scope")) {
		try {
			(void)ring->newest("no-such-scope");
			FUZZ_CHECK(!"newest() found a scope that is not in the file");
		} catch (const outreach::Error &e) {
			check_error(e, "42704", secrets);
		}
	}
	if (!expected->empty()) {
		try {
			(void)ring->at(expected->front().scope, 0);
			FUZZ_CHECK(!"at() found version 0");
		} catch (const outreach::Error &e) {
			check_error(e, "42704", secrets);
		}
	}
	return 0;
}
