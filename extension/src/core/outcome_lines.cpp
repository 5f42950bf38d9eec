#include "outcome_lines.hpp"

#include "ascii.hpp"
#include "csv.hpp"            // max_fields
#include "export_format.hpp"  // trim_spaces

namespace outreach::outcome_lines {

std::size_t char_length(std::string_view s) noexcept { return ascii::utf8_length(s); }

std::string_view left_chars(std::string_view s, std::size_t n) noexcept {
	std::size_t chars = 0;
	for (std::size_t i = 0; i < s.size(); ++i)
		if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == n)
			return s.substr(0, i);
	return s;
}

namespace {

// What read_line() finds besides the fact itself.
struct Reading {
	bool has_reference = false;         // the layout has the column and the line reaches it
	const std::string *kind = nullptr;  // nullptr: no fixed kind and no code matched
	std::string_view code;              // the outcome field as written (for the message)
	std::string_view year, ukprn;       // trimmed (for the messages)
	bool year_ok = false, ukprn_ok = false;
};

// A line's first problem, in the order they are reported.
enum class Problem {
	none, field_count, no_reference, unknown_code, academic_year, ukprn, measure_length, value_length, name_length,
	needs_measure_and_value, needs_value, needs_provider
};

// The checks of a line, once for both paths: reads the n fields into f (views: the fields
// trimmed, the kind in the layout) and r, and returns the first problem. length(s) is the
// length of a text in characters, or an upper bound of it: the fast path passes the byte
// count, which can only find more problems (and then leaves the line to check_line), never
// fewer.
template <typename Field, typename Length>
Problem read_line(const Layout &layout, const Field *fields, std::size_t n, FactView &f, Reading &r, Length length) {
	using export_format::trim_spaces;
	auto present = [&](int pos) { return pos > 0 && static_cast<std::size_t>(pos) <= n; };
	auto at = [&](int pos) { return present(pos) ? trim_spaces(fields[pos - 1]) : std::string_view(); };
	f = FactView{};
	r = Reading{};

	if (layout.fixed_kind && layout.outcome == 0) {
		r.kind = &*layout.fixed_kind;
	} else if (present(layout.outcome)) {
		r.code = fields[layout.outcome - 1];
		const std::string_view code = trim_spaces(r.code);
		for (const auto &[k, v] : layout.codes) {  // codes are lower case: compared lower-cased (ASCII)
			if (k.size() != code.size())
				continue;
			std::size_t i = 0;
			for (; i < k.size(); ++i) {
				const char c = code[i] >= 'A' && code[i] <= 'Z' ? static_cast<char>(code[i] - 'A' + 'a') : code[i];
				if (c != k[i])
					break;
			}
			if (i == k.size()) {
				r.kind = &v;
				break;
			}
		}
	}
	if (r.kind)
		f.kind = *r.kind;
	r.has_reference = present(layout.reference);
	f.reference = at(layout.reference);
	// (every byte of a year is checked as a digit or separator: no length in characters needed)
	const std::string_view year = r.year = at(layout.academic_year);
	r.year_ok = (year.size() == 4 || year.size() == 7 || year.size() == 9) && ascii::digits(year.substr(0, 4)) &&
	            (year.size() == 4 || ((year[4] == '/' || year[4] == '-') && ascii::digits(year.substr(5))));
	if (r.year_ok)
		f.academic_year = (year[0] - '0') * 1000 + (year[1] - '0') * 100 + (year[2] - '0') * 10 + (year[3] - '0');
	const std::string_view ukprn = r.ukprn = at(layout.provider_ukprn);
	r.ukprn_ok = ukprn.size() == 8 && ukprn[0] == '1' && ascii::digits(ukprn);
	if (r.ukprn_ok)
		for (char c : ukprn)
			f.provider_ukprn = f.provider_ukprn * 10 + (c - '0');
	f.measure = at(layout.measure);
	f.value = at(layout.value);
	f.has_value = !f.value.empty();
	f.provider_name = at(layout.provider_name);
	f.has_name = !f.provider_name.empty();

	if (static_cast<int>(n) != layout.n_fields)
		return Problem::field_count;
	if (r.has_reference && f.reference.empty())
		return Problem::no_reference;
	if (!r.kind)
		return Problem::unknown_code;
	if (!r.year_ok || f.academic_year < 1950 || f.academic_year > 2200)
		return Problem::academic_year;
	if (!ukprn.empty() && !r.ukprn_ok)
		return Problem::ukprn;
	if (length(f.measure) > 100)
		return Problem::measure_length;
	if (f.has_value && length(f.value) > 200)
		return Problem::value_length;
	if (f.has_name && length(f.provider_name) > 200)
		return Problem::name_length;
	const std::string_view k = *r.kind;
	if ((k == "ks4" || k == "ks5") && (f.measure.empty() || !f.has_value))
		return Problem::needs_measure_and_value;
	if ((k == "he_application" || k == "continuation") && !f.has_value)
		return Problem::needs_value;
	if (k == "he_entry" && ukprn.empty() && !f.has_name)
		return Problem::needs_provider;
	return Problem::none;
}

// What a user reads about a line's problem.
std::optional<std::string> message(Problem p, const Layout &layout, std::size_t n, const Reading &r) {
	switch (p) {
	case Problem::none: return std::nullopt;
	case Problem::field_count:
		return "expected " + std::to_string(layout.n_fields) + " fields, found " + std::to_string(n);
	case Problem::no_reference: return std::string("no reference");
	case Problem::unknown_code: return "unknown outcome code \"" + std::string(left_chars(r.code, 50)) + "\"";
	case Problem::academic_year:
		return "academic year \"" + std::string(left_chars(r.year, 50)) + "\" is not a year such as 2023 or 2023/24";
	case Problem::ukprn: return "UKPRN \"" + std::string(left_chars(r.ukprn, 50)) + "\" is not 8 digits beginning with 1";
	case Problem::measure_length: return std::string("measure longer than 100 characters");
	case Problem::value_length: return std::string("value longer than 200 characters");
	case Problem::name_length: return std::string("provider name longer than 200 characters");
	case Problem::needs_measure_and_value: return "a " + *r.kind + " outcome needs a measure and a value";
	case Problem::needs_value: return "a " + *r.kind + " outcome needs a value";
	case Problem::needs_provider: return std::string("an he_entry outcome needs a provider (UKPRN or name)");
	}
	return std::nullopt;
}

}  // namespace

