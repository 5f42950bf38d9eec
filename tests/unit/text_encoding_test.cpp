#include "core/error.hpp"
#include "core/text_encoding.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace outreach::text_encoding;

TEST(TextEncoding, AsciiAndUtf8AreUtf8) {
	EXPECT_EQ(decide("ref,first\n1,Ann\n"), Encoding::utf8);
	EXPECT_EQ(decide("1,Zo\xC3\xAB\n"), Encoding::utf8);
	EXPECT_EQ(to_utf8("1,Zo\xC3\xAB\n", Encoding::utf8), "1,Zo\xC3\xAB\n");
}

TEST(TextEncoding, Utf8ByteOrderMarkIsDropped) {
	const std::string file = "\xEF\xBB\xBFref\n";
	EXPECT_EQ(decide(file), Encoding::utf8_bom);
	EXPECT_EQ(to_utf8(file, Encoding::utf8_bom), "ref\n");
}

TEST(TextEncoding, OneBadLineInAUtf8FileKeepsTheFileUtf8) {
	// A valid sequence anywhere: the stray byte is that line's fault, not a Latin-1 file.
	EXPECT_EQ(decide("1,Zo\xC3\xAB\n2,Ren\xE9\n"), Encoding::utf8);
}

TEST(TextEncoding, Windows1252IsConverted) {
	const std::string file = "1,Ren\xE9\n2,\x80 and \x93quotes\x94\n";
	EXPECT_EQ(decide(file), Encoding::windows1252);
	EXPECT_EQ(to_utf8(file, Encoding::windows1252), "1,Ren\xC3\xA9\n2,\xE2\x82\xAC and \xE2\x80\x9Cquotes\xE2\x80\x9D\n");
	// An undefined byte stays a (C1) control character, which the line checks refuse.
	EXPECT_EQ(to_utf8("\x81", Encoding::windows1252), "\xC2\x81");
}

TEST(TextEncoding, Utf16WithByteOrderMark) {
	const std::string le("\xFF\xFE" "A\0\xE9\0\n\0" "=\xD8\x00\xDE", 12);  // A, e-acute, LF, U+1F600
	EXPECT_EQ(decide(le), Encoding::utf16le);
	EXPECT_EQ(to_utf8(le, Encoding::utf16le), "A\xC3\xA9\n\xF0\x9F\x98\x80");
	const std::string be("\xFE\xFF\0A\0\n", 6);
	EXPECT_EQ(decide(be), Encoding::utf16be);
	EXPECT_EQ(to_utf8(be, Encoding::utf16be), "A\n");
}

TEST(TextEncoding, BrokenUtf16IsRefusedWhole) {
	try {
		to_utf8(std::string("\xFF\xFE" "A\0B", 5), Encoding::utf16le);
		FAIL() << "an odd number of bytes was accepted";
	} catch (const outreach::Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22021");
	}
	try {
		to_utf8(std::string("\xFF\xFE\x00\xDC" "A\0", 6), Encoding::utf16le);  // a lone low surrogate
		FAIL() << "a lone surrogate was accepted";
	} catch (const outreach::Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22021");
		EXPECT_NE(std::string(e.what()).find("byte offset 2"), std::string::npos) << e.what();
	}
}
