#include "import_dates.hpp"

#include "ascii.hpp"
#include "error.hpp"

#include <array>
#include <cctype>

namespace outreach::import_dates {

namespace {

int number(std::string_view s) noexcept {
	int n = 0;
	for (char c : s)
		n = n * 10 + (c - '0');
	return n;
}

bool valid(int y, int m, int d) noexcept { return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m); }

// Drops a midnight time after the date ("... 00:00", "... 00:00:00", "...T00:00:00").
std::string_view without_midnight(std::string_view s) noexcept {
	for (std::string_view t : {std::string_view(" 00:00:00"), std::string_view("T00:00:00"), std::string_view(" 00:00")})
		if (s.size() > t.size() && s.substr(s.size() - t.size()) == t)
			return s.substr(0, s.size() - t.size());
	return s;
}

// Month names and three-letter abbreviations (English), case-insensitive; 0: none.
int month_of(std::string_view w) noexcept {
	static constexpr std::array<std::string_view, 12> names = {"january", "february", "march",     "april",
															   "may",     "june",     "july",      "august",
															   "september", "october", "november", "december"};
	if (w.size() < 3)
		return 0;
	std::string lower;
	for (char c : w)
		lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
	if (lower == "sept")
		return 9;
	for (std::size_t i = 0; i < names.size(); ++i)
		if (lower == names[i] || (lower.size() == 3 && names[i].substr(0, 3) == lower))
			return static_cast<int>(i) + 1;
	return 0;
}

// A value cut at its separators (one kind of '/', '-', '.', ' ' between parts).
struct Parts {
	std::string_view p[3];
	int n = 0;
};

Parts split(std::string_view s) noexcept {
	Parts out;
	std::size_t start = 0;
	char sep = 0;
	for (std::size_t i = 0; i <= s.size(); ++i) {
		const bool end = i == s.size();
		const char c = end ? 0 : s[i];
		if (end || c == '/' || c == '-' || c == '.' || c == ' ') {
			if (!end) {
				if (sep == 0)
					sep = c;
				else if (c != sep)
					return Parts{};
			}
			if (out.n == 3)
				return Parts{};
			out.p[out.n++] = s.substr(start, i - start);
			start = i + 1;
		}
	}
	return out;
}

enum class Shape { other, iso, words, day_month, two_digit_year };

Shape shape_of(const Parts &p) noexcept {
	if (p.n != 3)
		return Shape::other;
	if (ascii::digits(p.p[0]) && p.p[0].size() == 4 && ascii::digits(p.p[1]) && p.p[1].size() <= 2 && ascii::digits(p.p[2]) &&
		p.p[2].size() <= 2)
		return Shape::iso;
	const bool year4 = ascii::digits(p.p[2]) && p.p[2].size() == 4;
	const bool year2 = ascii::digits(p.p[2]) && p.p[2].size() == 2;
	if (ascii::digits(p.p[0]) && p.p[0].size() <= 2 && month_of(p.p[1]) != 0)
		return year4 ? Shape::words : year2 ? Shape::two_digit_year : Shape::other;
	if (ascii::digits(p.p[0]) && p.p[0].size() <= 2 && ascii::digits(p.p[1]) && p.p[1].size() <= 2)
		return year4 ? Shape::day_month : year2 ? Shape::two_digit_year : Shape::other;
	return Shape::other;
}

}  // namespace

void count(std::string_view value, Tally &tally) {
	const Parts p = split(without_midnight(value));
	if (shape_of(p) != Shape::day_month)
		return;
	const int a = number(p.p[0]), b = number(p.p[1]), y = number(p.p[2]);
	const bool as_dm = valid(y, b, a), as_md = valid(y, a, b);
	++tally.numeric;
	if (as_dm && as_md && a != b) {
		if (tally.either++ == 0)
			tally.example_either = std::string(value);
	} else if (as_dm && !as_md) {
		++tally.day_first_only;
	} else if (as_md && !as_dm) {
		++tally.month_first_only;
	}
}

std::optional<Order> choose(const Tally &tally, std::optional<std::string_view> format) {
	if (format) {
		std::string f;
		for (char c : *format)
			f.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
		if (f == "DD/MM/YYYY")
			return Order::day_first;
		if (f == "MM/DD/YYYY")
			return Order::month_first;
		if (f == "YYYY-MM-DD")
			return std::nullopt;
		throw Error(sqlstate::invalid_parameter_value,
					"date_format must be 'DD/MM/YYYY', 'MM/DD/YYYY' or 'YYYY-MM-DD', not '" + std::string(format->substr(0, 40)) + "'");
	}
	if (tally.day_first_only > 0 && tally.month_first_only > 0)
		throw Error("22007", "the file's dates are written both day first and month first",
					std::to_string(tally.day_first_only) + " values can only be read day first, " +
						std::to_string(tally.month_first_only) + " only month first",
					"Correct the file, or pass date_format => 'DD/MM/YYYY' or 'MM/DD/YYYY' (values that do not fit are then reported).");
	if (tally.day_first_only > 0)
		return Order::day_first;
	if (tally.month_first_only > 0)
		return Order::month_first;
	if (tally.either > 0)
		throw Error("22007", "the file's dates could be day first or month first, such as " + tally.example_either,
					"no value has a day after the 12th",
					"Pass date_format => 'DD/MM/YYYY' (UK) or 'MM/DD/YYYY' (US) for this file.");
	return tally.numeric > 0 ? std::optional<Order>(Order::day_first) : std::nullopt;  // only 01/01-like days: same either way
}

const char *format_name(std::optional<Order> order) noexcept {
	if (!order)
		return "YYYY-MM-DD";
	return *order == Order::day_first ? "DD/MM/YYYY" : "MM/DD/YYYY";
}

std::optional<CivilDate> parse(std::string_view value, std::optional<Order> order, std::string &problem) {
	const Parts p = split(without_midnight(value));
	int y = 0, m = 0, d = 0;
	switch (shape_of(p)) {
	case Shape::iso:
		y = number(p.p[0]), m = number(p.p[1]), d = number(p.p[2]);
		break;
	case Shape::words:
		d = number(p.p[0]), m = month_of(p.p[1]), y = number(p.p[2]);
		break;
	case Shape::day_month:
		if (order == Order::month_first)
			m = number(p.p[0]), d = number(p.p[1]);
		else if (order == Order::day_first)
			d = number(p.p[0]), m = number(p.p[1]);
		else {
			problem = "a date written day and month first in a file read as YYYY-MM-DD";
			return std::nullopt;
		}
		y = number(p.p[2]);
		break;
	case Shape::two_digit_year:
		problem = "a two-digit year: write the year in full";
		return std::nullopt;
	case Shape::other:
		problem = "not a date (write YYYY-MM-DD, " + std::string(format_name(order ? order : Order::day_first)) +
				  " or 3 Apr 2008)";
		return std::nullopt;
	}
	if (!valid(y, m, d)) {
		problem = "no such date";
		return std::nullopt;
	}
	return CivilDate{y, m, d};
}

}  // namespace outreach::import_dates
