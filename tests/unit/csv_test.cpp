#include "core/csv.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using outreach::csv::append_csv_field;
using outreach::csv::csv_record;
using outreach::csv::CsvReader;
using outreach::csv::CsvRecord;
using outreach::csv::needs_quoting;

namespace {

using Fields = std::vector<std::string>;
using OptFields = std::vector<std::optional<std::string_view>>;

// Every record of the buffer (good and bad), copied out.
std::vector<CsvRecord> read_all(std::string_view bytes) {
	CsvReader reader(bytes);
	std::vector<CsvRecord> out;
	CsvRecord rec;
	while (reader.next(rec))
		out.push_back(rec);
	return out;
}

// One record that must be good.
Fields one(std::string_view bytes) {
	auto recs = read_all(bytes);
	EXPECT_EQ(recs.size(), 1u) << "input: " << bytes;
	if (recs.size() != 1)
		return {};
	EXPECT_EQ(recs[0].error, "") << "input: " << bytes;
	return recs[0].fields;
}

std::string record_of(const Fields &fields) {
	OptFields views(fields.begin(), fields.end());
	return csv_record(views);
}

}  // namespace

// ---- writing -------------------------------------------------------------------------------

TEST(CsvWrite, PlainFieldsAreNotQuoted) {
	EXPECT_EQ(csv_record({"a", "bc", "123", "Zo\xC3\xAB"}), "a,bc,123,Zo\xC3\xAB");
}

TEST(CsvWrite, QuotesOnlyWhenNeeded) {
	EXPECT_EQ(csv_record({"a,b"}), "\"a,b\"");
	EXPECT_EQ(csv_record({"say \"hi\""}), "\"say \"\"hi\"\"\"");
	EXPECT_EQ(csv_record({"a\nb", "c\rd", "e\r\nf"}), "\"a\nb\",\"c\rd\",\"e\r\nf\"");
	EXPECT_EQ(csv_record({" lead", "trail ", "in side"}), "\" lead\",\"trail \",in side");
	EXPECT_EQ(csv_record({"\"", ",", " "}), "\"\"\"\",\",\",\" \"");
	EXPECT_EQ(csv_record({"tab\there"}), "tab\there");
	EXPECT_EQ(csv_record({"\xEF\xBB\xBFx", "y\xEF\xBB\xBF"}), "\"\xEF\xBB\xBFx\",y\xEF\xBB\xBF");
}

TEST(CsvWrite, NullAndEmptyAreBothEmpty) {
	EXPECT_EQ(csv_record({std::nullopt, "", "x", std::nullopt}), ",,x,");
	EXPECT_EQ(csv_record({std::nullopt, std::nullopt}), ",");
}

TEST(CsvWrite, OneEmptyFieldIsQuotedSoItIsNotAnEmptyLine) {
	EXPECT_EQ(csv_record({""}), "\"\"");
	EXPECT_EQ(csv_record({std::nullopt}), "\"\"");
	EXPECT_EQ(csv_record({}), "");
	EXPECT_EQ(one("\"\"\n"), Fields{""});
}

TEST(CsvWrite, AppendFieldAppends) {
	std::string out = "x,";
	append_csv_field(out, "a\"b");
	EXPECT_EQ(out, "x,\"a\"\"b\"");
	EXPECT_TRUE(needs_quoting(" "));
	EXPECT_FALSE(needs_quoting(""));
	EXPECT_FALSE(needs_quoting("a b"));
}

// ---- reading good records ------------------------------------------------------------------

