#include "core/school_ids.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

using namespace outreach::school_ids;

namespace {

// An independent implementation of the published rules, for the property tests.
char model_upn_letter(const std::string &twelve) {
	const std::string letters = "ABCDEFGHJKLMNPQRTUVWXYZ";
	int sum = 0;
	for (int pos = 2; pos <= 13; ++pos) {
		const char c = twelve[pos - 2];
		const int v = (c >= '0' && c <= '9') ? c - '0' : static_cast<int>(letters.find(c));
		sum += v * pos;
	}
	return letters[sum % 23];
}

int model_uln_remainder(const std::string &nine) {
	int sum = 0;
	for (int i = 0; i < 9; ++i)
		sum += (nine[i] - '0') * (10 - i);
	return sum % 11;
}

}  // namespace

// ---- UPN -----------------------------------------------------------------------------------

TEST(Upn, PublishedExamplesAreValid) {
	EXPECT_TRUE(is_valid_upn("B801200005001"));  // python-stdnum's example
	// A census-error guide's worked example: 2*2 + 7*4 + 1*9 + 6*10 + 4*12 + 9*13 = 266 and
	// 266 mod 23 = 13, which its own table maps to P (it adds to 267 and answers Q).
	EXPECT_TRUE(is_valid_upn("P207000016049"));
	EXPECT_FALSE(is_valid_upn("Q207000016049"));
}

TEST(Upn, WrongCheckLetterNamesTheRightOne) {
	const auto problem = upn_problem("A801200005001");
	ASSERT_TRUE(problem);
	EXPECT_EQ(*problem, "wrong check letter A (the digits give B)");
	EXPECT_EQ(*upn_problem("B207000016049"), "wrong check letter B (the digits give P)");
}

TEST(Upn, CheckLetterSkipsIOS) {
	// Every value 0 .. 22 reachable with digits maps to the list without I, O and S.
	EXPECT_EQ(upn_check_letter("000000000004"), 'G');  // 4 * 13 = 52 = 2 * 23 + 6
	for (int v = 0; v < 23; ++v) {
		// 12 digits whose weighted sum is v: a single digit d at position p with d * p = v,
		// otherwise the sum spread over two positions.
		std::string twelve(12, '0');
		int rest = v;
		for (int pos = 13; pos >= 2 && rest > 0; --pos) {
			const int d = std::min(9, rest / pos);
			twelve[pos - 2] = static_cast<char>('0' + d);
			rest -= d * pos;
		}
		if (rest != 0)
			continue;
		const char letter = *upn_check_letter(twelve);
		EXPECT_NE(letter, 'I');
		EXPECT_NE(letter, 'O');
		EXPECT_NE(letter, 'S');
		EXPECT_EQ(letter, std::string("ABCDEFGHJKLMNPQRTUVWXYZ")[v]) << twelve;
	}
}

TEST(Upn, TemporaryUpnEndsInALetterThatCountsByItsValue) {
	// "B" counts 1 at position 13, as the digit 1 would.
	const char permanent = *upn_check_letter("80120000500" "1");
	const char temporary = *upn_check_letter("80120000500" "B");
	EXPECT_EQ(permanent, temporary);
	EXPECT_TRUE(is_valid_upn(std::string(1, temporary) + "80120000500B"));
	EXPECT_FALSE(upn_check_letter("80120000500I"));
	EXPECT_FALSE(upn_check_letter("80120000500S"));
	EXPECT_TRUE(upn_problem(std::string(1, temporary) + "80120000500O"));
}

TEST(Upn, FormatErrors) {
	EXPECT_EQ(*upn_problem(""), "a UPN has 13 characters, not 0");
	EXPECT_EQ(*upn_problem("B80120000500"), "a UPN has 13 characters, not 12");
	EXPECT_EQ(*upn_problem("B8012000050011"), "a UPN has 13 characters, not 14");
	EXPECT_EQ(*upn_problem("b801200005001"),
	          "the first character must be a check letter (a capital other than I, O or S), not \"b\"");
	EXPECT_EQ(*upn_problem("I801200005001"),
	          "the first character must be a check letter (a capital other than I, O or S), not \"I\"");
	EXPECT_EQ(*upn_problem("1801200005001"),
	          "the first character must be a check letter (a capital other than I, O or S), not \"1\"");
	EXPECT_EQ(*upn_problem("X80120000A001"), "character 10 must be a digit, not \"A\"");
	EXPECT_EQ(*upn_problem("B8012 0005001"), "character 6 must be a digit, not \" \"");
	EXPECT_EQ(*upn_problem("B80120000500\n"),
	          "the last character must be a digit, or for a temporary UPN a capital other than I, O or S, not byte 0x0A");
	EXPECT_EQ(*upn_problem("B80120000500\xC3"),
	          "the last character must be a digit, or for a temporary UPN a capital other than I, O or S, not byte 0xC3");
}

