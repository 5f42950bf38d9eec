#include "core/postcode.hpp"

#include "test_support.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace pc = outreach::postcode;
using outreach::test::contains;
using outreach::test::error_from;

namespace {

// The canonical text of input, or "" when parse() rejects it.
std::string canonical(const std::string &input) {
	pc::Packed p = 0;
	return pc::parse(input, p).ok() ? pc::to_string(p) : std::string();
}

pc::Problem problem_of(const std::string &input) {
	pc::Packed p = 0;
	return pc::parse(input, p).problem;
}

bool accepted(const std::string &input) {
	pc::Packed p = 0;
	return pc::parse(input, p).ok();
}

}  // namespace

// ---- formats -------------------------------------------------------------------------------

TEST(Postcode, AcceptsEveryOutwardFormat) {
	EXPECT_EQ(canonical("M1 1AE"), "M1 1AE");       // A9 9AA
	EXPECT_EQ(canonical("B33 8TH"), "B33 8TH");     // A99 9AA
	EXPECT_EQ(canonical("CR2 6XH"), "CR2 6XH");     // AA9 9AA
	EXPECT_EQ(canonical("DN55 1PT"), "DN55 1PT");   // AA99 9AA
	EXPECT_EQ(canonical("W1A 0AX"), "W1A 0AX");     // A9A 9AA
	EXPECT_EQ(canonical("EC1A 1BB"), "EC1A 1BB");   // AA9A 9AA
}

TEST(Postcode, AcceptsAnyCaseAndSpacing) {
	EXPECT_EQ(canonical(" sw1a  1aa "), "SW1A 1AA");
	EXPECT_EQ(canonical("sw1a1aa"), "SW1A 1AA");
	EXPECT_EQ(canonical("Sw1A 1aA"), "SW1A 1AA");
	EXPECT_EQ(canonical("\tSW1A\t1AA\n"), "SW1A 1AA");
	EXPECT_EQ(canonical("S W 1 A 1 A A"), "SW1A 1AA");
	EXPECT_EQ(canonical("m11ae"), "M1 1AE");
}

TEST(Postcode, AcceptsFiveToSevenLettersAndDigits) {
	EXPECT_TRUE(accepted("M11AE"));     // 5
	EXPECT_TRUE(accepted("CR26XH"));    // 6
	EXPECT_TRUE(accepted("DN551PT"));   // 7
}

TEST(Postcode, RejectsFourLettersAndDigits) {
	pc::Packed p = 0;
	const pc::ParseResult r = pc::parse("M1 1A", p);
	EXPECT_EQ(r.problem, pc::Problem::bad_length);
	EXPECT_EQ(r.length, 4);
	EXPECT_TRUE(contains(pc::describe(r), "has 4 letters and digits"));
}

TEST(Postcode, RejectsEightLettersAndDigits) {
	pc::Packed p = 0;
	const pc::ParseResult r = pc::parse("DN55 1PTA", p);
	EXPECT_EQ(r.problem, pc::Problem::bad_length);
	EXPECT_TRUE(contains(pc::describe(r), "more than 7"));
}

TEST(Postcode, RejectsEmptyAndBlank) {
	EXPECT_EQ(problem_of(""), pc::Problem::empty);
	EXPECT_EQ(problem_of("   "), pc::Problem::empty);
}

TEST(Postcode, RejectsOutwardCodesOfNoFormat) {
	EXPECT_EQ(problem_of("AA 1AA"), pc::Problem::outward_format);    // AA
	EXPECT_EQ(problem_of("1A1 1AA"), pc::Problem::outward_format);   // 9A9
	EXPECT_EQ(problem_of("A1AA 1AA"), pc::Problem::outward_format);  // A9AA
	EXPECT_EQ(problem_of("A111 1AA"), pc::Problem::outward_format);  // A999
	EXPECT_EQ(problem_of("AAA 1AA"), pc::Problem::outward_format);   // AAA
	EXPECT_EQ(problem_of("AB1 AAA"), pc::Problem::inward_format);
	EXPECT_EQ(problem_of("AB1 11A"), pc::Problem::inward_format);
}

