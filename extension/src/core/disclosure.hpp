// Statistical disclosure control: the rounding and suppression rules every figure that leaves
// a member's own rows goes through (docs/disclosure.md; research: HESA's standard rounding
// methodology and the Office for Students' data-file conventions).
//   hesa (default): counts to the nearest 5, halves up, 0..2 shown as 0; percentages (on
//     unrounded values, 1 decimal place) suppressed when the base is under 22.5; means
//     suppressed for 7 or fewer people; a suppressed percentage or mean shows "..".
//   ofs: counts to the nearest 10, halves up, 0..2 suppressed ([DPL], so a true 0 is not told
//     apart from 1 or 2); percentages suppressed when the base is under 23 ([none] for a base
//     of 1 or 2, [low] for 3..22), when the part is 2 or fewer ([DPL]) or within 2 of the
//     base ([DPH]); means suppressed for 7 or fewer people ([low]).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outreach::disclosure {

enum class Policy { hesa, ofs };

struct PolicyInfo {
	Policy policy;
	const char *name;
	bool is_default;
	int rounding_base;             // counts rounded to the nearest multiple, halves up
	int small_count_max;           // counts 0..this are not shown as themselves
	const char *small_count_shown; // what such a count shows: "0" or a marker
	const char *percent_min_base;  // a percentage needs a base of at least this (exact decimal)
	int percent_min_whole_base;    // the same for a whole number of people
	int mean_max_suppressed;       // a mean of this many people or fewer is suppressed
	const char *suppressed_marker; // what a suppressed percentage or mean shows
	const char *description;
};

// Every compiled-in policy, the default first.
const std::vector<PolicyInfo> &policies();
const PolicyInfo &info(Policy p);

// The policy of this name (any case); throws Error 42704 naming the known policies otherwise.
Policy parse_policy(std::string_view name);

// ---- counts (whole people) ---------------------------------------------------------------
// The policy's rounding: nearest multiple of the base, halves up, 0..2 -> 0 under HESA.
// Throws 22023 for a negative count, 22003 when the rounded value does not fit an int64.
std::int64_t round_count(std::int64_t n, Policy p);

// A published count: its value, or nothing (suppressed; shown as marker()).
struct Published {
	std::optional<std::int64_t> value;
	const char *marker;  // nullptr when the value is shown
};
Published publish_count(std::int64_t n, Policy p);

// ---- percentages and means ----------------------------------------------------------------
// The percentage part/base in tenths of a percent (1 decimal place, halves up, computed on the
// unrounded values), or nullopt when the policy suppresses it. Throws 22023 for a negative part
// or base, a base of 0 or a part greater than its base.
std::optional<std::int64_t> percent_tenths(std::int64_t part, std::int64_t base, Policy p);
// The marker a published table shows for that percentage; nullptr when it is shown.
const char *percent_marker(std::int64_t part, std::int64_t base, Policy p);

// True when a mean over n people may be shown. Throws 22023 for n <= 0.
bool mean_shown(std::int64_t n, Policy p);

// ---- fractional values (FPE), as exact decimal text ---------------------------------------
// Non-negative decimals as PostgreSQL's numeric prints them ("22.50", "3"). Parsing throws
// 22023 for a negative value, NaN or Infinity (what names the argument in the message).
struct Decimal {
	std::string integer;   // digits, no leading zero ("" for 0)
	std::string fraction;  // digits, no trailing zero
};
Decimal parse_decimal(std::string_view text, std::string_view what);
int compare(const Decimal &a, const Decimal &b);  // -1, 0, 1
Decimal add(const Decimal &a, const Decimal &b);
std::string to_string(const Decimal &d);

// floor(x / base + 0.5) * base, as decimal digits (so under HESA every x < 2.5 gives "0").
std::string round_decimal(const Decimal &x, Policy p);
// A published fractional count: round_decimal(), or nullopt when suppressed (OfS: x <= 2).
std::optional<std::string> publish_decimal(const Decimal &x, Policy p);
// Whether a percentage of fractional part and base is shown, with the checks of the integer
// form; the marker is as percent_marker() (nullptr when shown).
const char *percent_marker(const Decimal &part, const Decimal &base, Policy p);

// ---- one published table: a total and the parts it is the sum of ---------------------------
// The true values a published count stands for, as the policy's rules let anyone work out:
// hesa 0 -> 0..2, m -> m-2..m+2; ofs [DPL] -> 0..2, 0 -> 3..4, m -> m-5..m+4.
struct Interval {
	__int128 lo, hi;
};
Interval true_range(const Published &cell, Policy p);

// For each part (then the total, last), the values consistent with every published figure of
// the table "total = sum of parts" (interval intersection: exact for one linear equation).
std::vector<Interval> consistent_values(const std::vector<std::int64_t> &parts, Policy p);

// False when publishing the rounded total beside the parts' published values would let
// someone pin a part or the total to a single true value; the total must then be suppressed
// (secondary suppression). Throws 22023 for a negative part or no parts, 22003 when the sum
// does not fit an int64.
bool total_publishable(const std::vector<std::int64_t> &parts, Policy p);

}  // namespace outreach::disclosure

#include "cpp_only.hpp"
