#include "core/keyring.hpp"

#include "test_support.hpp"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using outreach::Error;
using outreach::crypto::HmacSha256;
using outreach::keys::KeyRing;
using outreach::test::contains;
using outreach::test::error_from;

namespace {

// Two distinct 32-byte test keys (obvious byte patterns, never real keys), as hex and as bytes.
const std::string key_a_hex = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
const std::string key_b_hex = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf";

std::string bytes_of(const std::string &hex) {
	std::string out;
	for (std::size_t i = 0; i < hex.size(); i += 2)
		out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
	return out;
}

// True when signer uses the key whose hexadecimal is key_hex.
bool signs_with(const KeyRing::Signer &signer, const std::string &key_hex) {
	return signer.mac->digest("probe") == HmacSha256(bytes_of(key_hex)).digest("probe");
}

// The error for content whose third line is bad_line (after a comment and a valid key).
Error error_for_third_line(const std::string &bad_line) {
	const std::string content = "# keys\nlinkage 1 " + key_b_hex + "\n" + bad_line + "\n";
	return error_from([&] { KeyRing::parse(content, "test.keys"); });
}

// Checks a malformed-line error: F0000, names the line, never quotes the key.
void expect_line_error(const Error &e, const std::string &key_hex) {
	EXPECT_STREQ(e.sqlstate(), "F0000");
	const std::string what = e.what();
	EXPECT_TRUE(contains(what, "line 3")) << what;
	EXPECT_TRUE(contains(what, "test.keys")) << what;
	for (const std::string &text : {what, e.detail(), e.hint()}) {
		EXPECT_FALSE(contains(text, key_hex)) << text;
		EXPECT_FALSE(contains(text, key_hex.substr(0, 12))) << text;
		EXPECT_FALSE(contains(text, key_b_hex.substr(0, 12))) << text;
	}
}

// A file in /tmp removed at the end of the test.
class TempFile {
public:
	explicit TempFile(const std::string &content, mode_t mode = 0600) {
		char name[] = "/tmp/outreach_keyring_test_XXXXXX";
		const int fd = ::mkstemp(name);
		if (fd < 0)
			throw std::runtime_error("mkstemp failed");
		path_ = name;
		const bool written = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
		::close(fd);
		if (!written || ::chmod(name, mode) != 0)
			throw std::runtime_error("could not prepare " + path_);
	}
	~TempFile() { ::unlink(path_.c_str()); }
	TempFile(const TempFile &) = delete;
	TempFile &operator=(const TempFile &) = delete;
	const std::string &path() const { return path_; }

private:
	std::string path_;
};

class TempDir {
public:
	TempDir() {
		char name[] = "/tmp/outreach_keyring_dir_XXXXXX";
		if (::mkdtemp(name) == nullptr)
			throw std::runtime_error("mkdtemp failed");
		path_ = name;
	}
	~TempDir() { ::rmdir(path_.c_str()); }
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	const std::string &path() const { return path_; }

private:
	std::string path_;
};

const std::string valid_content = "linkage 1 " + key_a_hex + "\n";

}  // namespace

// ---- parse: valid content ------------------------------------------------------------------

TEST(KeyRing, ParsesCommentsBlankLinesAndSeveralScopes) {
	const std::string content = "# pg_outreach keys\n"
	                            "\n"
	                            "   # an indented comment\n"
	                            "linkage 1 " + key_a_hex + "\n"
	                            "\t\n"
	                            "recipient:ucas\t1\t" + key_b_hex + "  \n"
	                            "linkage 2 " + key_b_hex;  // no final newline
	const KeyRing ring = KeyRing::parse(content, "test.keys");
	EXPECT_FALSE(ring.empty());
	EXPECT_EQ(ring.size(), 3u);
	EXPECT_TRUE(signs_with(ring.at("linkage", 1), key_a_hex));
	EXPECT_TRUE(signs_with(ring.at("linkage", 2), key_b_hex));
	EXPECT_TRUE(signs_with(ring.newest("recipient:ucas"), key_b_hex));
}

TEST(KeyRing, AcceptsWindowsLineEndingsAndUpperCaseHex) {
	std::string upper = key_a_hex;
	for (char &c : upper)
		if (c >= 'a' && c <= 'f')
			c = static_cast<char>(c - 'a' + 'A');
	const KeyRing ring = KeyRing::parse("# keys\r\nlinkage 1 " + upper + "\r\n", "test.keys");
	EXPECT_EQ(ring.size(), 1u);
	EXPECT_TRUE(signs_with(ring.newest("linkage"), key_a_hex));
}

TEST(KeyRing, NewestPicksTheHighestVersion) {
	const KeyRing ring = KeyRing::parse("linkage 9 " + key_a_hex + "\nlinkage 10 " + key_b_hex + "\nlinkage 3 " +
	                                        key_a_hex + "\n",
	                                    "test.keys");
	const auto signer = ring.newest("linkage");
	EXPECT_EQ(signer.version, 10);
	EXPECT_TRUE(signs_with(signer, key_b_hex));
}

