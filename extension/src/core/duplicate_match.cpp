#include "duplicate_match.hpp"

#include "name_normalise.hpp"
#include "nicknames.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace outreach::duplicate_match {

namespace {

std::string date_text(const CivilDate &d) { return to_string(d); }

enum class First { no, initial, typo, nickname, same };
enum class Last { no, typo, same };
enum class Dob { no, typo, swapped, same };
enum class Place { unknown, no, area, district, sector, same };

std::string district(const std::string &pc) { return pc.substr(0, pc.find(' ')); }
std::string area(const std::string &pc) {
	std::size_t n = 0;
	while (n < pc.size() && pc[n] >= 'A' && pc[n] <= 'Z')
		++n;
	return pc.substr(0, n);
}
std::string sector(const std::string &pc) {
	const auto sp = pc.find(' ');
	return sp == std::string::npos || sp + 1 >= pc.size() ? pc : pc.substr(0, sp + 2);
}

First first_agreement(const std::string &a, const std::string &b, bool near) {
	if (a.empty() || b.empty())
		return First::no;
	if (a == b)
		return First::same;
	if (nicknames::same_name(a, b))
		return First::nickname;
	if (a.size() == 1 || b.size() == 1)
		return a[0] == b[0] ? First::initial : First::no;
	// One typo (the first letter kept) in a name of four letters or more, or of three at the same
	// address or sector, unless both are listed names (of different groups).
	if (std::min(a.size(), b.size()) >= (near ? 3u : 4u) && a[0] == b[0] && edits(a, b, 1) <= 1) {
		const auto ga = nicknames::groups_of(a), gb = nicknames::groups_of(b);
		// (three letters: neither a listed name, so Jon and Jan stay two people)
		if ((ga.empty() || gb.empty()) && (std::min(a.size(), b.size()) >= 4 || (ga.empty() && gb.empty())))
			return First::typo;
	}
	return First::no;
}

Last last_agreement(const std::string &a, const std::string &b) {
	if (a.empty() || b.empty())
		return Last::no;
	if (a == b)
		return Last::same;
	if (std::min(a.size(), b.size()) >= 4 && edits(a, b, 1) <= 1)
		return Last::typo;
	if (std::min(a.size(), b.size()) >= 5 && soundex(a) == soundex(b) && edits(a, b, 2) <= 2)
		return Last::typo;
	return Last::no;
}

// Two numbers written with one digit different (3 and 13, 2008 and 2009, 12 and 21 are not).
bool one_digit_apart(int x, int y, int width) {
	char a[8], b[8];
	std::snprintf(a, sizeof a, "%0*d", width, x);
	std::snprintf(b, sizeof b, "%0*d", width, y);
	int diff = 0;
	for (int i = 0; a[i] && b[i]; ++i)
		diff += a[i] != b[i];
	return diff == 1;
}

Dob dob_agreement(const std::optional<CivilDate> &a, const std::optional<CivilDate> &b) {
	if (!a || !b)
		return Dob::no;
	if (*a == *b)
		return Dob::same;
	if (a->year == b->year && a->day == b->month && a->month == b->day)
		return Dob::swapped;
	const int same = (a->year == b->year) + (a->month == b->month) + (a->day == b->day);
	if (same == 2 && (a->year != b->year   ? one_digit_apart(a->year, b->year, 4)
					  : a->month != b->month ? one_digit_apart(a->month, b->month, 2)
											 : one_digit_apart(a->day, b->day, 2)))
		return Dob::typo;
	return Dob::no;
}

Place place_agreement(const std::string &a, const std::string &b) {
	if (a.empty() || b.empty())
		return Place::unknown;
	if (a == b)
		return Place::same;
	if (sector(a) == sector(b))
		return Place::sector;
	if (district(a) == district(b))
		return Place::district;
	if (area(a) == area(b))
		return Place::area;
	return Place::no;
}

}  // namespace

Person prepare(std::string_view first_name, std::string_view last_name, std::optional<CivilDate> dob,
			   std::string_view postcode) {
	Person p;
	// The first word of the first name ("Mary Jane" -> "mary"; "Mary-Jane" -> "mary").
	const auto cut = first_name.find_first_of(" -");
	p.first = names::normalise(first_name.substr(0, cut));
	if (p.first.empty())
		p.first = names::normalise(first_name);
	p.last = names::normalise(last_name);
	p.dob = dob;
	p.postcode = std::string(postcode);
	return p;
}

std::vector<std::string> key_inputs(const Person &p) {
	std::vector<std::string> keys;
	if (!p.upn.empty())
		keys.push_back("8|" + p.upn);
	if (!p.uln.empty())
		keys.push_back("9|" + p.uln);
	if (p.first.empty() || p.last.empty() || !p.dob)
		return keys;
	const std::string initial(1, p.first[0]);
	const std::string dob = date_text(*p.dob);
	const std::string sx = soundex(p.last);
	keys.push_back("1|" + initial + "|" + p.last + "|" + dob);
	// (day and month in either order: a swapped date of birth meets its original)
	if (p.dob->day != p.dob->month && p.dob->day <= 12) {
		const int lo = std::min(p.dob->day, p.dob->month), hi = std::max(p.dob->day, p.dob->month);
		keys.push_back("4|" + initial + "|" + p.last + "|" + std::to_string(p.dob->year) + "|" + std::to_string(lo) + "|" +
					   std::to_string(hi));
	}
	if (!p.postcode.empty()) {
		// The first name's group (a nickname meets its full name), else the name itself.
		const auto groups = nicknames::groups_of(p.first);
		if (groups.empty())
			keys.push_back("2|" + p.first + "|" + dob + "|" + district(p.postcode));
		for (int g : groups)
			keys.push_back("2|g" + std::to_string(g) + "|" + dob + "|" + district(p.postcode));
		keys.push_back("3|" + sx + "|" + dob + "|" + sector(p.postcode));
		keys.push_back("5|" + initial + "|" + sx + "|" + p.postcode + "|" + std::to_string(p.dob->year));
		keys.push_back("6|" + initial + "|" + p.last + "|" + p.postcode);
	}
	return keys;
}