Fact check_line(const Layout &layout, const std::vector<std::string> *fields, const std::string &error, bool terminated) {
	const std::size_t n = fields ? fields->size() : 0;
	FactView v;
	Reading r;
	const Problem p = read_line(layout, fields ? fields->data() : nullptr, n, v, r, char_length);
	Fact f;
	if (r.has_reference)
		f.reference = ascii::upper(v.reference);
	if (r.kind)
		f.kind = *r.kind;
	if (r.year_ok)
		f.academic_year = v.academic_year;
	f.measure = std::string(v.measure);
	if (v.has_value)
		f.value = std::string(v.value);
	f.provider_ukprn = v.provider_ukprn;
	if (v.has_name)
		f.provider_name = std::string(v.provider_name);
	if (!error.empty()) {
		if (error.rfind("unterminated quoted field", 0) == 0)
			f.problem = error + ": everything from this line to the end of the file is inside it";
		else
			f.problem = error;
	} else if (!terminated) {
		f.problem = "the last line has no line terminator: the file may be truncated";
	} else {
		f.problem = message(p, layout, n, r);
	}
	return f;
}

bool split_plain_line(std::string_view line, std::vector<std::string_view> &fields) {
	fields.clear();
	std::size_t start = 0;
	for (std::size_t i = 0; i < line.size(); ++i) {
		const char c = line[i];
		if (c < 0x20 || c > 0x7E || c == '"')
			return false;
		if (c == ',') {
			fields.push_back(line.substr(start, i - start));
			start = i + 1;
		}
	}
	fields.push_back(line.substr(start));
	return fields.size() <= csv::max_fields;
}

bool quick_check(const Layout &layout, const std::string_view *fields, std::size_t n, FactView &out) noexcept {
	Reading r;
	if (read_line(layout, fields, n, out, r, [](std::string_view s) { return s.size(); }) != Problem::none)
		return false;
	// The views go into the import as they are: the reference must be there, upper case already.
	if (!r.has_reference)
		return false;
	for (char c : out.reference)
		if (c >= 'a' && c <= 'z')
			return false;
	return true;
}

}  // namespace outreach::outcome_lines