TEST(KeyRing, AtFindsOlderVersions) {
	const KeyRing ring = KeyRing::parse("linkage 1 " + key_a_hex + "\nlinkage 2 " + key_b_hex + "\n", "test.keys");
	const auto old = ring.at("linkage", 1);
	EXPECT_EQ(old.version, 1);
	EXPECT_TRUE(signs_with(old, key_a_hex));
	EXPECT_FALSE(signs_with(old, key_b_hex));
}

TEST(KeyRing, AcceptsTheLargestVersion) {
	const KeyRing ring = KeyRing::parse("linkage 999999999 " + key_a_hex + "\n", "test.keys");
	EXPECT_EQ(ring.newest("linkage").version, 999999999);
}

TEST(KeyRing, EmptyContentGivesAnEmptyRing) {
	EXPECT_TRUE(KeyRing::parse("", "test.keys").empty());
	EXPECT_TRUE(KeyRing::parse("# only a comment\n\n", "test.keys").empty());
	EXPECT_EQ(KeyRing::parse("", "test.keys").size(), 0u);
}

TEST(KeyRing, MissingScopeThrows42704) {
	const KeyRing ring = KeyRing::parse(valid_content, "test.keys");
	const auto e = error_from([&] { ring.newest("recipient:ucas"); });
	EXPECT_STREQ(e.sqlstate(), "42704");
	EXPECT_TRUE(contains(e.what(), "recipient:ucas")) << e.what();
	EXPECT_STREQ(error_from([&] { ring.at("recipient:ucas", 1); }).sqlstate(), "42704");
}

TEST(KeyRing, MissingVersionThrows42704) {
	const KeyRing ring = KeyRing::parse(valid_content, "test.keys");
	const auto e = error_from([&] { ring.at("linkage", 2); });
	EXPECT_STREQ(e.sqlstate(), "42704");
	EXPECT_TRUE(contains(e.what(), "version 2")) << e.what();
	EXPECT_FALSE(contains(e.what(), key_a_hex.substr(0, 12))) << e.what();
}

TEST(KeyRing, ScopeRules) {
	using outreach::keys::is_valid_scope;
	EXPECT_TRUE(is_valid_scope("linkage"));
	EXPECT_TRUE(is_valid_scope("recipient:ucas"));
	EXPECT_TRUE(is_valid_scope("a_b-c.d:9"));
	EXPECT_TRUE(is_valid_scope(std::string(63, 'a')));
	EXPECT_FALSE(is_valid_scope(std::string(64, 'a')));
	EXPECT_FALSE(is_valid_scope(""));
	EXPECT_FALSE(is_valid_scope("Linkage"));
	EXPECT_FALSE(is_valid_scope("link/age"));
}

// ---- parse: malformed lines ----------------------------------------------------------------

TEST(KeyRing, RejectsTwoFields) { expect_line_error(error_for_third_line("linkage " + key_a_hex), key_a_hex); }

TEST(KeyRing, RejectsFourFields) {
	expect_line_error(error_for_third_line("other 1 " + key_a_hex + " # trailing comment"), key_a_hex);
}

TEST(KeyRing, RejectsBadScope) {
	const auto e = error_for_third_line("Linkage 1 " + key_a_hex);
	expect_line_error(e, key_a_hex);
	EXPECT_TRUE(contains(e.what(), "scope")) << e.what();
}

TEST(KeyRing, RejectsVersionZero) {
	const auto e = error_for_third_line("other 0 " + key_a_hex);
	expect_line_error(e, key_a_hex);
	EXPECT_TRUE(contains(e.what(), "version")) << e.what();
}

TEST(KeyRing, RejectsNonNumericVersion) {
	expect_line_error(error_for_third_line("other one " + key_a_hex), key_a_hex);
	expect_line_error(error_for_third_line("other 1a " + key_a_hex), key_a_hex);
	expect_line_error(error_for_third_line("other -1 " + key_a_hex), key_a_hex);
}

TEST(KeyRing, RejectsVersionWithLeadingZero) { expect_line_error(error_for_third_line("other 01 " + key_a_hex), key_a_hex); }

TEST(KeyRing, RejectsVersionAbove999999999) {
	expect_line_error(error_for_third_line("other 1000000000 " + key_a_hex), key_a_hex);
}

TEST(KeyRing, RejectsOddLengthHex) {
	const std::string odd = key_a_hex + "7";
	const auto e = error_for_third_line("other 1 " + odd);
	expect_line_error(e, odd);
	EXPECT_TRUE(contains(e.what(), "even number")) << e.what();
}

TEST(KeyRing, RejectsNonHexDigits) {
	std::string bad = key_a_hex;
	bad[40] = 'g';
	const auto e = error_for_third_line("other 1 " + bad);
	expect_line_error(e, bad);
	EXPECT_TRUE(contains(e.what(), "hexadecimal")) << e.what();
}

