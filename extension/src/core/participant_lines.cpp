#include "participant_lines.hpp"

#include "ascii.hpp"
#include "postcode.hpp"
#include "school_ids.hpp"

namespace outreach::participant_lines {

namespace {

enum F {  // import_header's participant fields, in their order
	external_ref, first_name, last_name, date_of_birth, postcode_f, sex, gender_identity, ethnicity, disability, religion,
	school_urn, school_ukprn, upn, uln, override_year, override_reason
};

}  // namespace

std::string_view value(const std::vector<std::string> &fields, int column) noexcept {
	if (column < 0 || static_cast<std::size_t>(column) >= fields.size())
		return {};
	std::string_view v = fields[static_cast<std::size_t>(column)];
	while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
		v.remove_prefix(1);
	while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
		v.remove_suffix(1);
	return v;
}

bool has_control(std::string_view s) noexcept {
	const auto b = [&](std::size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
	for (std::size_t i = 0; i < s.size(); ++i) {
		const unsigned c = b(i);
		if (c < 0x20 || c == 0x7F)
			return true;
		if (c == 0xC2 && b(i + 1) >= 0x80 && b(i + 1) <= 0x9F)  // C1 controls U+0080-U+009F
			return true;
		if (c == 0xEF && b(i + 1) == 0xBB && b(i + 2) == 0xBF)  // U+FEFF
			return true;
		if (c == 0xE2 && b(i + 1) == 0x80 &&
			((b(i + 2) >= 0x8B && b(i + 2) <= 0x8F) || (b(i + 2) >= 0xA8 && b(i + 2) <= 0xAE)))
			return true;  // zero-width and directional marks, line and paragraph separators, embeddings
		if (c == 0xE2 && b(i + 1) == 0x81 && b(i + 2) >= 0xA6 && b(i + 2) <= 0xA9)  // isolates U+2066-U+2069
			return true;
	}
	return false;
}

void Checker::check(const std::vector<std::string> &fields, int line_no, Row &row) {
	row = Row{};
	const auto &col = mapping_.column_of;
	auto v = [&](int f) { return value(fields, col[static_cast<std::size_t>(f)]); };
	auto fail = [&](int f, const std::string &why) {
		row.problem = "column \"" + header_[static_cast<std::size_t>(col[static_cast<std::size_t>(f)])].substr(0, 100) + "\": " + why;
	};
	if (fields.size() != header_.size()) {
		row.problem = "has " + std::to_string(fields.size()) + " fields, the header " + std::to_string(header_.size());
		return;
	}
	// Texts: required ones, control characters, lengths.
	struct Text {
		int field;
		std::size_t max;
		bool required;
	};
	for (const Text t : {Text{external_ref, 100, true}, Text{first_name, 200, true}, Text{last_name, 200, true},
						 Text{override_reason, 500, false}}) {
		if (col[static_cast<std::size_t>(t.field)] < 0)
			continue;
		const std::string_view s = v(t.field);
		if (s.empty() && t.required)
			return fail(t.field, "no value (required)");
		if (has_control(s))
			return fail(t.field, "a control character");
		if (ascii::utf8_length(s) > t.max)
			return fail(t.field, "longer than " + std::to_string(t.max) + " characters");
	}
	row.external_ref = v(external_ref);
	row.first_name = v(first_name);
	row.last_name = v(last_name);

	const std::string_view dob = v(date_of_birth);
	if (dob.empty())
		return fail(date_of_birth, "no value (required)");
	std::string why;
	const auto d = import_dates::parse(dob, order_, why);
	if (!d)
		return fail(date_of_birth, why + ": " + std::string(dob.substr(0, 40)));
	if (*d < CivilDate{1900, 1, 1} || *d > today_)
		return fail(date_of_birth, to_string(*d) + " is not between 1900-01-01 and today");
	row.date_of_birth = *d;

	if (col[postcode_f] >= 0 && !v(postcode_f).empty()) {
		postcode::Packed packed = 0;
		const auto parsed = postcode::parse(v(postcode_f), packed);
		if (!parsed.ok())
			return fail(postcode_f, "not a UK postcode (" + postcode::describe(parsed) + ")");
		row.postcode = postcode::to_string(packed);
	}

	struct Coded {
		int field;
		const Frame *frame;
		std::optional<std::string> *out;
	};
	for (const Coded c : {Coded{sex, &frames_.sex, &row.sex}, Coded{gender_identity, &frames_.gender_identity, &row.gender_identity},
						  Coded{ethnicity, &frames_.ethnicity, &row.ethnicity}, Coded{disability, &frames_.disability, &row.disability},
						  Coded{religion, &frames_.religion, &row.religion}}) {
		if (col[static_cast<std::size_t>(c.field)] < 0 || v(c.field).empty())
			continue;
		const auto hit = c.frame->find(ascii::lower(v(c.field)));
		if (hit == c.frame->end())
			return fail(c.field, "\"" + std::string(v(c.field).substr(0, 40)) +
									 "\" is not a code or label of its coding frame (outreach.coding_frame)");
		*c.out = hit->second;
	}

	if (col[school_urn] >= 0 && !v(school_urn).empty()) {
		const std::string_view s = v(school_urn);
		if (!ascii::digits(s) || s.size() != 6 || s[0] == '0')
			return fail(school_urn, "a URN is 6 digits (100000-999999)");
		row.school_urn = std::stoi(std::string(s));
	}
	if (col[school_ukprn] >= 0 && !v(school_ukprn).empty()) {
		const std::string_view s = v(school_ukprn);
		if (!ascii::digits(s) || s.size() != 8 || s[0] != '1')
			return fail(school_ukprn, "a UKPRN is 8 digits beginning with 1");
		row.school_ukprn = std::stoi(std::string(s));
	}
	if (col[upn] >= 0 && !v(upn).empty()) {
		if (auto p = school_ids::upn_problem(v(upn)))
			return fail(upn, *p);
		row.upn = std::string(v(upn));
	}
	if (col[uln] >= 0 && !v(uln).empty()) {
		if (auto p = school_ids::uln_problem(v(uln)))
			return fail(uln, *p);
		row.uln = std::string(v(uln));
	}
	if (col[override_year] >= 0 && !v(override_year).empty()) {
		const std::string_view s = v(override_year);
		if (!ascii::digits(s) || s.size() != 4 || std::stoi(std::string(s)) < 1950 || std::stoi(std::string(s)) > 2100)
			return fail(override_year, "an entry year is a year from 1950 to 2100");
		if (v(override_reason).empty())
			return fail(override_year, "an override needs a reason (he_entry_year_override_reason)");
		row.override_year = std::stoi(std::string(s));
		row.override_reason = std::string(v(override_reason));
	}

	const auto [it, fresh] = first_line_of_.emplace(row.external_ref, line_no);
	if (!fresh)
		return fail(external_ref, "\"" + row.external_ref.substr(0, 40) + "\" is given on line " + std::to_string(it->second) +
									  " already");
}

}  // namespace outreach::participant_lines
