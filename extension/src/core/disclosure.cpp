#include "disclosure.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "error.hpp"

namespace outreach::disclosure {

namespace {

const std::vector<PolicyInfo> all_policies = {
	{Policy::hesa, "hesa", true, 5, 2, "0", "22.5", 23, 7, "..",
	 "HESA standard rounding: counts to the nearest 5 (0, 1, 2 shown as 0), percentages need a base of 22.5 "
	 "(and, beyond HESA, a part more than 2 and more than 2 below the base), means more than 7 people"},
	{Policy::ofs, "ofs", false, 10, 2, "[DPL]", "23", 23, 7, "[low]",
	 "Office for Students: counts to the nearest 10, 0..2 suppressed [DPL]; percentages need a base of 23 "
	 "([none], [low]) and a part more than 2 ([DPL]) and more than 2 below the base ([DPH])"},
};

[[noreturn]] void invalid(const std::string &message) {
	throw Error(sqlstate::invalid_parameter_value, message);
}

void check_count(std::int64_t n, const char *what) {
	if (n < 0)
		invalid(std::string(what) + " must not be negative, got " + std::to_string(n));
}

void check_fraction(std::int64_t part, std::int64_t base) {
	check_count(part, "part");
	check_count(base, "base");
	if (base == 0)
		invalid("base of a percentage must be greater than 0");
	if (part > base)
		invalid("part " + std::to_string(part) + " is greater than its base " + std::to_string(base));
}

const Decimal two{"2", ""};

}  // namespace

const std::vector<PolicyInfo> &policies() { return all_policies; }

const PolicyInfo &info(Policy p) { return all_policies[p == Policy::hesa ? 0 : 1]; }

Policy parse_policy(std::string_view name) {
	for (const PolicyInfo &i : all_policies) {
		const std::string_view known(i.name);
		if (name.size() == known.size() &&
		    std::equal(name.begin(), name.end(), known.begin(), [](char a, char b) {
			    return std::tolower(static_cast<unsigned char>(a)) == b;
		    }))
			return i.policy;
	}
	std::string known;
	for (const PolicyInfo &i : all_policies)
		known += (known.empty() ? "" : ", ") + std::string(i.name);
	throw Error(sqlstate::undefined_object, "unknown disclosure policy \"" + std::string(name.substr(0, 40)) + "\"",
	            {}, "Known policies: " + known + ".");
}

std::int64_t round_count(std::int64_t n, Policy p) {
	check_count(n, "count");
	const std::int64_t base = info(p).rounding_base;
	if (n <= 2)
		return 0;
	const std::int64_t down = n - n % base;
	// Halves up: n % base >= base / 2 (2.5 for 5: remainders 3 and 4; 5 for 10).
	if (2 * (n % base) < base)
		return down;
	if (down > std::numeric_limits<std::int64_t>::max() - base)
		throw Error(sqlstate::numeric_value_out_of_range,
		            "count " + std::to_string(n) + " rounded to the nearest " + std::to_string(base) + " is out of range");
	return down + base;
}

Published publish_count(std::int64_t n, Policy p) {
	const std::int64_t rounded = round_count(n, p);
	if (p == Policy::ofs && n <= 2)
		return {std::nullopt, "[DPL]"};
	return {rounded, nullptr};
}

const char *percent_marker(std::int64_t part, std::int64_t base, Policy p) {
	check_fraction(part, base);
	if (p == Policy::hesa) {
		// Beyond HESA's published rule: a percentage computed on unrounded counts would tell the
		// 1 or 2 people (or all but 1 or 2) that a count rounded to 0 hides, so it is withheld.
		if (base < info(p).percent_min_whole_base || part <= 2 || base - part <= 2)
			return "..";
		return nullptr;
	}
	if (base <= 2)
		return "[none]";
	if (base < info(p).percent_min_whole_base)
		return "[low]";
	if (part <= 2)
		return "[DPL]";
	if (base - part <= 2)
		return "[DPH]";
	return nullptr;
}

std::optional<std::int64_t> percent_tenths(std::int64_t part, std::int64_t base, Policy p) {
	if (percent_marker(part, base, p))
		return std::nullopt;
	// round(1000 * part / base) halves up, in 128 bits: part <= base, so the result is <= 1000.
	const __int128 num = static_cast<__int128>(part) * 2000 + base;
	return static_cast<std::int64_t>(num / (static_cast<__int128>(base) * 2));
}

bool mean_shown(std::int64_t n, Policy p) {
	if (n <= 0)
		invalid("number of people behind a mean must be greater than 0, got " + std::to_string(n));
	return n > info(p).mean_max_suppressed;
}

// ---- decimals ------------------------------------------------------------------------------

Decimal parse_decimal(std::string_view text, std::string_view what) {
	const std::string name(what);
	if (!text.empty() && text[0] == '-') {
		// numeric prints -0 as 0, so any minus sign is a negative value
		invalid(name + " must not be negative, got " + std::string(text.substr(0, 40)));
	}
	const std::size_t dot = text.find('.');
	const std::string_view int_part = text.substr(0, dot);
	const std::string_view frac_part = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
	const auto digits = [](std::string_view s) {
		return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
	};
	if (int_part.empty() || !digits(int_part) || !digits(frac_part))
		invalid(name + " must be a finite number, got " + std::string(text.substr(0, 40)));
	Decimal d;
	d.integer = std::string(int_part.substr(std::min(int_part.find_first_not_of('0'), int_part.size())));
	const std::size_t last = frac_part.find_last_not_of('0');
	d.fraction = last == std::string_view::npos ? std::string() : std::string(frac_part.substr(0, last + 1));
	return d;
}

int compare(const Decimal &a, const Decimal &b) {
	if (a.integer.size() != b.integer.size())
		return a.integer.size() < b.integer.size() ? -1 : 1;
	if (const int c = a.integer.compare(b.integer))
		return c < 0 ? -1 : 1;
	if (const int c = a.fraction.compare(b.fraction))  // no trailing zeros: plain string order
		return c < 0 ? -1 : 1;
	return 0;
}

Decimal add(const Decimal &a, const Decimal &b) {
	// Both padded to the same digits around the point, then added right to left.
	const std::size_t fr = std::max(a.fraction.size(), b.fraction.size());
	const std::size_t in = std::max({a.integer.size(), b.integer.size(), std::size_t{1}});
	const auto pad = [&](const Decimal &d) {
		return std::string(in - d.integer.size(), '0') + d.integer + d.fraction + std::string(fr - d.fraction.size(), '0');
	};
	const std::string x = pad(a), y = pad(b);
	std::string sum(x.size(), '0');
	int carry = 0;
	for (std::size_t i = x.size(); i-- > 0;) {
		const int s = (x[i] - '0') + (y[i] - '0') + carry;
		sum[i] = static_cast<char>('0' + s % 10);
		carry = s / 10;
	}
	if (carry)
		sum.insert(sum.begin(), '1');
	const std::string text = sum.substr(0, sum.size() - fr) + "." + sum.substr(sum.size() - fr);
	return parse_decimal(text, "sum");
}

std::string to_string(const Decimal &d) {
	return (d.integer.empty() ? "0" : d.integer) + (d.fraction.empty() ? "" : "." + d.fraction);
}

std::string round_decimal(const Decimal &x, Policy p) {
	const int base = info(p).rounding_base;
	std::string digits = x.integer.empty() ? "0" : x.integer;
	const int last = digits.back() - '0';
	// The integer part's remainder by 5 or 10 is decided by its last digit.
	const int rem = last % base;
	const int first_fraction = x.fraction.empty() ? 0 : x.fraction[0] - '0';
	// Up when rem + fraction >= base / 2: for 5, rem >= 3 or rem == 2 with fraction >= .5.
	const bool up = base == 10 ? rem >= 5 : (rem >= 3 || (rem == 2 && first_fraction >= 5));
	digits.back() = static_cast<char>('0' + last - rem);
	if (up) {
		Decimal step{std::to_string(base), ""};
		return to_string(add(parse_decimal(digits, "value"), step));
	}
	return to_string(parse_decimal(digits, "value"));
}

std::optional<std::string> publish_decimal(const Decimal &x, Policy p) {
	if (p == Policy::ofs && compare(x, two) <= 0)
		return std::nullopt;
	return round_decimal(x, p);
}

const char *percent_marker(const Decimal &part, const Decimal &base, Policy p) {
	if (base.integer.empty() && base.fraction.empty())
		invalid("base of a percentage must be greater than 0");
	if (compare(part, base) > 0)
		invalid("part " + to_string(part) + " is greater than its base " + to_string(base));
	if (compare(base, parse_decimal(info(p).percent_min_base, "threshold")) < 0)
		return p == Policy::hesa ? ".." : (compare(base, two) <= 0 ? "[none]" : "[low]");
	if (p == Policy::hesa)  // as for whole numbers: not for 2 or fewer, nor within 2 of the base
		return compare(part, two) <= 0 || compare(base, add(part, two)) <= 0 ? ".." : nullptr;
	if (compare(part, two) <= 0)
		return "[DPL]";
	if (compare(base, add(part, two)) <= 0)
		return "[DPH]";
	return nullptr;
}

// ---- one published table -------------------------------------------------------------------

Interval true_range(const Published &cell, Policy p) {
	if (!cell.value)
		return {0, 2};  // the small-count marker
	const __int128 m = *cell.value;
	if (p == Policy::hesa)
		return m == 0 ? Interval{0, 2} : Interval{m - 2, m + 2};
	return m == 0 ? Interval{3, 4} : Interval{m - 5, m + 4};
}

std::vector<Interval> consistent_values(const std::vector<std::int64_t> &parts, Policy p) {
	if (parts.empty())
		invalid("a table needs at least one part");
	__int128 total = 0;
	std::vector<Interval> own;
	own.reserve(parts.size() + 1);
	for (const std::int64_t n : parts) {
		own.push_back(true_range(publish_count(n, p), p));
		total += n;
	}
	if (total > std::numeric_limits<std::int64_t>::max())
		throw Error(sqlstate::numeric_value_out_of_range, "total of the parts is out of range");
	const Interval t = true_range(publish_count(static_cast<std::int64_t>(total), p), p);
	__int128 sum_lo = 0, sum_hi = 0;
	for (const Interval &i : own) {
		sum_lo += i.lo;
		sum_hi += i.hi;
	}
	std::vector<Interval> out;
	out.reserve(own.size() + 1);
	// part i = total - sum of the others: its values lie in its own range and in
	// [t.lo - (sum_hi - hi_i), t.hi - (sum_lo - lo_i)]; every integer in between is reachable.
	for (const Interval &i : own)
		out.push_back({std::max(i.lo, t.lo - (sum_hi - i.hi)), std::min(i.hi, t.hi - (sum_lo - i.lo))});
	out.push_back({std::max(t.lo, sum_lo), std::min(t.hi, sum_hi)});
	return out;
}

bool total_publishable(const std::vector<std::int64_t> &parts, Policy p) {
	for (const Interval &i : consistent_values(parts, p))
		if (i.lo == i.hi)
			return false;
	return true;
}

}  // namespace outreach::disclosure
