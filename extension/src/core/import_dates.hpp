// Dates in members' files. A file's dates are read in one order, chosen for the whole file:
//  - ISO dates (2008-04-03, 2008/04/03) and dates with the month in words (3 Apr 2008,
//    03-April-2008) are read as they are, in any file;
//  - numeric dates with the day and month first (03/04/2008, 3-4-2008, 03.04.2008) are read day
//    first or month first: the file's order. A value such as 25/12/2008 can only be day first,
//    12/25/2008 only month first; a file with only values like 03/04/2008 (both readings valid)
//    or with values of both kinds is ambiguous, and refused (22007) unless the caller names the
//    order ("DD/MM/YYYY" or "MM/DD/YYYY"). The UK's order is not assumed: a US export read day
//    first would move every birthday.
// A time of midnight after the date (Excel: "03/04/2008 00:00", "2008-04-03 00:00:00") is
// allowed. Two-digit years are refused (18 or 1918?).
#pragma once
#include "civil_date.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace outreach::import_dates {

enum class Order { day_first, month_first };

// What a file's numeric day-month dates say about its order.
struct Tally {
	long day_first_only = 0;    // e.g. 25/12/2008
	long month_first_only = 0;  // e.g. 12/25/2008
	long either = 0;            // e.g. 03/04/2008 (different readings)
	long numeric = 0;           // every numeric day-month value counted
	std::string example_either;  // one ambiguous value, for the message
};

// Counts one (trimmed, non-empty) value into the tally (values that are not day-month
// numeric dates are not counted).
void count(std::string_view value, Tally &tally);

// The file's order: the one named (format, case-insensitive: "DD/MM/YYYY" or "MM/DD/YYYY";
// another name is 22023), else the one its values allow. Throws Error 22007 when the file is
// ambiguous, with a hint naming the format argument. nullopt: no numeric day-month dates at all.
std::optional<Order> choose(const Tally &tally, std::optional<std::string_view> format);

// The format a file was read in, for the report: "DD/MM/YYYY", "MM/DD/YYYY" or "YYYY-MM-DD"
// (no numeric day-month dates).
const char *format_name(std::optional<Order> order) noexcept;

// Reads one (trimmed, non-empty) value in the file's order; nullopt and why otherwise.
std::optional<CivilDate> parse(std::string_view value, std::optional<Order> order, std::string &problem);

}  // namespace outreach::import_dates

#include "cpp_only.hpp"
