// Expected HE Entry Year and academic years: the school-year rules of the UK's nations.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace outreach::entry_year {

enum class Nation { england, wales, scotland, northern_ireland };

// "england", "wales", "scotland", "northern_ireland" (any case); nullopt otherwise.
std::optional<Nation> parse_nation(std::string_view name);

// The calendar year in which a pupil born on the given date is expected to start higher
// education (2025 means the 2025/26 academic year), leaving school at the usual time:
//   England, Wales: cohort born 1 Sep .. 31 Aug; birth year + 18, or + 19 if born Sep-Dec.
//   Scotland: cohort born 1 Mar .. end Feb, leaving after S6; birth year + 18, or + 17 if born Jan-Feb.
//   Northern Ireland: cohort born 2 Jul .. 1 Jul; birth year + 18, or + 19 if born 2 Jul-31 Dec.
int expected_he_entry_year(int year, int month, int day, Nation nation);

// The starting year of the English academic year (1 September .. 31 August) containing a date.
int academic_year(int year, int month, int day);

// "2025/26" for 2025; "1999/00" for 1999; defined for every int ("2147483647/48", "-1/00").
std::string academic_year_label(int start_year);

}  // namespace outreach::entry_year

#include "cpp_only.hpp"