// ---- letter-position rules -----------------------------------------------------------------

TEST(Postcode, FirstLetterIsNeverQVOrX) {
	for (char c = 'A'; c <= 'Z'; ++c) {
		const std::string code = std::string(1, c) + "1 1AA";
		const bool forbidden = std::strchr("QVX", c) != nullptr;
		EXPECT_EQ(accepted(code), !forbidden) << code;
		if (forbidden) {
			EXPECT_EQ(problem_of(code), pc::Problem::first_letter) << code;
		}
	}
}

TEST(Postcode, SecondLetterIsNeverIJOrZ) {
	for (char c = 'A'; c <= 'Z'; ++c) {
		const std::string code = std::string("B") + c + "1 1AA";
		const bool forbidden = std::strchr("IJZ", c) != nullptr;
		EXPECT_EQ(accepted(code), !forbidden) << code;
		if (forbidden) {
			EXPECT_EQ(problem_of(code), pc::Problem::second_letter) << code;
		}
	}
}

TEST(Postcode, ThirdLetterOfA9AIsOneOfABCDEFGHJKPSTUW) {
	for (char c = 'A'; c <= 'Z'; ++c) {
		const std::string code = std::string("W1") + c + " 1AA";
		const bool allowed = std::strchr("ABCDEFGHJKPSTUW", c) != nullptr;
		EXPECT_EQ(accepted(code), allowed) << code;
		if (!allowed) {
			EXPECT_EQ(problem_of(code), pc::Problem::third_letter) << code;
		}
	}
}

TEST(Postcode, FourthLetterOfAA9AIsOneOfABEHMNPRVWXY) {
	for (char c = 'A'; c <= 'Z'; ++c) {
		const std::string code = std::string("EC1") + c + " 1BB";
		const bool allowed = std::strchr("ABEHMNPRVWXY", c) != nullptr;
		EXPECT_EQ(accepted(code), allowed) << code;
		if (!allowed) {
			EXPECT_EQ(problem_of(code), pc::Problem::fourth_letter) << code;
		}
	}
}

TEST(Postcode, InwardLettersAreNeverCIKMOV) {
	for (char c = 'A'; c <= 'Z'; ++c) {
		const bool forbidden = std::strchr("CIKMOV", c) != nullptr;
		const std::string second = std::string("SW1A 1") + c + "A";
		const std::string third = std::string("SW1A 1A") + c;
		EXPECT_EQ(accepted(second), !forbidden) << second;
		EXPECT_EQ(accepted(third), !forbidden) << third;
		if (forbidden) {
			EXPECT_EQ(problem_of(second), pc::Problem::inward_letter) << second;
			EXPECT_EQ(problem_of(third), pc::Problem::inward_letter) << third;
		}
	}
}

// ---- special cases -------------------------------------------------------------------------

TEST(Postcode, AcceptsGirobanksGIR0AA) {
	EXPECT_EQ(canonical("gir0aa"), "GIR 0AA");
	EXPECT_FALSE(accepted("GIR 1AA"));  // only the one historic code breaks the second-letter rule
}

TEST(Postcode, AcceptsCrownDependencies) {
	EXPECT_EQ(canonical("GY1 1AA"), "GY1 1AA");  // Guernsey
	EXPECT_EQ(canonical("JE2 3AB"), "JE2 3AB");  // Jersey
	EXPECT_EQ(canonical("IM1 1AA"), "IM1 1AA");  // Isle of Man
}

TEST(Postcode, AcceptsBfpoBF1) { EXPECT_EQ(canonical("bf1 2at"), "BF1 2AT"); }

TEST(Postcode, RejectsGibraltarGX111AA) {
	EXPECT_EQ(problem_of("GX11 1AA"), pc::Problem::overseas_territory);
	EXPECT_EQ(problem_of("gx111aa"), pc::Problem::overseas_territory);
}

TEST(Postcode, RejectsZZ999ZZ) { EXPECT_FALSE(accepted("ZZ99 9ZZ")); }

