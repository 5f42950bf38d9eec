#include "core/name_normalise.hpp"

#include <gtest/gtest.h>

#include <string>

using outreach::names::normalise;
using outreach::names::normalise_into;

// ---- Latin names ---------------------------------------------------------------------------

TEST(NameNormalise, DropsApostrophe) { EXPECT_EQ(normalise("O'Brien"), "obrien"); }

TEST(NameNormalise, DropsTypographicApostrophe) { EXPECT_EQ(normalise("O\xE2\x80\x99" "Brien"), "obrien"); }

TEST(NameNormalise, SpellingsOfTheSameNameAgree) {
	EXPECT_EQ(normalise("o brien"), "obrien");
	EXPECT_EQ(normalise("OBRIEN"), "obrien");
}

TEST(NameNormalise, StripsDiaeresis) { EXPECT_EQ(normalise("Zo\xC3\xAB"), "zoe"); }              // Zoë

TEST(NameNormalise, StripsCircumflex) { EXPECT_EQ(normalise("Si\xC3\xA2n"), "sian"); }          // Siân

TEST(NameNormalise, DropsHyphen) { EXPECT_EQ(normalise("Mary-Jane"), "maryjane"); }

TEST(NameNormalise, FoldsSharpSToSs) { EXPECT_EQ(normalise("Stra\xC3\x9F" "er"), "strasser"); }  // Straßer

TEST(NameNormalise, KeepsDigits) { EXPECT_EQ(normalise("Henry 8th"), "henry8th"); }

TEST(NameNormalise, DropsPunctuationAndSpaces) { EXPECT_EQ(normalise(" Dr. J.R.R. (Ronald) Tolkien, Jr! "), "drjrrronaldtolkienjr"); }

TEST(NameNormalise, DropsControlCharactersIncludingTheUnitSeparator) {
	EXPECT_EQ(normalise("a\x1F" "b\tc\n"), "abc");
}

TEST(NameNormalise, DropsEmoji) {
	EXPECT_EQ(normalise("Amy \xF0\x9F\x98\x80\xF0\x9F\x8E\x89"), "amy");          // 😀🎉
	EXPECT_EQ(normalise("\xF0\x9F\x87\xAC\xF0\x9F\x87\xA7 Sam \xE2\x9D\xA4\xEF\xB8\x8F"), "sam");  // 🇬🇧 ❤️
}

TEST(NameNormalise, PunctuationOnlyIsEmpty) {
	EXPECT_EQ(normalise("-'. ,"), "");
	EXPECT_EQ(normalise(""), "");
}

// ---- compatibility forms -------------------------------------------------------------------

TEST(NameNormalise, FoldsFullwidthLetters) { EXPECT_EQ(normalise("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3"), "abc"); }  // ＡＢＣ

TEST(NameNormalise, FoldsFullwidthDigits) { EXPECT_EQ(normalise("\xEF\xBC\x91\xEF\xBC\x92"), "12"); }  // １２

TEST(NameNormalise, ExpandsLigatureFi) { EXPECT_EQ(normalise("\xEF\xAC\x81" "ona"), "fiona"); }  // ﬁona

TEST(NameNormalise, FoldsKelvinSignToK) { EXPECT_EQ(normalise("\xE2\x84\xAA" "ate"), "kate"); }  // K (U+212A)

// ---- other scripts -------------------------------------------------------------------------

TEST(NameNormalise, KeepsChinese) { EXPECT_EQ(normalise("\xE7\x8E\x8B\xE8\x8A\xB3"), "\xE7\x8E\x8B\xE8\x8A\xB3"); }  // 王芳

TEST(NameNormalise, KeepsArabic) {
	const std::string muhammad = "\xD9\x85\xD8\xAD\xD9\x85\xD8\xAF";  // محمد
	EXPECT_EQ(normalise(muhammad), muhammad);
}

TEST(NameNormalise, FoldsGreekToLowerCaseWithoutAccents) {
	// Σωκράτης -> σωκρατησ: capital and final sigma both fold to σ, the tonos is removed.
	EXPECT_EQ(normalise("\xCE\xA3\xCF\x89\xCE\xBA\xCF\x81\xCE\xAC\xCF\x84\xCE\xB7\xCF\x82"),
	          "\xCF\x83\xCF\x89\xCE\xBA\xCF\x81\xCE\xB1\xCF\x84\xCE\xB7\xCF\x83");
}

