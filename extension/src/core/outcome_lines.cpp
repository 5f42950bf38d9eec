#include "outcome_lines.hpp"

#include "csv.hpp"            // max_fields
#include "export_format.hpp"  // trim_spaces

namespace outreach::outcome_lines {

namespace {

bool is_digits(std::string_view s) noexcept {
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

std::string ascii_case(std::string_view s, bool upper) {
	std::string out(s);
	for (char &c : out) {
		if (upper && c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
		else if (!upper && c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	}
	return out;
}

}  // namespace

std::size_t char_length(std::string_view s) noexcept {
	std::size_t n = 0;
	for (char c : s)
		if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
			++n;
	return n;
}

std::string_view left_chars(std::string_view s, std::size_t n) noexcept {
	std::size_t chars = 0;
	for (std::size_t i = 0; i < s.size(); ++i)
		if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == n)
			return s.substr(0, i);
	return s;
}

Fact check_line(const Layout &layout, const std::vector<std::string> *fields, const std::string &error, bool terminated) {
	using export_format::trim_spaces;
	Fact f;
	// The field at a 1-based position, trimmed; nullopt when absent (no column, or a short line).
	auto at = [&](int pos) -> std::optional<std::string_view> {
		if (!fields || pos <= 0 || static_cast<std::size_t>(pos) > fields->size())
			return std::nullopt;
		return trim_spaces((*fields)[static_cast<std::size_t>(pos) - 1]);
	};
	auto text_or_null = [](std::optional<std::string_view> v) -> std::optional<std::string> {
		if (!v || v->empty())
			return std::nullopt;
		return std::string(*v);
	};

	if (layout.fixed_kind && layout.outcome == 0) {
		f.kind = layout.fixed_kind;
	} else if (const auto code = at(layout.outcome)) {
		const std::string lower = ascii_case(*code, false);
		for (const auto &[k, v] : layout.codes)
			if (k == lower) {
				f.kind = v;
				break;
			}
	}
	if (const auto r = at(layout.reference))
		f.reference = ascii_case(*r, true);
	const std::string_view year_text = at(layout.academic_year).value_or(std::string_view());
	f.measure = std::string(at(layout.measure).value_or(std::string_view()));
	f.value = text_or_null(at(layout.value));
	const std::string_view ukprn_text = at(layout.provider_ukprn).value_or(std::string_view());
	f.provider_name = text_or_null(at(layout.provider_name));
	// (the raw field, as the message shows it)
	std::string_view kind_text;
	if (fields && layout.outcome > 0 && static_cast<std::size_t>(layout.outcome) <= fields->size())
		kind_text = (*fields)[static_cast<std::size_t>(layout.outcome) - 1];

	const std::size_t year_len = char_length(year_text);
	const bool year_ok = (year_len == 4 || year_len == 7 || year_len == 9) && year_text.size() == year_len &&
	                     is_digits(year_text.substr(0, 4)) &&
	                     (year_len == 4 || ((year_text[4] == '/' || year_text[4] == '-') && is_digits(year_text.substr(5))));
	if (year_ok)
		f.academic_year = std::stoi(std::string(year_text.substr(0, 4)));
	const bool ukprn_ok = ukprn_text.size() == 8 && ukprn_text[0] == '1' && is_digits(ukprn_text);
	if (ukprn_ok)
		f.provider_ukprn = std::stoi(std::string(ukprn_text));

	auto problem = [&]() -> std::optional<std::string> {
		if (!error.empty()) {
			if (error.rfind("unterminated quoted field", 0) == 0)
				return error + ": everything from this line to the end of the file is inside it";
			return error;
		}
		if (!terminated)
			return std::string("the last line has no line terminator: the file may be truncated");
		const std::size_t n = fields ? fields->size() : 0;
		if (static_cast<int>(n) != layout.n_fields)
			return "expected " + std::to_string(layout.n_fields) + " fields, found " + std::to_string(n);
		if (f.reference && f.reference->empty())
			return std::string("no reference");
		if (!f.kind)
			return "unknown outcome code \"" + std::string(left_chars(kind_text, 50)) + "\"";
		if (!year_ok || *f.academic_year < 1950 || *f.academic_year > 2200)
			return "academic year \"" + std::string(left_chars(year_text, 50)) + "\" is not a year such as 2023 or 2023/24";
		if (!ukprn_text.empty() && !ukprn_ok)
			return "UKPRN \"" + std::string(left_chars(ukprn_text, 50)) + "\" is not 8 digits beginning with 1";
		if (char_length(f.measure) > 100)
			return std::string("measure longer than 100 characters");
		if (f.value && char_length(*f.value) > 200)
			return std::string("value longer than 200 characters");
		if (f.provider_name && char_length(*f.provider_name) > 200)
			return std::string("provider name longer than 200 characters");
		const std::string &k = *f.kind;
		if ((k == "ks4" || k == "ks5") && (f.measure.empty() || !f.value))
			return "a " + k + " outcome needs a measure and a value";
		if ((k == "he_application" || k == "continuation") && !f.value)
			return "a " + k + " outcome needs a value";
		if (k == "he_entry" && ukprn_text.empty() && !f.provider_name)
			return std::string("an he_entry outcome needs a provider (UKPRN or name)");
		return std::nullopt;
	};
	f.problem = problem();
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
	using export_format::trim_spaces;
	if (static_cast<int>(n) != layout.n_fields)
		return false;
	auto at = [&](int pos) -> std::string_view {
		return pos <= 0 || static_cast<std::size_t>(pos) > n ? std::string_view() : trim_spaces(fields[pos - 1]);
	};
	out = FactView{};
	out.reference = at(layout.reference);
	if (out.reference.empty() || layout.reference <= 0)
		return false;
	for (char c : out.reference)
		if (c >= 'a' && c <= 'z')
			return false;
	if (layout.fixed_kind && layout.outcome == 0) {
		out.kind = *layout.fixed_kind;
	} else {
		if (layout.outcome <= 0)
			return false;
		const std::string_view code = at(layout.outcome);
		bool found = false;
		for (const auto &[k, v] : layout.codes) {
			if (k.size() != code.size())
				continue;
			bool same = true;
			for (std::size_t i = 0; i < k.size() && same; ++i) {
				const char c = code[i] >= 'A' && code[i] <= 'Z' ? static_cast<char>(code[i] - 'A' + 'a') : code[i];
				same = c == k[i];
			}
			if (same) {
				out.kind = v;
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	const std::string_view year = at(layout.academic_year);
	const bool year_ok = (year.size() == 4 || year.size() == 7 || year.size() == 9) && is_digits(year.substr(0, 4)) &&
	                     (year.size() == 4 || ((year[4] == '/' || year[4] == '-') && is_digits(year.substr(5))));
	if (!year_ok)
		return false;
	out.academic_year = (year[0] - '0') * 1000 + (year[1] - '0') * 100 + (year[2] - '0') * 10 + (year[3] - '0');
	if (out.academic_year < 1950 || out.academic_year > 2200)
		return false;
	const std::string_view ukprn = at(layout.provider_ukprn);
	if (!ukprn.empty()) {
		if (ukprn.size() != 8 || ukprn[0] != '1' || !is_digits(ukprn))
			return false;
		int v = 0;
		for (char c : ukprn)
			v = v * 10 + (c - '0');
		out.provider_ukprn = v;
	}
	// (printable ASCII: characters are bytes)
	out.measure = at(layout.measure);
	out.value = at(layout.value);
	out.has_value = !out.value.empty();
	out.provider_name = at(layout.provider_name);
	out.has_name = !out.provider_name.empty();
	if (out.measure.size() > 100 || out.value.size() > 200 || out.provider_name.size() > 200)
		return false;
	const std::string_view k = out.kind;
	if ((k == "ks4" || k == "ks5") && (out.measure.empty() || !out.has_value))
		return false;
	if ((k == "he_application" || k == "continuation") && !out.has_value)
		return false;
	if (k == "he_entry" && ukprn.empty() && !out.has_name)
		return false;
	return true;
}

std::optional<Repeats::Earlier> Repeats::see(int line_no, const Fact &f) {
	if (f.problem || !f.reference || !f.kind || !f.academic_year)
		return std::nullopt;
	key_.clear();
	for (const std::string &part : {*f.reference, *f.kind, std::to_string(*f.academic_year), f.measure,
	                                std::to_string(f.provider_ukprn)}) {
		key_ += part;
		key_.push_back('\x1F');
	}
	const auto [it, fresh] = first_.try_emplace(key_, First{line_no, f.value, f.provider_name});
	if (fresh)
		return std::nullopt;
	return Earlier{it->second.line_no, it->second.value == f.value && it->second.provider_name == f.provider_name};
}

}  // namespace outreach::outcome_lines
