#include "export_format.hpp"

#include "error.hpp"


namespace outreach::export_format {

namespace {

[[noreturn]] void bad(std::string message) {
	throw Error(sqlstate::invalid_parameter_value, "export column spec: " + std::move(message));
}

// Splits "k=v;k=v" honouring backslash escapes.
std::vector<std::pair<std::string, std::string>> parse_codes(std::string_view body) {
	std::vector<std::pair<std::string, std::string>> out;
	std::string key, value;
	bool in_value = false;
	auto finish = [&] {
		if (!in_value)
			bad("code \"" + key + "\" has no '=' and value");
		out.emplace_back(std::move(key), std::move(value));
		key.clear();
		value.clear();
		in_value = false;
	};
	if (body.empty())
		return out;
	for (std::size_t i = 0; i < body.size(); ++i) {
		char c = body[i];
		if (c == '\\') {
			if (++i == body.size())
				bad("a code ends with a lone backslash");
			(in_value ? value : key).push_back(body[i]);
		} else if (c == '=' && !in_value) {
			in_value = true;
		} else if (c == ';') {
			finish();
		} else {
			(in_value ? value : key).push_back(c);
		}
	}
	finish();
	return out;
}

void append_2(std::string &out, int v) {
	out.push_back(static_cast<char>('0' + v / 10 % 10));
	out.push_back(static_cast<char>('0' + v % 10));
}

// At least four digits, as to_char's YYYY (dates of birth are 1900-2100: no sign, no fifth digit
// in practice, but written correctly if there is one). By hand: snprintf costs more than the rest
// of a record's date.
void append_year(std::string &out, int y) {
	if (y < 0) {
		out.push_back('-');
		y = -y;
	}
	char buf[12];
	int n = 0;
	do {
		buf[n++] = static_cast<char>('0' + y % 10);
		y /= 10;
	} while (y != 0 || n < 4);
	while (n > 0)
		out.push_back(buf[--n]);
}

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Column parse_column(std::string_view spec) {
	Column c;
	if (spec == "text")
		return c;
	if (spec == "trim") {
		c.kind = Kind::trim;
		return c;
	}
	if (spec.rfind("date:", 0) == 0) {
		c.kind = Kind::date;
		const std::string_view f = spec.substr(5);
		if (f == "YYYY-MM-DD")
			c.date_format = DateFormat::iso;
		else if (f == "DD/MM/YYYY")
			c.date_format = DateFormat::dmy_slash;
		else if (f == "YYYYMMDD")
			c.date_format = DateFormat::compact;
		else if (f == "DD-MM-YYYY")
			c.date_format = DateFormat::dmy_dash;
		else
			bad("unknown date format \"" + std::string(f) + "\"");
		return c;
	}
	if (spec.rfind("code:", 0) == 0) {
		c.kind = Kind::code;
		for (auto &[k, v] : parse_codes(spec.substr(5))) {
			if (k == "*")
				c.otherwise = std::move(v);
			else
				c.codes.emplace_back(std::move(k), std::move(v));
		}
		return c;
	}
	bad("unknown kind \"" + std::string(spec.substr(0, 40)) + "\" (text, trim, date:FORMAT or code:K=V;...)");
}

std::vector<Column> parse_columns(const std::vector<std::string_view> &specs) {
	std::vector<Column> out;
	out.reserve(specs.size());
	for (std::string_view s : specs)
		out.push_back(parse_column(s));
	return out;
}

std::string_view trim_spaces(std::string_view s) noexcept {
	const auto first = s.find_first_not_of(' ');
	if (first == std::string_view::npos)
		return {};
	return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

void append_date(std::string &out, const CivilDate &d, DateFormat f) {
	switch (f) {
	case DateFormat::iso:
		append_year(out, d.year);
		out.push_back('-');
		append_2(out, d.month);
		out.push_back('-');
		append_2(out, d.day);
		return;
	case DateFormat::compact:
		append_year(out, d.year);
		append_2(out, d.month);
		append_2(out, d.day);
		return;
	case DateFormat::dmy_slash:
	case DateFormat::dmy_dash: {
		const char sep = f == DateFormat::dmy_slash ? '/' : '-';
		append_2(out, d.day);
		out.push_back(sep);
		append_2(out, d.month);
		out.push_back(sep);
		append_year(out, d.year);
		return;
	}
	}
}

std::optional<std::string_view> code_of(const Column &c, std::optional<std::string_view> value) {
	if (!value)
		return c.otherwise ? std::optional<std::string_view>(*c.otherwise) : std::nullopt;
	const std::string_view v = trim_spaces(*value);
	for (const auto &[key, code] : c.codes) {
		if (key.size() != v.size())
			continue;
		bool same = true;
		for (std::size_t i = 0; i < v.size() && same; ++i)
			same = ascii_lower(v[i]) == key[i];
		if (same)
			return std::string_view(code);
	}
	if (c.otherwise)
		return std::string_view(*c.otherwise);
	return std::nullopt;
}

}  // namespace outreach::export_format
