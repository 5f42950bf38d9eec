// Properties of outreach::csv (reader and writer):
//  - the reader terminates on any input (at most one record per input byte, plus one) and its
//    line numbers start at 1, never decrease and never pass the number of physical lines;
//  - an error record has no fields; a good record has 1..max_fields fields, each valid UTF-8
//    without NUL;
//  - every good record, re-encoded with csv_record and read again, gives exactly one good record
//    with the same fields (unterminated; and terminated once "\r\n" is appended);
//  - the writer: any fields (the input split at NUL bytes) that are valid UTF-8 read back as
//    the same fields.
#include "core/csv.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csv = outreach::csv;

namespace {

bool valid_utf8_no_nul(std::string_view s) {
	std::size_t i = 0;
	while (i < s.size()) {
		const auto b0 = static_cast<unsigned char>(s[i]);
		std::size_t len;
		std::uint32_t cp;
		if (b0 == 0) {
			return false;
		} else if (b0 < 0x80) {
			++i;
			continue;
		} else if (b0 >= 0xC2 && b0 <= 0xDF) {
			len = 2;
			cp = b0 & 0x1F;
		} else if (b0 >= 0xE0 && b0 <= 0xEF) {
			len = 3;
			cp = b0 & 0x0F;
		} else if (b0 >= 0xF0 && b0 <= 0xF4) {
			len = 4;
			cp = b0 & 0x07;
		} else {
			return false;
		}
		if (i + len > s.size())
			return false;
		for (std::size_t k = 1; k < len; ++k) {
			const auto b = static_cast<unsigned char>(s[i + k]);
			if ((b & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (b & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

std::vector<std::optional<std::string_view>> views(const std::vector<std::string> &fields) {
	return {fields.begin(), fields.end()};
}

// bytes must hold exactly one good record, with these fields.
void check_reads_back(const std::string &bytes, const std::vector<std::string> &fields, bool terminated) {
	csv::CsvReader reader(bytes);
	csv::CsvRecord rec;
	FUZZ_CHECK(reader.next(rec));
	FUZZ_CHECK(rec.ok());
	FUZZ_CHECK(rec.line_no == 1);
	FUZZ_CHECK(rec.terminated == terminated);
	FUZZ_CHECK(rec.fields == fields);
	FUZZ_CHECK(!reader.next(rec));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	const std::string_view in(reinterpret_cast<const char *>(data), size);
	const int physical_lines = 1 + static_cast<int>(std::count(in.begin(), in.end(), '\n'));

	csv::CsvReader reader(in);
	csv::CsvRecord rec;
	std::size_t records = 0;
	int last_line = 1;
	while (reader.next(rec)) {
		FUZZ_CHECK(++records <= size + 1);
		FUZZ_CHECK(rec.line_no >= last_line && rec.line_no <= physical_lines);
		last_line = rec.line_no;
		if (!rec.ok()) {
			FUZZ_CHECK(rec.fields.empty());
			continue;
		}
		FUZZ_CHECK(!rec.fields.empty() && rec.fields.size() <= csv::max_fields);
		for (const auto &f : rec.fields)
			FUZZ_CHECK(valid_utf8_no_nul(f));
		std::string again = csv::csv_record(views(rec.fields));
		check_reads_back(again, rec.fields, false);
		again += "\r\n";
		check_reads_back(again, rec.fields, true);
	}
	FUZZ_CHECK(reader.position() == size);

	// The writer on arbitrary fields: the input split at NUL bytes.
	std::vector<std::string> fields(1);
	for (char c : in) {
		if (c == '\0')
			fields.emplace_back();
		else
			fields.back().push_back(c);
	}
	if (fields.size() <= csv::max_fields &&
	    std::all_of(fields.begin(), fields.end(), [](const std::string &f) { return valid_utf8_no_nul(f); })) {
		std::string out;
		csv::append_csv_record(out, views(fields));
		FUZZ_CHECK(out == csv::csv_record(views(fields)));
		check_reads_back(out + "\n", fields, true);
	}
	return 0;
}
