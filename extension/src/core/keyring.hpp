// The key ring for pseudonyms: which secret signs which scope ("linkage", "recipient:ucas")
// at which version. Keys live only in a file outside the database (never in a table that
// pg_dump copies), and no error message ever quotes a key or a line that holds one.
#pragma once
#include "hmac_sha256.hpp"

#include <map>
#include <string>
#include <string_view>

namespace outreach::keys {

inline constexpr std::size_t min_key_bytes = 32;

class KeyRing {
public:
	// File format, one key per line: `scope version hex-key`; blank lines and lines starting
	// with '#' are ignored. Throws outreach::Error (F0000) naming the line, never its content.
	static KeyRing parse(std::string_view content, std::string_view source_name);

	// Opens, checks and parses a key file: it must be a regular file that neither group nor
	// others may read or write. Throws outreach::Error naming the path and the problem.
	static KeyRing load_file(const std::string &path);

	struct Signer {
		int version;
		const crypto::HmacSha256 *mac;
	};

	// The newest version of a scope: it signs new pseudonyms. Throws 42704 when the scope is absent.
	Signer newest(std::string_view scope) const;
	// A given version, for recognising older pseudonyms. Throws 42704 when absent.
	Signer at(std::string_view scope, int version) const;

	bool empty() const { return scopes_.empty(); }
	std::size_t size() const;

private:
	std::map<std::string, std::map<int, crypto::HmacSha256>, std::less<>> scopes_;
	std::string source_;
};

bool is_valid_scope(std::string_view scope);

}  // namespace outreach::keys

#include "cpp_only.hpp"