TEST(Postcode, RejectsPunctuation) {
	pc::Packed p = 0;
	const pc::ParseResult r = pc::parse("SW1A-1AA", p);
	EXPECT_EQ(r.problem, pc::Problem::bad_character);
	EXPECT_EQ(r.offending, '-');
	EXPECT_TRUE(contains(pc::describe(r), "\"-\""));
	EXPECT_FALSE(accepted("SW1A.1AA"));
	EXPECT_FALSE(accepted("SW1A 1AA,"));
}

TEST(Postcode, RejectsNonAsciiBytes) {
	EXPECT_EQ(problem_of("SW1A 1A\xC3\x89"), pc::Problem::bad_character);  // "É"
	EXPECT_EQ(problem_of("\xC3\x89" "C1A 1BB"), pc::Problem::bad_character);
	EXPECT_EQ(problem_of("SW1A\xC2\xA0" "1AA"), pc::Problem::bad_character);  // no-break space
	pc::Packed p = 0;
	const std::string why = pc::describe(pc::parse("SW1A 1A\xC3\x89", p));
	EXPECT_TRUE(contains(why, "other than letters A-Z"));
	EXPECT_FALSE(contains(why, "\xC3"));  // never a split UTF-8 byte in the message
}

// ---- errors --------------------------------------------------------------------------------

TEST(Postcode, ParseOrThrowReturnsThePackedValue) {
	EXPECT_EQ(pc::to_string(pc::parse_or_throw(" ec1a1bb")), "EC1A 1BB");
}

TEST(Postcode, ParseOrThrowNamesTheValueAndTheProblem) {
	const auto e = error_from([] { pc::parse_or_throw("QA1 1AA"); });
	EXPECT_STREQ(e.sqlstate(), "22P02");
	const std::string what = e.what();
	EXPECT_TRUE(contains(what, "\"QA1 1AA\"")) << what;
	EXPECT_TRUE(contains(what, "cannot begin with Q")) << what;
	EXPECT_FALSE(e.hint().empty());
}

TEST(Postcode, ParseOrThrowRejectsEmpty) {
	const auto e = error_from([] { pc::parse_or_throw(""); });
	EXPECT_STREQ(e.sqlstate(), "22P02");
	EXPECT_TRUE(contains(e.what(), "empty")) << e.what();
}

TEST(Postcode, ErrorMessageShortensLongInputWithoutSplittingUtf8) {
	const std::string input = std::string(39, 'A') + "\xC3\x89" + std::string(100, 'B');
	const auto e = error_from([&] { pc::parse_or_throw(input); });
	EXPECT_STREQ(e.sqlstate(), "22P02");
	const std::string what = e.what();
	EXPECT_TRUE(contains(what, "\"" + std::string(39, 'A') + "...\"")) << what;
	EXPECT_FALSE(contains(what, "\xC3")) << what;
	EXPECT_FALSE(contains(what, "BBBB")) << what;
}

TEST(Postcode, DescribeExplainsLetterRules) {
	pc::Packed p = 0;
	EXPECT_EQ(pc::describe(pc::parse("AI1 1AA", p)),
	          "the second letter cannot be I (I, J and Z are never second)");
	EXPECT_EQ(pc::describe(pc::parse("W1I 1AA", p)),
	          "in an A9A outward code the letter cannot be I (only A-H, J, K, P, S, T, U, W)");
	EXPECT_EQ(pc::describe(pc::parse("EC1C 1BB", p)),
	          "in an AA9A outward code the last letter cannot be C (only A, B, E, H, M, N, P, R, V-Y)");
	EXPECT_EQ(pc::describe(pc::parse("SW1A 1AO", p)),
	          "the inward code cannot contain the letter O (C, I, K, M, O and V are never used there)");
	EXPECT_TRUE(contains(pc::describe(pc::parse("GX11 1AA", p)), "Gibraltar"));
	EXPECT_EQ(pc::describe(pc::parse("SW1A 1AA", p)), "valid");
}

