#include "core/duplicate_match.hpp"
#include "core/nicknames.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace outreach::duplicate_match;
using outreach::CivilDate;

namespace {

Person person(const char *first, const char *last, CivilDate dob, const char *pc) { return prepare(first, last, dob, pc); }

bool has(const std::vector<std::string> &v, const char *s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Whether the two share a key (are compared at all).
bool candidates(const Person &a, const Person &b) {
	const auto ka = key_inputs(a), kb = key_inputs(b);
	for (const auto &k : ka)
		if (std::find(kb.begin(), kb.end(), k) != kb.end())
			return true;
	return false;
}

const CivilDate dob{2008, 4, 3};

}  // namespace

TEST(Nicknames, GroupsAndPlainNames) {
	EXPECT_TRUE(outreach::nicknames::same_name("bill", "william"));
	EXPECT_TRUE(outreach::nicknames::same_name("alex", "alexandra"));
	EXPECT_TRUE(outreach::nicknames::same_name("kate", "katherine"));
	EXPECT_FALSE(outreach::nicknames::same_name("jon", "jan"));
	EXPECT_FALSE(outreach::nicknames::same_name("william", "alexander"));
	EXPECT_TRUE(outreach::nicknames::same_name("zara", "zara"));
	EXPECT_GT(outreach::nicknames::group_count(), 100u);
}

TEST(DuplicateMatch, EditsAndSoundex) {
	EXPECT_EQ(edits("smith", "smith", 1), 0);
	EXPECT_EQ(edits("smith", "smtih", 1), 1);  // a transposition
	EXPECT_EQ(edits("smith", "smyth", 1), 1);
	EXPECT_EQ(edits("smith", "smythe", 1), 2);  // (more than the limit)
	EXPECT_EQ(soundex("robert"), "r163");
	EXPECT_EQ(soundex("rupert"), "r163");
	EXPECT_EQ(soundex("ashcraft"), "a261");
	EXPECT_EQ(soundex("tymczak"), "t522");
}

TEST(DuplicateMatch, TheVariantsOfOnePersonAreFound) {
	const Person a = person("Katherine", "Smith", dob, "SW1A 1AA");
	struct Case {
		Person b;
		const char *reason;
	};
	const Case cases[] = {
		{person("Katherine", "Smith", dob, "M1 1AE"), "same_name_and_dob"},      // new address
		{person("Kate", "Smith", dob, "SW1A 1AA"), "first_name_nickname"},        // nickname
		{person("Katharine", "Smith", dob, "SW1A 1AA"), "first_name_typo"},       // typo
		{person("K", "Smith", dob, "SW1A 1AA"), "first_name_initial"},           // initial only
		{person("Katherine", "Smyth", dob, "SW1A 1AA"), "surname_typo"},
		{person("Katherine", "Jones", dob, "SW1A 1AB"), "surname_changed"},       // married/changed, same area
		{person("Katherine", "Smith", CivilDate{2008, 3, 4}, "SW1A 1AA"), "dob_day_month_swapped"},
		{person("Katherine", "Smith", CivilDate{2008, 4, 13}, "SW1A 1AA"), "dob_typo"},
		{person("Katherine", "Smith", CivilDate{2009, 4, 3}, "SW1A 1AA"), "dob_typo"},
		{person("Mary-Katherine", "Smith", dob, "SW1A 1AA"), nullptr},          // a different first word: not found
	};
	for (const auto &c : cases) {
		const auto why = judge(a, c.b);
		if (!c.reason) {
			EXPECT_TRUE(why.empty()) << c.b.first;
			continue;
		}
		EXPECT_TRUE(candidates(a, c.b)) << c.reason << " " << c.b.first << " " << c.b.last;
		EXPECT_TRUE(has(why, c.reason)) << c.reason << " " << c.b.first << " " << c.b.last;
		EXPECT_EQ(judge(c.b, a), why) << "judge is symmetric for " << c.reason;
	}
}

TEST(DuplicateMatch, DifferentPeopleAreNot) {
	const Person amy = person("Amy", "Smith", dob, "SW1A 1AA");
	EXPECT_TRUE(judge(amy, person("Ann", "Smith", dob, "SW1A 1AA")).empty());         // twins
	EXPECT_TRUE(judge(amy, person("Zoe", "Smith", dob, "SW1A 1AA")).empty());
	EXPECT_TRUE(judge(amy, person("Amy", "Smith", CivilDate{2010, 6, 1}, "SW1A 1AA")).empty());  // sisters
	EXPECT_TRUE(judge(person("Jon", "Lee", dob, "M1 1AE"), person("Jan", "Lee", dob, "M1 1AE")).empty());  // both names
	EXPECT_TRUE(judge(person("George", "Lee", dob, "M1 1AE"), person("Georgia", "Lee", dob, "M1 1AE")).empty());
	EXPECT_TRUE(judge(person("Jack", "Lee", dob, "M1 1AE"), person("John", "Lee", dob, "M1 1AE")).empty());
	EXPECT_TRUE(judge(person("Ellie", "Ward", dob, "M1 1AE"), person("Elliot", "Ward", dob, "M1 1AE")).empty());
	// Far apart, common names born the same day are namesakes: only rare names are judged.
	EXPECT_TRUE(judge(amy, person("Amy", "Smith", dob, "M1 1AE"), 3, 3).empty());
	EXPECT_FALSE(judge(amy, person("Amy", "Smith", dob, "M1 1AE"), 2, 2).empty());
	EXPECT_FALSE(judge(amy, person("Amy", "Smith", dob, "SW9 1AE"), 4, 4).empty());  // the same area: up to two more
	EXPECT_TRUE(judge(amy, person("Amy", "Smith", dob, "SW9 1AE"), 5, 5).empty());
	// A changed surname needs the same area: elsewhere it is another Amy born the same day.
	EXPECT_TRUE(judge(amy, person("Amy", "Jones", dob, "M1 1AE")).empty());
	// An initial alone with a new address is too little.
	EXPECT_TRUE(judge(amy, person("A", "Smith", dob, "M1 1AE")).empty());
	// A day-month swap needs names that agree beyond an initial; a digit typo the same area.
	EXPECT_TRUE(judge(amy, person("A", "Smith", CivilDate{2008, 3, 4}, "SW1A 1AA")).empty());
	EXPECT_TRUE(judge(amy, person("Amy", "Smith", CivilDate{2008, 4, 13}, "M1 1AE")).empty());
}

TEST(DuplicateMatch, SchoolsAndPupilNumbers) {
	Person a = person("Amy", "Smith", dob, "SW1A 1AA"), b = person("Amy", "Smith", dob, "M1 1AE");
	EXPECT_TRUE(judge(a, b, 5, 5).empty());  // a common name far away: a namesake
	a.school = b.school = 17;
	EXPECT_TRUE(has(judge(a, b, 5, 5), "same_school"));  // at the same school: the person, moved
	Person c = person("Amy", "Jones", dob, "M1 1AE");
	c.school = 17;
	EXPECT_TRUE(judge(a, c).empty());  // a changed surname needs the same home, not the same school
	Person u = person("Zed", "Other", CivilDate{2001, 1, 1}, ""), v = person("Amy", "Smith", dob, "");
	u.upn = v.upn = "B801200005001";
	EXPECT_TRUE(has(judge(u, v), "same_upn"));
	EXPECT_EQ(key_inputs(prepare("", "", std::nullopt, "")).size(), 0u);
	EXPECT_EQ(key_inputs(u).front(), "8|B801200005001");
}

TEST(DuplicateMatch, NoKeysWithoutADateOfBirth) {
	EXPECT_TRUE(key_inputs(prepare("Amy", "Smith", std::nullopt, "SW1A 1AA")).empty());
	EXPECT_EQ(key_inputs(prepare("Amy", "Smith", dob, "")).size(), 2u);  // name and date only
}
