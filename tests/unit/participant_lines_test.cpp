#include "core/participant_lines.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace outreach::participant_lines;
using outreach::CivilDate;
namespace ih = outreach::import_header;
namespace id = outreach::import_dates;

namespace {

struct Fixture {
	std::vector<std::string> header{"Ref", "Forename", "Surname", "DOB", "Post Code", "Sex", "Ethnicity", "URN", "UPN"};
	ih::Mapping mapping = ih::map(ih::Kind::participants, header);
	Frames frames;
	Checker checker;
	Fixture() : checker(mapping, header, frames, id::Order::day_first, CivilDate{2026, 12, 7}) {
		frames.sex = {{"10", "female"}, {"female", "female"}, {"f", "female"}, {"11", "male"}, {"99", std::nullopt}};
		frames.ethnicity = {{"160", "White - English, Scottish, Welsh, Northern Irish or British"}};
	}
	Row check(std::vector<std::string> fields, int line = 2) {
		Row r;
		checker.check(fields, line, r);
		return r;
	}
};

}  // namespace

TEST(ParticipantLines, AGoodLineIsTypedAndTrimmed) {
	Fixture f;
	const Row r = f.check({" A1 ", "Ann", "Smith", "03/04/2008", "sw1a1aa", " F ", "160", "912345", ""});
	ASSERT_EQ(r.problem, "");
	EXPECT_EQ(r.external_ref, "A1");
	EXPECT_EQ(r.date_of_birth, (CivilDate{2008, 4, 3}));
	EXPECT_EQ(r.postcode, "SW1A 1AA");
	EXPECT_EQ(r.sex, "female");
	EXPECT_EQ(r.ethnicity, "White - English, Scottish, Welsh, Northern Irish or British");
	EXPECT_EQ(r.school_urn, 912345);
	EXPECT_FALSE(r.upn);
}

TEST(ParticipantLines, ANotAvailableCodeIsStoredAsNothing) {
	Fixture f;
	const Row r = f.check({"A1", "Ann", "Smith", "03/04/2008", "", "99", "", "", ""});
	ASSERT_EQ(r.problem, "");
	EXPECT_FALSE(r.sex);
}

TEST(ParticipantLines, EachProblemNamesTheColumn) {
	Fixture f;
	EXPECT_EQ(f.check({"", "Ann", "Smith", "03/04/2008", "", "", "", "", ""}).problem, "column \"Ref\": no value (required)");
	EXPECT_EQ(f.check({"A1", "Ann", "Smith", "31/02/2008", "", "", "", "", ""}).problem,
			  "column \"DOB\": no such date: 31/02/2008");
	EXPECT_EQ(f.check({"A1", "Ann", "Smith", "03/04/2027", "", "", "", "", ""}).problem,
			  "column \"DOB\": 2027-04-03 is not between 1900-01-01 and today");
	EXPECT_EQ(f.check({"A1", "Ann", "Smith", "03/04/2008", "SW1A", "", "", "", ""}).problem.substr(0, 37),
			  "column \"Post Code\": not a UK postcode");
	EXPECT_EQ(f.check({"A1", "Ann", "Smith", "03/04/2008", "", "X", "", "", ""}).problem,
			  "column \"Sex\": \"X\" is not a code or label of its coding frame (outreach.coding_frame)");
	EXPECT_EQ(f.check({"A1", "Ann", "Smith", "03/04/2008", "", "", "", "012345", ""}).problem,
			  "column \"URN\": a URN is 6 digits (100000-999999)");
	EXPECT_EQ(f.check({"A1", "Ann", "Smith", "03/04/2008", "", "", "", "", "A12345678901"}).problem.substr(0, 14),
			  "column \"UPN\": ");
	EXPECT_EQ(f.check({"A1", "An\x01n", "Smith", "03/04/2008", "", "", "", "", ""}).problem,
			  "column \"Forename\": a control character");
	EXPECT_EQ(f.check({"A1", std::string(201, 'a'), "Smith", "03/04/2008", "", "", "", "", ""}).problem,
			  "column \"Forename\": longer than 200 characters");
	EXPECT_EQ(f.check({"A1", "Ann"}).problem, "has 2 fields, the header 9");
}

TEST(ParticipantLines, AReferenceGivenTwiceIsTheSecondLinesProblem) {
	Fixture f;
	EXPECT_EQ(f.check({"A1", "Ann", "Smith", "03/04/2008", "", "", "", "", ""}, 2).problem, "");
	EXPECT_EQ(f.check({"A2", "Bob", "Smith", "31/02/2008", "", "", "", "", ""}, 3).problem.substr(0, 13), "column \"DOB\":");
	EXPECT_EQ(f.check({"A1", "Ann", "Smyth", "03/04/2008", "", "", "", "", ""}, 4).problem,
			  "column \"Ref\": \"A1\" is given on line 2 already");
	EXPECT_EQ(f.check({"A2", "Bob", "Smith", "01/02/2008", "", "", "", "", ""}, 5).problem, "");  // line 3 was bad
}
