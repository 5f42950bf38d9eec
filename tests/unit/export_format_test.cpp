#include "core/export_format.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

using namespace outreach::export_format;
using outreach::CivilDate;
using outreach::test::contains;
using outreach::test::error_from;

namespace {
std::string date(const CivilDate &d, const char *spec) {
	std::string out;
	append_date(out, d, parse_column(spec).date_format);
	return out;
}
}  // namespace

TEST(ExportFormatSpec, Kinds) {
	EXPECT_EQ(parse_column("text").kind, Kind::text);
	EXPECT_EQ(parse_column("trim").kind, Kind::trim);
	EXPECT_EQ(parse_column("date:DD/MM/YYYY").kind, Kind::date);
	EXPECT_EQ(parse_column("code:f=F").kind, Kind::code);
}

TEST(ExportFormatSpec, BadSpecsAre22023NamingTheProblem) {
	for (const char *spec : {"", "shout", "date:", "date:MM/DD/YYYY", "code:novalue", "code:a=b;c", "code:a=b\\"}) {
		const auto e = error_from([&] { parse_column(spec); });
		EXPECT_STREQ(e.sqlstate(), "22023") << spec;
		EXPECT_TRUE(contains(e.what(), "export column spec")) << spec << ": " << e.what();
	}
	EXPECT_TRUE(contains(error_from([] { parse_column("date:MM/DD/YYYY"); }).what(), "MM/DD/YYYY"));
}

TEST(ExportFormatDates, TheFourFormats) {
	const CivilDate d{2008, 2, 9};
	EXPECT_EQ(date(d, "date:YYYY-MM-DD"), "2008-02-09");
	EXPECT_EQ(date(d, "date:DD/MM/YYYY"), "09/02/2008");
	EXPECT_EQ(date(d, "date:YYYYMMDD"), "20080209");
	EXPECT_EQ(date(d, "date:DD-MM-YYYY"), "09-02-2008");
}

TEST(ExportFormatDates, YearsHaveAtLeastFourDigits) {
	EXPECT_EQ(date({999, 12, 31}, "date:YYYY-MM-DD"), "0999-12-31");
	EXPECT_EQ(date({7, 1, 1}, "date:YYYYMMDD"), "00070101");
	EXPECT_EQ(date({12345, 1, 1}, "date:YYYY-MM-DD"), "12345-01-01");
}

TEST(ExportFormatTrim, SpacesOnlyAsBtrim) {
	EXPECT_EQ(trim_spaces("  Anne  "), "Anne");
	EXPECT_EQ(trim_spaces("   "), "");
	EXPECT_EQ(trim_spaces(""), "");
	EXPECT_EQ(trim_spaces("\tAnne\t"), "\tAnne\t");  // btrim(text) removes spaces only
}

TEST(ExportFormatCodes, TrimmedLowerCasedLookup) {
	const Column c = parse_column("code:f=F;female=F;m=M;male=M");
	EXPECT_EQ(code_of(c, std::string_view(" FEMALE ")), std::optional<std::string_view>("F"));
	EXPECT_EQ(code_of(c, std::string_view("m")), std::optional<std::string_view>("M"));
	EXPECT_EQ(code_of(c, std::string_view("x")), std::nullopt);
	EXPECT_EQ(code_of(c, std::nullopt), std::nullopt);
}

TEST(ExportFormatCodes, StarIsEveryOtherValueNullIncluded) {
	const Column c = parse_column("code:f=1;*=9");
	EXPECT_EQ(code_of(c, std::string_view("F")), std::optional<std::string_view>("1"));
	EXPECT_EQ(code_of(c, std::string_view("other")), std::optional<std::string_view>("9"));
	EXPECT_EQ(code_of(c, std::nullopt), std::optional<std::string_view>("9"));  // as a CASE's ELSE
}

TEST(ExportFormatCodes, KeysWrittenInUpperCaseNeverMatch) {
	// The value is lower-cased, the key compared as written (as CASE lower(btrim(v)) WHEN key).
	const Column c = parse_column("code:F=1");
	EXPECT_EQ(code_of(c, std::string_view("F")), std::nullopt);
}

TEST(ExportFormatCodes, BackslashEscapesSeparators) {
	const Column c = parse_column("code:a\\=b=1\\;2;c\\\\d=3");
	EXPECT_EQ(code_of(c, std::string_view("a=b")), std::optional<std::string_view>("1;2"));
	EXPECT_EQ(code_of(c, std::string_view("c\\d")), std::optional<std::string_view>("3"));
}