// ---- packed form ---------------------------------------------------------------------------

TEST(Postcode, PackedOrderEqualsByteOrderOfCanonicalTexts) {
	const std::vector<std::string> inputs = {
	    "SW1A 1AA", "SW1 1AA", "BA1 1AA", "B10 1AA", "B1 1AA",  "GIR 0AA", "W1A 0AX", "EC1A 1BB",
	    "M1 1AE",   "CR2 6XH", "DN55 1PT", "B33 8TH", "ZE1 0AA", "A1 1AA",  "AB10 1AA", "AB1 0AA",
	    "SW1A 0AA", "SW1A 1AB", "SW19 1AA", "SW1P 1AA", "E1 6AN", "E1W 1AA", "E10 5AA", "YO1 7HH",
	};
	std::vector<std::string> by_text;
	std::vector<pc::Packed> packed;
	for (const auto &s : inputs) {
		const pc::Packed p = pc::parse_or_throw(s);
		by_text.push_back(pc::to_string(p));
		packed.push_back(p);
	}
	std::sort(by_text.begin(), by_text.end());  // std::string compares bytes as unsigned char
	std::sort(packed.begin(), packed.end());
	std::vector<std::string> by_packed;
	for (pc::Packed p : packed)
		by_packed.push_back(pc::to_string(p));
	EXPECT_EQ(by_packed, by_text);
}

TEST(Postcode, PackedOrderOfKnownNeighbours) {
	EXPECT_LT(pc::parse_or_throw("SW1 1AA"), pc::parse_or_throw("SW1A 1AA"));
	EXPECT_LT(pc::parse_or_throw("B1 1AA"), pc::parse_or_throw("B10 1AA"));
	EXPECT_LT(pc::parse_or_throw("B10 1AA"), pc::parse_or_throw("BA1 1AA"));
}

TEST(Postcode, SameCodeInAnySpellingPacksEqual) {
	EXPECT_EQ(pc::parse_or_throw("sw1a1aa"), pc::parse_or_throw(" SW1A  1AA "));
}

TEST(Postcode, FormatWritesCanonicalTextAndReturnsItsLength) {
	char buf[9];
	EXPECT_EQ(pc::format(pc::parse_or_throw("ec1a1bb"), buf), 8);
	EXPECT_STREQ(buf, "EC1A 1BB");
	EXPECT_EQ(pc::format(pc::parse_or_throw("m11ae"), buf), 6);
	EXPECT_STREQ(buf, "M1 1AE");
}

TEST(Postcode, PartsOfAFourCharacterOutwardCode) {
	const pc::Packed p = pc::parse_or_throw("sw1a1aa");
	EXPECT_EQ(pc::outward(p), "SW1A");
	EXPECT_EQ(pc::inward(p), "1AA");
	EXPECT_EQ(pc::area(p), "SW");
	EXPECT_EQ(pc::sector(p), "SW1A 1");
	EXPECT_EQ(pc::compact(p), "SW1A1AA");
}

TEST(Postcode, PartsOfATwoCharacterOutwardCode) {
	const pc::Packed p = pc::parse_or_throw("M1 1AE");
	EXPECT_EQ(pc::outward(p), "M1");
	EXPECT_EQ(pc::inward(p), "1AE");
	EXPECT_EQ(pc::area(p), "M");
	EXPECT_EQ(pc::sector(p), "M1 1");
	EXPECT_EQ(pc::compact(p), "M11AE");
}

TEST(Postcode, PartsOfA99AndGIR) {
	const pc::Packed b = pc::parse_or_throw("B33 8TH");
	EXPECT_EQ(pc::outward(b), "B33");
	EXPECT_EQ(pc::area(b), "B");
	EXPECT_EQ(pc::sector(b), "B33 8");
	const pc::Packed g = pc::parse_or_throw("GIR 0AA");
	EXPECT_EQ(pc::outward(g), "GIR");
	EXPECT_EQ(pc::inward(g), "0AA");
	EXPECT_EQ(pc::compact(g), "GIR0AA");
}