TEST(Upn, AgreesWithAnIndependentModelOnRandomNumbers) {
	std::mt19937 rng(20261125);
	const std::string letters = "ABCDEFGHJKLMNPQRTUVWXYZ";
	std::uniform_int_distribution<int> digit(0, 9), letter(0, 22), coin(0, 3);
	for (int n = 0; n < 100000; ++n) {
		std::string twelve;
		for (int i = 0; i < 11; ++i)
			twelve += static_cast<char>('0' + digit(rng));
		twelve += coin(rng) == 0 ? letters[letter(rng)] : static_cast<char>('0' + digit(rng));
		const char expected = model_upn_letter(twelve);
		ASSERT_EQ(*upn_check_letter(twelve), expected) << twelve;
		ASSERT_TRUE(is_valid_upn(expected + twelve)) << twelve;
		// Every other first letter is wrong.
		const char other = letters[(letters.find(expected) + 1 + letter(rng) % 22) % 23];
		ASSERT_FALSE(is_valid_upn(other + twelve)) << other << twelve;
	}
}

TEST(Upn, CatchesEverySingleDigitError) {
	const std::string good = "B801200005001";
	for (std::size_t i = 1; i < 13; ++i)
		for (char d = '0'; d <= '9'; ++d) {
			if (d == good[i])
				continue;
			std::string bad = good;
			bad[i] = d;
			EXPECT_FALSE(is_valid_upn(bad)) << bad;
		}
}

// ---- ULN -----------------------------------------------------------------------------------

TEST(Uln, ValidNumbers) {
	EXPECT_TRUE(is_valid_uln("9999999998"));  // 9 * 54 = 486 = 44 * 11 + 2 -> 10 - 2 = 8
	EXPECT_TRUE(is_valid_uln("1000000000"));  // 10 mod 11 = 10 -> 0
	EXPECT_TRUE(is_valid_uln("1234567899"));  // 10+18+24+28+30+30+28+24+18 = 210 = 19 * 11 + 1 -> 9
	EXPECT_FALSE(is_valid_uln("1234567890"));
}

TEST(Uln, CheckDigitFollowsTheRule) {
	EXPECT_EQ(*uln_check_digit("999999999"), '8');
	EXPECT_EQ(*uln_check_digit("100000000"), '0');
	// 1*10 + 0*9 + ... + 1*2 = 12 = 11 + 1 -> 9
	EXPECT_EQ(*uln_check_digit("100000001"), '9');
	// 1*10 + 1*9 = 19 = 11 + 8 -> 2
	EXPECT_EQ(*uln_check_digit("110000000"), '2');
	// 1*10 + 0*9 + 0*8 + 0*7 + 0*6 + 0*5 + 0*4 + 0*3 + 6*2 = 22: no check digit exists
	EXPECT_FALSE(uln_check_digit("100000006"));
	EXPECT_FALSE(uln_check_digit("012345678"));
	EXPECT_FALSE(uln_check_digit("12345678"));
	EXPECT_FALSE(uln_check_digit("12345678x"));
}

TEST(Uln, Errors) {
	EXPECT_EQ(*uln_problem(""), "a ULN has 10 digits, not 0 characters");
	EXPECT_EQ(*uln_problem("999999999"), "a ULN has 10 digits, not 9 characters");
	EXPECT_EQ(*uln_problem("99999 9998"), "character 6 must be a digit, not \" \"");
	EXPECT_EQ(*uln_problem("0999999998"), "a ULN does not begin with 0");
	EXPECT_EQ(*uln_problem("9999999997"), "wrong check digit 7 (the first nine digits give 8)");
	EXPECT_EQ(*uln_problem("1000000060"),
	          "no check digit exists for the first nine digits (their weighted sum is divisible by 11)");
}

TEST(Uln, AgreesWithAnIndependentModelOnRandomNumbers) {
	std::mt19937 rng(11);
	std::uniform_int_distribution<int> first(1, 9), digit(0, 9);
	int without_check = 0;
	for (int n = 0; n < 100000; ++n) {
		std::string nine(1, static_cast<char>('0' + first(rng)));
		for (int i = 1; i < 9; ++i)
			nine += static_cast<char>('0' + digit(rng));
		const int r = model_uln_remainder(nine);
		if (r == 0) {
			++without_check;
			ASSERT_FALSE(uln_check_digit(nine)) << nine;
			for (char d = '0'; d <= '9'; ++d)
				ASSERT_FALSE(is_valid_uln(nine + d)) << nine << d;
			continue;
		}
		const char check = static_cast<char>('0' + 10 - r);
		ASSERT_EQ(*uln_check_digit(nine), check) << nine;
		for (char d = '0'; d <= '9'; ++d)
			ASSERT_EQ(is_valid_uln(nine + d), d == check) << nine << d;
	}
	EXPECT_GT(without_check, 5000);  // about one in eleven
}
