#include "import_header.hpp"

#include "error.hpp"

namespace outreach::import_header {

namespace {

const std::vector<FieldSpec> participant_fields = {
	{"external_ref", true, "reference|ref|yourreference|memberreference|studentid|studentreference|studentref|participantid|participantreference|id"},
	{"first_name", true, "forename|forenames|firstname|givenname|givennames|fnames|first"},
	{"last_name", true, "surname|lastname|familyname|last"},
	{"date_of_birth", true, "dob|dateofbirth|birthdate|birthdte|birthday"},
	{"postcode", false, "postcode|homepostcode|postalcode|permaddpostcode"},
	{"sex", false, "sex|sexid|legalsex|gender"},
	{"gender_identity", false, "genderidentity|genderid"},
	{"ethnicity", false, "ethnicity|ethnic|ethnicgroup|ethnicorigin"},
	{"disability", false, "disability|disable|disabled|disabilitytype"},
	{"religion", false, "religion|relblf|religionorbelief|belief"},
	{"school_urn", false, "urn|schoolurn|schoolcollegeurn"},
	{"school_ukprn", false, "ukprn|schoolukprn|collegeukprn"},
	{"upn", false, "uniquepupilnumber"},
	{"uln", false, "uniquelearnernumber"},
	{"he_entry_year_override", false, "heentryyearoverride"},
	{"he_entry_year_override_reason", false, "heentryyearoverridereason"},
};

const std::vector<FieldSpec> activity_fields = {
	{"external_ref", true, "reference|ref|activityid|activityreference|activityref|id"},
	{"activity_type", true, "type|activitytype"},
	{"name", false, "activityname|title|activitytitle"},
	{"starts_on", true, "startdate|start|startson|date|activitydate"},
	{"ends_on", false, "enddate|end|endson"},
};

const std::vector<FieldSpec> attendance_fields = {
	{"participant_ref", true, "participantreference|participantid|studentid|studentreference|studentref|participant"},
	{"activity_ref", true, "activityreference|activityid|activity"},
	{"attended_on", true, "date|attendancedate|dateattended|attended"},
};

bool listed(const char *aliases, std::string_view key) {
	std::string_view all(aliases);
	while (!all.empty()) {
		const auto bar = all.find('|');
		const std::string_view one = all.substr(0, bar);
		if (one == key)
			return true;
		if (bar == std::string_view::npos)
			break;
		all.remove_prefix(bar + 1);
	}
	return false;
}

}  // namespace

Kind kind_of(std::string_view name) {
	if (name == "participants")
		return Kind::participants;
	if (name == "activities")
		return Kind::activities;
	if (name == "attendance")
		return Kind::attendance;
	throw Error(sqlstate::invalid_parameter_value,
				"kind must be participants, activities or attendance, not \"" + std::string(name) + "\"");
}

const std::vector<FieldSpec> &fields(Kind kind) {
	switch (kind) {
	case Kind::participants: return participant_fields;
	case Kind::activities: return activity_fields;
	case Kind::attendance: return attendance_fields;
	}
	return participant_fields;
}

std::string normalise(std::string_view header) {
	std::string out;
	for (char c : header) {
		if (c >= 'A' && c <= 'Z')
			out.push_back(static_cast<char>(c - 'A' + 'a'));
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out.push_back(c);
	}
	return out;
}

Mapping map(Kind kind, const std::vector<std::string> &header) {
	// A column name is a name: at most 200 characters (it is quoted in every line's problem).
	for (std::size_t col = 0; col < header.size(); ++col)
		if (header[col].size() > 200)
			throw Error("22P04", "the header's column " + std::to_string(col + 1) + " has a name longer than 200 characters");
	const auto &specs = fields(kind);
	Mapping m;
	m.column_of.assign(specs.size(), -1);
	std::vector<std::string> given_by(specs.size());
	for (std::size_t col = 0; col < header.size(); ++col) {
		const std::string key = normalise(header[col]);
		int found = -1;
		for (std::size_t f = 0; f < specs.size() && found < 0; ++f)
			if (key == normalise(specs[f].name) || listed(specs[f].aliases, key))
				found = static_cast<int>(f);
		if (found < 0) {
			m.unknown.push_back(header[col]);
			m.unknown_positions.push_back(static_cast<int>(col) + 1);
			continue;
		}
		if (m.column_of[found] >= 0) {
			if (given_by[found].size() < 300)
				given_by[found] += ", " + header[col];
			continue;
		}
		m.column_of[found] = static_cast<int>(col);
		given_by[found] = header[col];
	}
	for (std::size_t f = 0; f < specs.size(); ++f) {
		if (given_by[f].find(", ") != std::string::npos)
			m.duplicated.push_back(std::string(specs[f].name) + " (" + given_by[f] + ")");
		if (specs[f].required && m.column_of[f] < 0)
			m.missing.push_back(specs[f].name);
	}
	return m;
}

}  // namespace outreach::import_header