std::string name_key_input(const Person &p) { return "7|" + p.first + "|" + p.last; }

std::vector<std::string> judge(const Person &a, const Person &b, long namesakes_a, long namesakes_b) {
	const Place p = place_agreement(a.postcode, b.postcode);
	// (the same school is not near in that sense: a school has hundreds of pupils; it only tells a
	// namesake from a person who moved)
	const bool same_school = a.school != 0 && a.school == b.school;
	const bool near = p == Place::same || p == Place::sector;
	const First f = first_agreement(a.first, b.first, near);
	const Last l = last_agreement(a.last, b.last);
	const Dob d = dob_agreement(a.dob, b.dob);
	const bool first_strong = f == First::same || f == First::nickname;
	const bool far = (p == Place::no || p == Place::unknown || p == Place::area) && !same_school;
	// Rare enough that a namesake born the same day is unlikely: only this pair carries the
	// name (one record each for two spellings); in the same postcode area, up to two more.
	const long shared = (a.first == b.first && a.last == b.last) ? 2 : 1;
	const bool rare = std::max(namesakes_a, namesakes_b) <= shared + (p == Place::area ? 2 : 0);
	std::vector<std::string> why;
	if (f != First::no && l == Last::same && d == Dob::same && (f != First::initial || !far) && (!far || rare))
		why.push_back("same_name_and_dob");
	if (first_strong && l == Last::typo && d == Dob::same && (!far || rare))
		why.push_back("surname_typo");
	if (first_strong && l == Last::no && d == Dob::same && near)
		why.push_back("surname_changed");
	// (a swapped date and a move at once: too little to go on)
	if (f != First::no && f != First::initial && l != Last::no && d == Dob::swapped && !far)
		why.push_back("dob_day_month_swapped");
	if (first_strong && l == Last::same && d == Dob::typo && near)
		why.push_back("dob_typo");
	if (!a.upn.empty() && a.upn == b.upn)
		why.push_back("same_upn");
	if (!a.uln.empty() && a.uln == b.uln)
		why.push_back("same_uln");
	if (why.empty())
		return why;
	if (f == First::nickname)
		why.push_back("first_name_nickname");
	if (f == First::typo)
		why.push_back("first_name_typo");
	if (f == First::initial)
		why.push_back("first_name_initial");
	if (same_school)
		why.push_back("same_school");
	why.push_back(p == Place::same       ? "same_postcode"
				  : p == Place::sector   ? "same_postcode_sector"
				  : p == Place::district ? "same_postcode_district"
				  : p == Place::area     ? "same_postcode_area"
				  : p == Place::no       ? "new_address"
										 : "postcode_unknown");
	return why;
}

int edits(std::string_view a, std::string_view b, int limit) {
	const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
	if (std::abs(n - m) > limit)
		return limit + 1;
	// Optimal string alignment distance, rows of the full table (names are short).
	std::vector<int> prev2(m + 1), prev(m + 1), cur(m + 1);
	for (int j = 0; j <= m; ++j)
		prev[j] = j;
	for (int i = 1; i <= n; ++i) {
		cur[0] = i;
		int row_min = cur[0];
		for (int j = 1; j <= m; ++j) {
			const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				cur[j] = std::min(cur[j], prev2[j - 2] + 1);
			row_min = std::min(row_min, cur[j]);
		}
		if (row_min > limit)
			return limit + 1;
		prev2.swap(prev);
		prev.swap(cur);
	}
	return std::min(prev[m], limit + 1);
}

std::string soundex(std::string_view s) {
	auto code = [](char c) -> char {
		switch (c) {
		case 'b': case 'f': case 'p': case 'v': return '1';
		case 'c': case 'g': case 'j': case 'k': case 'q': case 's': case 'x': case 'z': return '2';
		case 'd': case 't': return '3';
		case 'l': return '4';
		case 'm': case 'n': return '5';
		case 'r': return '6';
		case 'h': case 'w': return 'h';  // neither separates nor codes
		default: return c >= 'a' && c <= 'z' ? '0' : 0;  // vowels separate; others are skipped
		}
	};
	std::string out;
	char last = 0;
	for (char c : s) {
		const char k = code(c);
		if (k == 0)
			continue;
		if (out.empty()) {
			out.push_back(c);
			last = k;
			continue;
		}
		if (k == 'h')
			continue;
		if (k != '0' && k != last)
			out.push_back(k);
		last = k;
		if (out.size() == 4)
			break;
	}
	if (!out.empty())
		out.resize(4, '0');
	return out;
}

}  // namespace outreach::duplicate_match
