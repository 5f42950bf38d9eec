// How an export layout writes each field of a record: the per-column formatting of
// outreach.export_line(), kept here so that it is tested without a server.
//
// A layout column compiles (outreach.export_render_sql) to one spec string:
//   "text"                 the value as given (NULL: an empty field)
//   "trim"                 leading and trailing spaces removed, as btrim(value) does
//   "date:FORMAT"          a date as YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD or DD-MM-YYYY
//   "code:K=V;K=V;*=V"     the value trimmed and lower-cased (ASCII), looked up in the codes;
//                          "*" is every other value, NULL included (a CASE's ELSE); no match
//                          and no "*" is an empty field;
//                          '\' escapes '\', ';' and '=' inside keys and values
// The record is then one RFC 4180 line (core/csv.hpp), identical to csv_record() of the same
// fields, so content hashes of records sent before stay comparable.
#pragma once
#include "civil_date.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outreach::export_format {

enum class Kind { text, trim, date, code };
enum class DateFormat { iso, dmy_slash, compact, dmy_dash };

struct Column {
	Kind kind = Kind::text;
	DateFormat date_format = DateFormat::iso;
	std::vector<std::pair<std::string, std::string>> codes;  // key (as written) -> value
	std::optional<std::string> otherwise;                    // the "*" code
};

// Throws Error 22023 naming the problem for anything else.
Column parse_column(std::string_view spec);
std::vector<Column> parse_columns(const std::vector<std::string_view> &specs);

// Spaces (only U+0020, as btrim) removed at both ends.
std::string_view trim_spaces(std::string_view s) noexcept;

// Appends the date in the format; years are written with at least four digits (to_char's YYYY).
void append_date(std::string &out, const CivilDate &d, DateFormat f);

// The code of a value (nullopt for NULL): nullopt when it maps to nothing (an empty field).
std::optional<std::string_view> code_of(const Column &c, std::optional<std::string_view> value);

}  // namespace outreach::export_format

#include "cpp_only.hpp"