TEST(CsvRead, SimpleRecordsWithLineNumbers) {
	auto recs = read_all("a,b,c\n1,2,3\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].fields, (Fields{"a", "b", "c"}));
	EXPECT_EQ(recs[0].line_no, 1);
	EXPECT_TRUE(recs[0].terminated);
	EXPECT_EQ(recs[1].fields, (Fields{"1", "2", "3"}));
	EXPECT_EQ(recs[1].line_no, 2);
}

TEST(CsvRead, EmptyFields) {
	EXPECT_EQ(one(",\n"), (Fields{"", ""}));
	EXPECT_EQ(one("a,,\n"), (Fields{"a", "", ""}));
	EXPECT_EQ(one("\"\",\"\"\n"), (Fields{"", ""}));
}

TEST(CsvRead, FieldsAreVerbatim) { EXPECT_EQ(one("  a , b\t\n"), (Fields{"  a ", " b\t"})); }

TEST(CsvRead, QuotedFields) {
	EXPECT_EQ(one("\"a,b\",\"say \"\"hi\"\"\",\"\"\"\"\n"), (Fields{"a,b", "say \"hi\"", "\""}));
}

TEST(CsvRead, CrlfAndLfMixed) {
	auto recs = read_all("a,b\r\nc,d\ne,\"f\"\r\n\"g\",h\n");
	ASSERT_EQ(recs.size(), 4u);
	EXPECT_EQ(recs[0].fields, (Fields{"a", "b"}));
	EXPECT_EQ(recs[1].fields, (Fields{"c", "d"}));
	EXPECT_EQ(recs[2].fields, (Fields{"e", "f"}));
	EXPECT_EQ(recs[3].fields, (Fields{"g", "h"}));
	for (int i = 0; i < 4; ++i) {
		EXPECT_EQ(recs[i].line_no, i + 1);
		EXPECT_EQ(recs[i].error, "");
	}
}

TEST(CsvRead, QuotedNewlinesKeepCountingPhysicalLines) {
	auto recs = read_all("id,note\n1,\"two\nlines\"\n2,\"three\r\nlines\nhere\"\n3,x\n");
	ASSERT_EQ(recs.size(), 4u);
	EXPECT_EQ(recs[1].fields, (Fields{"1", "two\nlines"}));
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_EQ(recs[2].fields, (Fields{"2", "three\r\nlines\nhere"}));
	EXPECT_EQ(recs[2].line_no, 4);
	EXPECT_EQ(recs[3].fields, (Fields{"3", "x"}));
	EXPECT_EQ(recs[3].line_no, 7);
}

TEST(CsvRead, CarriageReturnInsideQuotesIsData) { EXPECT_EQ(one("\"a\rb\"\n"), (Fields{"a\rb"})); }

TEST(CsvRead, ByteOrderMarkAtStartIsSkipped) {
	auto recs = read_all("\xEF\xBB\xBFid,name\n1,x\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].fields, (Fields{"id", "name"}));
	EXPECT_EQ(recs[0].line_no, 1);
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_TRUE(read_all("\xEF\xBB\xBF").empty());
}

TEST(CsvRead, ByteOrderMarkElsewhereIsData) {
	EXPECT_EQ(one("a,\xEF\xBB\xBF" "b\n"), (Fields{"a", "\xEF\xBB\xBF" "b"}));
}

TEST(CsvRead, LastLineWithoutTerminatorIsFlagged) {
	auto recs = read_all("a,b\nc,d");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_TRUE(recs[0].terminated);
	EXPECT_EQ(recs[1].fields, (Fields{"c", "d"}));
	EXPECT_EQ(recs[1].error, "");
	EXPECT_FALSE(recs[1].terminated);
	EXPECT_EQ(recs[1].line_no, 2);

	recs = read_all("a,\"b\"");
	ASSERT_EQ(recs.size(), 1u);
	EXPECT_EQ(recs[0].fields, (Fields{"a", "b"}));
	EXPECT_FALSE(recs[0].terminated);

	recs = read_all("a,");
	ASSERT_EQ(recs.size(), 1u);
	EXPECT_EQ(recs[0].fields, (Fields{"a", ""}));
	EXPECT_FALSE(recs[0].terminated);
}

TEST(CsvRead, EmptyInputHasNoRecords) {
	EXPECT_TRUE(read_all("").empty());
	EXPECT_TRUE(read_all("\n").empty());
	EXPECT_TRUE(read_all("\r\n").empty());
}

TEST(CsvRead, ValidUtf8IsAccepted) {
	// 2-, 3- and 4-byte forms at the edges of their ranges: U+0080, U+07FF, U+0800, U+D7FF,
	// U+E000, U+FFFF, U+10000, U+10FFFF.
	const std::string s = "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
	EXPECT_EQ(one(s + "," + s + "\n"), (Fields{s, s}));
}

// ---- errors --------------------------------------------------------------------------------

TEST(CsvError, EmptyLineIsAnErrorRecordButOneAtTheEndIsIgnored) {
	auto recs = read_all("a\n\nb\r\n\r\nc\n\n");
	ASSERT_EQ(recs.size(), 5u);
	EXPECT_EQ(recs[1].error, "empty line");
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_TRUE(recs[1].fields.empty());
	EXPECT_EQ(recs[2].fields, Fields{"b"});
	EXPECT_EQ(recs[3].error, "empty line");
	EXPECT_EQ(recs[3].line_no, 4);
	EXPECT_EQ(recs[4].fields, Fields{"c"});
	EXPECT_EQ(recs[4].line_no, 5);

	recs = read_all("a\n\n\n");  // only the very last empty line is ignored
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[1].error, "empty line");
	EXPECT_EQ(recs[1].line_no, 2);
}

TEST(CsvError, QuoteInUnquotedField) {
	auto recs = read_all("ok,1\nab\"c,d\nnext,2\n");
	ASSERT_EQ(recs.size(), 3u);
	EXPECT_EQ(recs[1].error, "unexpected double quote in unquoted field (field 1)");
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_TRUE(recs[1].fields.empty());
	EXPECT_EQ(recs[2].fields, (Fields{"next", "2"}));
	EXPECT_EQ(recs[2].line_no, 3);
	EXPECT_EQ(read_all("a,b,c\"\n")[0].error, "unexpected double quote in unquoted field (field 3)");
	EXPECT_EQ(read_all("a, \"b\"\n")[0].error, "unexpected double quote in unquoted field (field 2)");
}

TEST(CsvError, TextAfterClosingQuote) {
	auto recs = read_all("\"a\"b,c\n\"x\"\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].error, "unexpected text after closing quote (field 1)");
	EXPECT_EQ(recs[0].line_no, 1);
	EXPECT_EQ(recs[1].fields, Fields{"x"});
	EXPECT_EQ(read_all("a,\"b\" \n")[0].error, "unexpected text after closing quote (field 2)");
	EXPECT_EQ(read_all("a,\"b\"\rc\n")[0].error, "unexpected text after closing quote (field 2)");
}

TEST(CsvError, TextAfterClosingQuoteOfMultiLineFieldResynchronisesAfterIt) {
	auto recs = read_all("1,\"a\nb\"x,y\n2,z\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].error, "unexpected text after closing quote (field 2)");
	EXPECT_EQ(recs[0].line_no, 1);
	EXPECT_EQ(recs[1].fields, (Fields{"2", "z"}));
	EXPECT_EQ(recs[1].line_no, 3);
}

TEST(CsvError, LoneCarriageReturn) {
	auto recs = read_all("a\rb,c\nd\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].error, "lone carriage return in unquoted field (field 1)");
	EXPECT_EQ(recs[1].fields, Fields{"d"});
	EXPECT_EQ(recs[1].line_no, 2);
	recs = read_all("x,y\r");  // a CR at the very end is not a terminator either
	ASSERT_EQ(recs.size(), 1u);
	EXPECT_EQ(recs[0].error, "lone carriage return in unquoted field (field 2)");
	EXPECT_FALSE(recs[0].terminated);
	// Old Mac line ends: the whole file is one bad line.
	EXPECT_EQ(read_all("a\rb\rc\r").size(), 1u);
}

TEST(CsvError, UnterminatedQuotedFieldAtEnd) {
	auto recs = read_all("a,b\nc,\"d\ne,f\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[1].error, "unterminated quoted field (truncated file?)");
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_FALSE(recs[1].terminated);
	EXPECT_TRUE(recs[1].fields.empty());
	EXPECT_EQ(read_all("\"")[0].error, "unterminated quoted field (truncated file?)");
	EXPECT_EQ(read_all("\"a\"\"")[0].error, "unterminated quoted field (truncated file?)");
}

TEST(CsvError, InvalidUtf8WithOffset) {
	auto recs = read_all("ok\nab,\xFF" "c\nnext\n");
	ASSERT_EQ(recs.size(), 3u);
	EXPECT_EQ(recs[1].error, "invalid UTF-8 at byte offset 3 of the record");
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_TRUE(recs[1].fields.empty());
	EXPECT_EQ(recs[2].fields, Fields{"next"});
	EXPECT_EQ(recs[2].line_no, 3);
}

TEST(CsvError, InvalidUtf8InsideMultiLineQuotedFieldSkipsTheWholeRecord) {
	auto recs = read_all("1,\"a\nb\xC3\"\n2,c\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].error, "invalid UTF-8 at byte offset 6 of the record");
	EXPECT_EQ(recs[1].fields, (Fields{"2", "c"}));
	EXPECT_EQ(recs[1].line_no, 3);
}

TEST(CsvError, StrictUtf8) {
	const char *bad[] = {
		"\x80",              // lone continuation byte
		"\xC0\xAF",          // overlong '/'
		"\xC1\xBF",          // overlong
		"\xE0\x80\xAF",      // overlong 3-byte
		"\xE0\x9F\xBF",      // overlong 3-byte (U+07FF)
		"\xF0\x8F\xBF\xBF",  // overlong 4-byte (U+FFFF)
		"\xED\xA0\x80",      // surrogate U+D800
		"\xED\xBF\xBF",      // surrogate U+DFFF
		"\xF4\x90\x80\x80",  // U+110000
		"\xF5\x80\x80\x80",  // lead byte past F4
		"\xFF",
		"\xC3",              // truncated 2-byte at end of record
		"\xE2\x82",          // truncated 3-byte
		"\xF0\x9F\x98",      // truncated 4-byte
		"\xC3(",             // continuation missing
	};
	for (const char *b : bad) {
		const std::string in = std::string("xy") + b + "z\n";
		auto recs = read_all(in);
		ASSERT_EQ(recs.size(), 1u) << in;
		EXPECT_EQ(recs[0].error, "invalid UTF-8 at byte offset 2 of the record") << in;
	}
	// A truncated sequence at the end of an unterminated last line.
	EXPECT_EQ(read_all("ab\xE2\x82")[0].error, "invalid UTF-8 at byte offset 2 of the record");
}

TEST(CsvError, NulByte) {
	auto recs = read_all(std::string_view("a,b\0c\nd\n", 8));
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].error, "NUL byte at byte offset 3 of the record");
	EXPECT_EQ(recs[1].fields, Fields{"d"});
}

TEST(CsvError, FirstProblemInTheRecordIsReported) {
	EXPECT_EQ(read_all("\xFF,a\"b\n")[0].error, "invalid UTF-8 at byte offset 0 of the record");
	EXPECT_EQ(read_all("a\"b,\xFF\n")[0].error, "unexpected double quote in unquoted field (field 1)");
	// BOM skipped: offsets count from the start of the record, after it.
	EXPECT_EQ(read_all("\xEF\xBB\xBF" "a\xFF\n")[0].error, "invalid UTF-8 at byte offset 1 of the record");
}

TEST(CsvError, ErrorOnLastLineWithoutTerminator) {
	auto recs = read_all("a\nb\"c");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[1].error, "unexpected double quote in unquoted field (field 1)");
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_FALSE(recs[1].terminated);
}

TEST(CsvError, VeryLongRecord) {
	const std::size_t max = outreach::csv::max_record_bytes;
	// Exactly the limit: accepted, with either terminator.
	std::string at_limit(max, 'x');
	EXPECT_EQ(one(at_limit + "\n"), Fields{at_limit});
	EXPECT_EQ(one(at_limit + "\r\n"), Fields{at_limit});
	EXPECT_EQ(one(at_limit), Fields{at_limit});
	const std::string quoted = "\"" + std::string(max - 2, 'q') + "\"";
	auto first = read_all(quoted + "\r\nx");
	ASSERT_EQ(first.size(), 2u);
	EXPECT_EQ(first[0].error, "");
	EXPECT_EQ(first[0].fields, Fields{std::string(max - 2, 'q')});
	EXPECT_EQ(first[1].fields, Fields{"x"});

	// One byte more: an error, and reading resumes on the next line.
	auto recs = read_all("first\n" + std::string(max + 1, 'x') + "\nlast\n");
	ASSERT_EQ(recs.size(), 3u);
	EXPECT_EQ(recs[1].error, "record longer than 1048576 bytes");
	EXPECT_EQ(recs[1].line_no, 2);
	EXPECT_EQ(recs[2].fields, Fields{"last"});
	EXPECT_EQ(recs[2].line_no, 3);

	// Inside a quoted field with newlines: the count of lines stays right.
	std::string big = "\"";
	for (int i = 0; i < 20000; ++i)
		big += std::string(99, 'y') + "\n";
	recs = read_all("a\n" + big + "\"\nafter\n");
	ASSERT_GE(recs.size(), 2u);
	EXPECT_EQ(recs[1].error, "record longer than 1048576 bytes");
	EXPECT_EQ(recs[1].line_no, 2);
	// The reader resynchronised inside the runaway field; every record it reports still
	// carries the physical line it starts on.
	EXPECT_EQ(recs[2].line_no, 2 + static_cast<int>(max / 100) + 1);

	// A closing quote one byte past the limit.
	recs = read_all("\"" + std::string(max - 1, 'q') + "\"\nok\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].error, "record longer than 1048576 bytes");
	EXPECT_EQ(recs[1].fields, Fields{"ok"});
	recs = read_all("\"" + std::string(max - 1, 'q') + "\"");
	ASSERT_EQ(recs.size(), 1u);
	EXPECT_EQ(recs[0].error, "record longer than 1048576 bytes");

	recs = read_all(std::string(max + 1, 'x'));
	ASSERT_EQ(recs.size(), 1u);
	EXPECT_EQ(recs[0].error, "record longer than 1048576 bytes");
	EXPECT_FALSE(recs[0].terminated);
}

TEST(CsvError, TooManyFields) {
	std::string ok(999, ',');  // 1000 fields
	EXPECT_EQ(one(ok + "\n").size(), 1000u);
	auto recs = read_all(ok + ",\nnext\n");
	ASSERT_EQ(recs.size(), 2u);
	EXPECT_EQ(recs[0].error, "record has more than 1000 fields");
	EXPECT_EQ(recs[1].fields, Fields{"next"});
	EXPECT_EQ(recs[1].line_no, 2);
}

TEST(CsvRead, ReusedRecordIsReset) {
	CsvReader reader("a,b,c\n\"x\nbad\n");
	CsvRecord rec;
	ASSERT_TRUE(reader.next(rec));
	EXPECT_EQ(rec.fields.size(), 3u);
	ASSERT_TRUE(reader.next(rec));
	EXPECT_EQ(rec.error, "unterminated quoted field (truncated file?)");
	EXPECT_TRUE(rec.fields.empty());
	EXPECT_FALSE(reader.next(rec));

	CsvReader r2("a,b,c\nd\n");
	ASSERT_TRUE(r2.next(rec));
	ASSERT_TRUE(r2.next(rec));
	EXPECT_EQ(rec.fields, Fields{"d"});
	EXPECT_EQ(rec.error, "");
}

// ---- round trips ---------------------------------------------------------------------------

TEST(CsvRoundTrip, RandomFields) {
	std::mt19937 rng(20240601);
	const std::vector<std::string> atoms = {"a", "Z", "0", " ", ",", "\"", "\r", "\n", "\r\n", "\"\"",
	                                        "\xC3\xAB", "\xE2\x80\x99", "\xF0\x9F\x98\x80", "\t", "x y"};
	std::string file;
	std::vector<Fields> expected;
	for (int r = 0; r < 2000; ++r) {
		Fields fields(1 + rng() % 8);
		for (auto &f : fields) {
			const int n = static_cast<int>(rng() % 6);
			for (int i = 0; i < n; ++i)
				f += atoms[rng() % atoms.size()];
		}
		expected.push_back(fields);
		file += record_of(fields);
		file += (r % 3 == 0) ? "\r\n" : "\n";
	}
	auto recs = read_all(file);
	ASSERT_EQ(recs.size(), expected.size());
	int line = 1;
	for (std::size_t i = 0; i < recs.size(); ++i) {
		EXPECT_EQ(recs[i].error, "");
		EXPECT_EQ(recs[i].fields, expected[i]) << "record " << i;
		EXPECT_EQ(recs[i].line_no, line);
		for (const auto &f : expected[i])
			for (char c : f)
				line += c == '\n';
		++line;
	}
}

TEST(CsvRoundTrip, RandomBytesWithoutTerminator) {
	std::mt19937 rng(7);
	for (int r = 0; r < 500; ++r) {
		Fields fields(1 + rng() % 4);
		for (auto &f : fields)
			for (int i = static_cast<int>(rng() % 10); i > 0; --i)
				f += static_cast<char>(1 + rng() % 127);  // any ASCII but NUL
		auto recs = read_all(record_of(fields));
		ASSERT_EQ(recs.size(), 1u);
		EXPECT_EQ(recs[0].error, "");
		EXPECT_EQ(recs[0].fields, fields);
		EXPECT_FALSE(recs[0].terminated);
	}
}
