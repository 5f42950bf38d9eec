#include "core/error.hpp"
#include "core/import_header.hpp"

#include <gtest/gtest.h>

using namespace outreach::import_header;

TEST(ImportHeader, NamesAndAliasesAreMatchedLoosely) {
	const auto m = map(Kind::participants, {"Student ID", "Forename", "SURNAME", "D.O.B.", "Post Code", "Gender", "URN"});
	ASSERT_TRUE(m.usable());
	EXPECT_EQ(m.column_of[0], 0);  // external_ref
	EXPECT_EQ(m.column_of[1], 1);  // first_name
	EXPECT_EQ(m.column_of[2], 2);
	EXPECT_EQ(m.column_of[3], 3);  // date_of_birth from "D.O.B."
	EXPECT_EQ(m.column_of[4], 4);  // postcode
	EXPECT_EQ(m.column_of[5], 5);  // sex from "Gender"
	EXPECT_EQ(m.column_of[10], 6); // school_urn
	EXPECT_TRUE(m.unknown.empty());
}

TEST(ImportHeader, UnknownColumnsAreListedMissingOnesNamed) {
	const auto m = map(Kind::participants, {"external_ref", "First name", "Favourite colour", "Last name"});
	EXPECT_FALSE(m.usable());
	ASSERT_EQ(m.unknown.size(), 1u);
	EXPECT_EQ(m.unknown[0], "Favourite colour");
	EXPECT_EQ(m.unknown_positions[0], 3);
	ASSERT_EQ(m.missing.size(), 1u);
	EXPECT_EQ(m.missing[0], "date_of_birth");
}

TEST(ImportHeader, AFieldGivenTwiceMakesTheHeaderUnusable) {
	const auto m = map(Kind::participants, {"ref", "Forename", "First name", "Surname", "DOB"});
	EXPECT_FALSE(m.usable());
	ASSERT_EQ(m.duplicated.size(), 1u);
	EXPECT_EQ(m.duplicated[0], "first_name (Forename, First name)");
}

TEST(ImportHeader, Kinds) {
	EXPECT_EQ(kind_of("activities"), Kind::activities);
	EXPECT_TRUE(map(Kind::attendance, {"Student ID", "Activity", "Date"}).usable());
	EXPECT_THROW(kind_of("people"), outreach::Error);
}
