#include "core/cron.hpp"

#include "core/civil.hpp"

#include <array>
#include <cctype>
#include <stdexcept>
#include <vector>

namespace outreachd {

namespace {

constexpr std::array<std::string_view, 12> month_names = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> weekday_names = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct FieldSpec {
	const char *name;
	int min, max;
	const std::string_view *names;  // names[i] means min_named + i; nullptr when none allowed
	int names_count, min_named;
	const char *names_hint;
};

constexpr FieldSpec field_specs[5] = {
    {"minute", 0, 59, nullptr, 0, 0, nullptr},
    {"hour", 0, 23, nullptr, 0, 0, nullptr},
    {"day-of-month", 1, 31, nullptr, 0, 0, nullptr},
    {"month", 1, 12, month_names.data(), 12, 1, "a month number (1-12) or name (JAN-DEC)"},
    {"day-of-week", 0, 7, weekday_names.data(), 7, 0, "a day-of-week number (0-7, 0 and 7 = Sunday) or name (SUN-SAT)"},
};

struct FieldError : std::invalid_argument {
	using std::invalid_argument::invalid_argument;
};

bool is_digits(std::string_view s) {
	if (s.empty())
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

std::string upper(std::string_view s) {
	std::string r(s);
	for (char &c : r)
		c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	return r;
}

int parse_value(std::string_view s, const FieldSpec &spec) {
	const std::string range = std::to_string(spec.min) + "-" + std::to_string(spec.max);
	if (is_digits(s)) {
		if (s.size() > 4 || std::stoi(std::string(s)) < spec.min || std::stoi(std::string(s)) > spec.max)
			throw FieldError("value " + std::string(s) + " out of range " + range);
		return std::stoi(std::string(s));
	}
	if (s.empty())
		throw FieldError("missing value");
	if (spec.names != nullptr) {
		const std::string u = upper(s);
		for (int i = 0; i < spec.names_count; ++i)
			if (spec.names[i] == u)
				return spec.min_named + i;
		throw FieldError("'" + std::string(s) + "' is not " + spec.names_hint);
	}
	throw FieldError("'" + std::string(s) + "' is not a number in the range " + range);
}

// Sets the bits of one field; returns whether it is "restricted" in Vixie's sense (does not
// start with '*').
template <std::size_t N>
bool parse_field(std::string_view text, const FieldSpec &spec, std::bitset<N> &bits) {
	std::size_t start = 0;
	while (true) {
		const std::size_t comma = text.find(',', start);
		const std::string_view item = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
		if (item.empty())
			throw FieldError("empty list element");
		const std::size_t slash = item.find('/');
		const std::string_view base = item.substr(0, slash);
		int lo = spec.min, hi = spec.max, step = 1;
		bool single = false;
		if (base != "*") {
			const std::size_t dash = base.find('-');
			lo = parse_value(base.substr(0, dash), spec);
			if (dash == std::string_view::npos) {
				hi = lo;
				single = true;
			} else {
				hi = parse_value(base.substr(dash + 1), spec);
				if (hi < lo)
					throw FieldError("range " + std::string(base) + " goes backwards");
			}
		}
		if (slash != std::string_view::npos) {
			const std::string_view s = item.substr(slash + 1);
			if (single)
				throw FieldError("step in '" + std::string(item) + "' needs '*' or a range before it (e.g. '" +
				                 std::string(base) + "-" + std::to_string(spec.max) + "/" + std::string(s) + "')");
			if (!is_digits(s) || s.size() > 4 || std::stoi(std::string(s)) < 1 ||
			    std::stoi(std::string(s)) > spec.max - spec.min + 1)
				throw FieldError("step '" + std::string(s) + "' is not a number from 1 to " +
				                 std::to_string(spec.max - spec.min + 1));
			step = std::stoi(std::string(s));
		}
		for (int v = lo; v <= hi; v += step)
			bits.set(static_cast<std::size_t>(N == 7 && v == 7 ? 0 : v));  // day-of-week 7 is Sunday
		if (comma == std::string_view::npos)
			break;
		start = comma + 1;
	}
	return text.front() != '*';
}

std::string_view trim(std::string_view s) {
	const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
	while (!s.empty() && blank(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && blank(s.back()))
		s.remove_suffix(1);
	return s;
}

}  // namespace

CronExpr CronExpr::parse(std::string_view input) {
	const std::string_view text = trim(input);
	const auto fail = [&](const std::string &what) -> void {
		throw std::invalid_argument("invalid cron expression '" + std::string(text) + "': " + what);
	};
	std::string_view body = text;
	if (!text.empty() && text.front() == '@') {
		const std::string macro = upper(text);
		if (macro == "@YEARLY" || macro == "@ANNUALLY")
			body = "0 0 1 1 *";
		else if (macro == "@MONTHLY")
			body = "0 0 1 * *";
		else if (macro == "@WEEKLY")
			body = "0 0 * * 0";
		else if (macro == "@DAILY" || macro == "@MIDNIGHT")
			body = "0 0 * * *";
		else if (macro == "@HOURLY")
			body = "0 * * * *";
		else
			fail("unknown macro '" + std::string(text) +
			     "' (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
	}
	std::vector<std::string_view> fields;
	for (std::size_t i = 0; i < body.size();) {
		if (body[i] == ' ' || body[i] == '\t') {
			++i;
			continue;
		}
		const std::size_t j = body.find_first_of(" \t", i);
		fields.push_back(body.substr(i, j == std::string_view::npos ? body.npos : j - i));
		i = j == std::string_view::npos ? body.size() : j;
	}
	if (fields.size() != 5)
		fail("expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got " +
		     std::to_string(fields.size()));

	CronExpr e;
	e.text_ = std::string(text);
	std::size_t i = 0;
	try {
		parse_field(fields[0], field_specs[0], e.minutes_);
		++i;
		parse_field(fields[1], field_specs[1], e.hours_);
		++i;
		e.dom_restricted_ = parse_field(fields[2], field_specs[2], e.days_of_month_);
		++i;
		parse_field(fields[3], field_specs[3], e.months_);
		++i;
		e.dow_restricted_ = parse_field(fields[4], field_specs[4], e.days_of_week_);
	} catch (const FieldError &err) {
		fail(std::string(field_specs[i].name) + " field '" + std::string(fields[i]) + "': " + err.what());
	}
	return e;
}

bool CronExpr::matches_day(std::int64_t local_days) const {
	const CivilDay d = civil_from_days(local_days);
	if (!months_[static_cast<std::size_t>(d.month)])
		return false;
	const bool dom = days_of_month_[static_cast<std::size_t>(d.day)];
	const bool dow = days_of_week_[static_cast<std::size_t>(weekday_from_days(local_days))];
	return dom_restricted_ && dow_restricted_ ? dom || dow : dom && dow;
}

std::optional<std::int64_t> CronExpr::next_after(std::int64_t t, const Zone &zone) const {
	// A wall-clock time maps to an instant within 26 h of its "local seconds", so anything
	// earlier than that before t cannot be the answer.
	constexpr std::int64_t slack = 26 * 3600;
	const std::int64_t first_day = floor_div(zone.to_local(t), seconds_per_day) - 1;
	const std::int64_t last_day = first_day + 5 * 366 + 2;
	std::optional<std::int64_t> best;
	std::int64_t stop_after_day = last_day;
	for (std::int64_t day = first_day; day <= stop_after_day; ++day) {
		const CivilDay d = civil_from_days(day);
		if (!months_[static_cast<std::size_t>(d.month)]) {  // jump to the 1st of the next month
			day = days_from_civil(d.month == 12 ? d.year + 1 : d.year, d.month % 12 + 1, 1) - 1;
			continue;
		}
		if (!matches_day(day))
			continue;
		for (int h = 0; h < 24; ++h) {
			const std::int64_t hour_start = day * seconds_per_day + h * 3600;
			if (!hours_[static_cast<std::size_t>(h)] || hour_start + 3600 + slack <= t)
				continue;
			for (int m = 0; m < 60; ++m) {
				const std::int64_t local = hour_start + m * 60;
				if (!minutes_[static_cast<std::size_t>(m)] || local + slack <= t)
					continue;
				const LocalMapping at = zone.from_local(local);
				if (at.first <= t)
					continue;
				if (!best || at.first < *best)
					best = at.first;
				// Instants of ordinary times grow with the wall clock, so the first one found
				// after t is the answer. A time shifted out of a spring gap can come after
				// ordinary times later that day: keep looking until the day after.
				if (at.kind != LocalMapping::Kind::skipped)
					return best;
				stop_after_day = std::min(stop_after_day, day + 1);
			}
		}
	}
	return best;
}

}  // namespace outreachd