TEST(NameNormalise, FoldsCyrillicToLowerCase) {
	EXPECT_EQ(normalise("\xD0\x98\xD0\x92\xD0\x90\xD0\x9D"), "\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD");  // ИВАН -> иван
	EXPECT_EQ(normalise("\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD"), "\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD");  // Иван -> иван
}

TEST(NameNormalise, DevanagariIsNonEmptyAndStable) {
	const std::string priya = "\xE0\xA4\xAA\xE0\xA5\x8D\xE0\xA4\xB0\xE0\xA4\xBF\xE0\xA4\xAF\xE0\xA4\xBE";  // प्रिया
	const std::string once = normalise(priya);
	EXPECT_FALSE(once.empty());
	EXPECT_EQ(normalise(priya), once);  // deterministic
	EXPECT_EQ(normalise(once), once);   // idempotent
	EXPECT_NE(once.find("\xE0\xA4\xAA"), std::string::npos);  // प, the first consonant, is kept
}

TEST(NameNormalise, OtherScriptsAreIdempotent) {
	for (const std::string name : {"\xCE\xA3\xCF\x89\xCE\xBA\xCF\x81\xCE\xAC\xCF\x84\xCE\xB7\xCF\x82",
	                               "\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD", "\xE7\x8E\x8B\xE8\x8A\xB3",
	                               "\xED\x95\x9C\xEA\xB8\x80"}) {  // Greek, Cyrillic, Chinese, Korean
		const std::string once = normalise(name);
		EXPECT_FALSE(once.empty()) << name;
		EXPECT_EQ(normalise(once), once) << name;
	}
}

// ---- Unicode normal forms ------------------------------------------------------------------

TEST(NameNormalise, NfcAndNfdGiveTheSameResult) {
	EXPECT_EQ(normalise("Zo\xC3\xAB"), normalise("Zoe\xCC\x88"));    // ë vs e + U+0308
	EXPECT_EQ(normalise("Si\xC3\xA2n"), normalise("Sia\xCC\x82n"));  // â vs a + U+0302
	// Nguyễn: U+1EC5 vs e + U+0302 + U+0303
	EXPECT_EQ(normalise("Nguy\xE1\xBB\x85n"), "nguyen");
	EXPECT_EQ(normalise("Nguye\xCC\x82\xCC\x83n"), "nguyen");
	// 한: the precomposed syllable U+D55C vs its jamo U+1112 U+1161 U+11AB
	EXPECT_EQ(normalise("\xED\x95\x9C"), normalise("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"));
}

// ---- malformed UTF-8 -----------------------------------------------------------------------

TEST(NameNormalise, DropsMalformedBytes) {
	EXPECT_EQ(normalise("Zo\xFF" "e"), "zoe");              // never valid in UTF-8
	EXPECT_EQ(normalise("\x80\x80" "abc"), "abc");          // stray continuation bytes
	EXPECT_EQ(normalise("Zo\xC3" "e"), "zoe");              // lead byte without its continuation
	EXPECT_EQ(normalise("Zo\xC3"), "zo");                   // truncated at the end
	EXPECT_EQ(normalise("a\xC0\xAF" "b"), "ab");            // overlong "/"
	EXPECT_EQ(normalise("a\xED\xA0\x80" "b"), "ab");        // UTF-16 surrogate
	EXPECT_EQ(normalise("a\xF4\x90\x80\x80" "b"), "ab");    // beyond U+10FFFF
}

TEST(NameNormalise, SurvivesEveryByteValue) {
	std::string all;
	for (int b = 0; b < 256; ++b)
		all.push_back(static_cast<char>(b));
	// The ASCII digits, then A-Z folded, then a-z survive in order; 0x80..0xFF in a row never
	// form a valid UTF-8 sequence and are all dropped.
	std::string expected;
	for (char c = '0'; c <= '9'; ++c)
		expected.push_back(c);
	for (int pass = 0; pass < 2; ++pass)
		for (char c = 'a'; c <= 'z'; ++c)
			expected.push_back(c);
	EXPECT_EQ(normalise(all), expected);
}

// ---- normalise_into ------------------------------------------------------------------------

TEST(NameNormalise, NormaliseIntoAppends) {
	std::string out = "x|";
	normalise_into("O'Brien", out);
	EXPECT_EQ(out, "x|obrien");
}

TEST(NameNormalise, ReportsAUnicodeVersion) {
	const std::string v = outreach::names::unicode_version();
	EXPECT_FALSE(v.empty());
	EXPECT_NE(v.find('.'), std::string::npos);
}
