// RFC 4180 CSV for linkage files: the exports sent to DfE, ESFA, HESA and UCAS and the outcome
// files they send back.
//
// Writing: csv_record() / append_csv_field() produce one record without its line terminator
// (the caller chooses CRLF or LF). A field is quoted only when it has to be: when it contains a
// comma, a double quote, CR or LF, begins or ends with a space (so that tools which trim
// unquoted fields keep it), or begins with U+FEFF (which a reader would take for a byte order
// mark at the start of a file). Quotes inside are doubled. NULL and the empty string are both
// written as nothing, except that a record of exactly one empty field is written `""`: an
// empty line is not a record (see below), so this is the only way to keep that record.
//
// Reading: CsvReader walks a byte buffer record by record and never throws on bad data. Each
// record comes with the physical line it starts on; a bad record carries an error message and
// no fields, and reading continues at the next physical line (after a record whose only fault is
// invalid UTF-8 or a NUL byte, at the next record, since its extent is known). The rules:
//  - records end with LF or CRLF; the last record may lack a terminator (terminated = false,
//    so callers can suspect truncation);
//  - physical lines are counted by LF, including the LFs inside quoted fields;
//  - a UTF-8 byte order mark at the very start of the buffer is skipped;
//  - fields are taken verbatim: no trimming; an empty field is the empty string;
//  - a completely empty line is an error record "empty line", except a single empty line at the
//    very end of the buffer (a file ending "\n\n"), which is ignored; an empty buffer has no
//    records;
//  - every record must be valid UTF-8 (strict: no overlong forms, surrogates, code points past
//    U+10FFFF, truncated sequences) and contain no NUL byte;
//  - a record's first problem, reading left to right, is the one reported.
// Error messages (N is the 1-based field, K the 0-based byte offset from the record's start):
//   "empty line"
//   "unexpected double quote in unquoted field (field N)"
//   "unexpected text after closing quote (field N)"
//   "lone carriage return in unquoted field (field N)"   (a CR not followed by LF)
//   "unterminated quoted field (truncated file?)"
//   "invalid UTF-8 at byte offset K of the record"
//   "NUL byte at byte offset K of the record"
//   "record longer than 1048576 bytes"
//   "record has more than 1000 fields"
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outreach::csv {

// Limits of one record (its bytes exclude the line terminator).
inline constexpr std::size_t max_record_bytes = 1024 * 1024;
inline constexpr std::size_t max_fields = 1000;

// True when the field must be written quoted.
bool needs_quoting(std::string_view field) noexcept;

// Appends one field, quoted when needed, to out.
void append_csv_field(std::string &out, std::string_view field);

// Appends one record (fields separated by commas, no line terminator) to out; nullopt is
// written as an empty field.
void append_csv_record(std::string &out, const std::vector<std::optional<std::string_view>> &fields);

// One RFC 4180 record, without a line terminator.
std::string csv_record(const std::vector<std::optional<std::string_view>> &fields);

struct CsvRecord {
	int line_no = 0;                  // 1-based physical line on which the record starts
	std::vector<std::string> fields;  // empty when error is set
	std::string error;                // empty for a good record
	bool terminated = true;           // false: the buffer ended without a line terminator
	bool ok() const noexcept { return error.empty(); }
};

class CsvReader {
public:
	// The buffer must outlive the reader; nothing is copied.
	explicit CsvReader(std::string_view bytes) noexcept;
	// Resumes at byte pos, the start of a record on physical line line (no byte order mark
	// is looked for).
	CsvReader(std::string_view bytes, std::size_t pos, int line) noexcept : in_(bytes), pos_(pos), line_(line) {}

	// Reads the next record into rec (reusing its buffers); false at the end of the buffer.
	bool next(CsvRecord &rec);

	// Bytes consumed so far (for progress reports).
	std::size_t position() const noexcept { return pos_; }
	// The physical line the next record starts on.
	int line() const noexcept { return line_; }

private:
	std::string_view in_;
	std::size_t pos_ = 0;
	int line_ = 1;  // physical line at pos_
};

}  // namespace outreach::csv

#include "cpp_only.hpp"