TEST(KeyRing, RejectsKeyShorterThan32Bytes) {
	const std::string short_key = key_a_hex.substr(0, 62);  // 31 bytes
	const auto e = error_for_third_line("other 1 " + short_key);
	expect_line_error(e, short_key);
	EXPECT_TRUE(contains(e.what(), "31 bytes")) << e.what();
	EXPECT_TRUE(contains(e.hint(), "openssl rand")) << e.hint();
}

TEST(KeyRing, RejectsDuplicateScopeAndVersion) {
	const auto e = error_for_third_line("linkage 1 " + key_a_hex);  // line 2 is "linkage 1 <key b>"
	expect_line_error(e, key_a_hex);
	EXPECT_TRUE(contains(e.what(), "twice")) << e.what();
}

TEST(KeyRing, SameVersionInAnotherScopeIsNotADuplicate) {
	const KeyRing ring = KeyRing::parse("linkage 1 " + key_a_hex + "\nrecipient:dfe 1 " + key_b_hex + "\n", "k");
	EXPECT_EQ(ring.size(), 2u);
}

// ---- load_file -----------------------------------------------------------------------------

TEST(KeyRingFile, LoadsMode0600) {
	const TempFile file(valid_content, 0600);
	const KeyRing ring = KeyRing::load_file(file.path());
	EXPECT_EQ(ring.size(), 1u);
	EXPECT_TRUE(signs_with(ring.newest("linkage"), key_a_hex));
}

TEST(KeyRingFile, LoadsMode0400) {
	const TempFile file(valid_content, 0400);
	EXPECT_EQ(KeyRing::load_file(file.path()).size(), 1u);
}

TEST(KeyRingFile, RejectsGroupReadable0640) {
	const TempFile file(valid_content, 0640);
	const auto e = error_from([&] { KeyRing::load_file(file.path()); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), "group or others")) << e.what();
	EXPECT_TRUE(contains(e.what(), file.path())) << e.what();
}

TEST(KeyRingFile, RejectsOthersReadable0604) {
	const TempFile file(valid_content, 0604);
	const auto e = error_from([&] { KeyRing::load_file(file.path()); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), "group or others")) << e.what();
}

TEST(KeyRingFile, RejectsGroupWritable0620) {
	const TempFile file(valid_content, 0620);
	EXPECT_STREQ(error_from([&] { KeyRing::load_file(file.path()); }).sqlstate(), "F0000");
}

TEST(KeyRingFile, RejectsMissingFile) {
	const auto e = error_from([] { KeyRing::load_file("/tmp/outreach_keyring_test_does_not_exist"); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), "could not open")) << e.what();
}

TEST(KeyRingFile, RejectsRelativePath) {
	const auto e = error_from([] { KeyRing::load_file("keys/outreach.keys"); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), "absolute path")) << e.what();
}

TEST(KeyRingFile, RejectsEmptyPath) {
	const auto e = error_from([] { KeyRing::load_file(""); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), "not set")) << e.what();
}

TEST(KeyRingFile, RejectsFileWithOnlyComments) {
	const TempFile file("# no keys yet\n\n# still none\n", 0600);
	const auto e = error_from([&] { KeyRing::load_file(file.path()); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), "holds no keys")) << e.what();
}

TEST(KeyRingFile, RejectsEmptyFile) {
	const TempFile file("", 0600);
	EXPECT_TRUE(contains(error_from([&] { KeyRing::load_file(file.path()); }).what(), "holds no keys"));
}

TEST(KeyRingFile, RejectsSymlinkEvenToAGoodFile) {
	const TempFile target(valid_content, 0600);
	const TempDir dir;
	const std::string link = dir.path() + "/outreach.keys";
	ASSERT_EQ(::symlink(target.path().c_str(), link.c_str()), 0);
	EXPECT_EQ(KeyRing::load_file(target.path()).size(), 1u);  // the target itself is fine
	const auto e = error_from([&] { KeyRing::load_file(link); });
	::unlink(link.c_str());
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), link)) << e.what();
}

TEST(KeyRingFile, RejectsDirectory) {
	const TempDir dir;  // mkdtemp makes it 0700
	const auto e = error_from([&] { KeyRing::load_file(dir.path()); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	EXPECT_TRUE(contains(e.what(), "not a regular file")) << e.what();
}

TEST(KeyRingFile, MalformedLineErrorNamesTheFileAndLineButNotTheKey) {
	const std::string short_key = key_a_hex.substr(0, 40);
	const TempFile file("# keys\n\nlinkage 1 " + short_key + "\n", 0600);
	const auto e = error_from([&] { KeyRing::load_file(file.path()); });
	EXPECT_STREQ(e.sqlstate(), "F0000");
	const std::string what = e.what();
	EXPECT_TRUE(contains(what, file.path() + "\" line 3")) << what;
	EXPECT_FALSE(contains(what, short_key.substr(0, 12))) << what;
	EXPECT_FALSE(contains(e.hint(), short_key.substr(0, 12))) << e.hint();
}
