// Input limits of the SQL-callable functions (core/limits.hpp).
#include "core/limits.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/error.hpp"
#include "core/name_normalise.hpp"

namespace lim = outreach::limits;

namespace {

std::string repeat(const std::string &s, std::size_t n) {
	std::string out;
	for (std::size_t i = 0; i < n; ++i)
		out += s;
	return out;
}

const std::string fdfa = "\xEF\xB7\xBA";         // U+FDFA, the largest NFKD expansion
const std::string math_a = "\xF0\x9D\x90\x80";   // U+1D400, four bytes

void expect_22001(const std::function<void()> &f, const std::string &message) {
	try {
		f();
		FAIL() << "no error";
	} catch (const outreach::Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22001");
		EXPECT_EQ(std::string(e.what()), message);
	}
}

}  // namespace

TEST(Limits, CountsUtf8Characters) {
	EXPECT_EQ(lim::utf8_chars(""), 0u);
	EXPECT_EQ(lim::utf8_chars("abc"), 3u);
	EXPECT_EQ(lim::utf8_chars(fdfa + math_a + "x"), 3u);
	EXPECT_EQ(lim::utf8_chars("\xFF\xFE"), 2u);  // malformed bytes count one each
}

TEST(Limits, NameOfTheLimitIsAccepted) {
	EXPECT_NO_THROW(lim::check_name(repeat("a", 1000), "name"));
	EXPECT_NO_THROW(lim::check_name(repeat(fdfa, 1000), "name"));
	EXPECT_NO_THROW(lim::check_name(repeat(math_a, 1000), "name"));  // 4000 bytes
}

TEST(Limits, LongerNamesAreRefusedWith22001) {
	expect_22001([] { lim::check_name(repeat("a", 1001), "first name"); },
	             "first name is longer than the limit of 1000 characters");
	expect_22001([] { lim::check_name(repeat(fdfa, 1001), "name"); }, "name is longer than the limit of 1000 characters");
	expect_22001([] { lim::check_name(repeat(math_a, 1000) + "a", "name"); },
	             "name is longer than the limit of 1000 characters");
	expect_22001([] { lim::check_name(std::string(10'000'000, ' '), "name"); },
	             "name is longer than the limit of 1000 characters");
}

TEST(Limits, WorstNameOfTheLimitNormalisesToABoundedResult) {
	const std::string worst = repeat(fdfa, lim::max_name_chars);
	const std::string out = outreach::names::normalise(worst);
	EXPECT_LE(lim::utf8_chars(out), 18 * lim::max_name_chars);
	EXPECT_LE(out.size(), 4 * 18 * lim::max_name_chars);
}

TEST(Limits, BytesLimit) {
	EXPECT_NO_THROW(lim::check_bytes(std::string(64, ' '), lim::max_postcode_bytes, "postcode"));
	expect_22001([] { lim::check_bytes(std::string(65, ' '), lim::max_postcode_bytes, "postcode"); },
	             "postcode is longer than the limit of 64 bytes");
	EXPECT_TRUE(lim::within(std::string(63, 's'), lim::max_scope_bytes));
	EXPECT_FALSE(lim::within(std::string(64, 's'), lim::max_scope_bytes));
}

TEST(Limits, CsvRecordLimitsAreTheReaders) {
	EXPECT_EQ(lim::max_csv_fields, outreach::csv::max_fields);
	EXPECT_EQ(lim::max_csv_record_bytes, outreach::csv::max_record_bytes);
}
