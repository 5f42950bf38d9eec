#include "core/access_levels.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace outreach::access_levels;
using outreach::test::error_from;
using ids = std::vector<std::int32_t>;

TEST(AccessLevels, TheFourLevelsByTheirExactNames) {
	EXPECT_EQ(parse_level("reader"), reader);
	EXPECT_EQ(parse_level("writer"), writer);
	EXPECT_EQ(parse_level("dpo"), dpo);
	EXPECT_EQ(parse_level("analyst"), analyst);
}

TEST(AccessLevels, AnUnknownLevelIsAnInvalidParameterNamingIt) {
	for (const char *bad : {"Reader", "admin", "", "reader "}) {
		const outreach::Error e = error_from([&] { parse_level(bad); });
		EXPECT_STREQ(e.sqlstate(), "22023");
		EXPECT_EQ(std::string(e.what()), "unknown access level \"" + std::string(bad) + "\"");
		EXPECT_EQ(e.hint(), "Levels are reader, writer, dpo and analyst.");
	}
	// (a long name is cut to 40 characters in the message)
	const outreach::Error e = error_from([] { parse_level(std::string(100, 'x')); });
	EXPECT_EQ(std::string(e.what()), "unknown access level \"" + std::string(40, 'x') + "\"");
}

TEST(AccessLevels, AHeldRowGrantsItsLevelOnly) {
	const Answer a = controller_ids({{7, writer, true}, {8, dpo, true}, {9, writer, false}}, false);
	EXPECT_EQ(a.ids[writer], ids{7});
	EXPECT_EQ(a.ids[dpo], ids{8});
	EXPECT_EQ(a.ids[reader], ids{});
	EXPECT_EQ(a.ids[analyst], ids{});
}

TEST(AccessLevels, AReaderAlsoAnalyses) {
	const Answer a = controller_ids({{3, reader, true}, {4, reader, false}}, false);
	EXPECT_EQ(a.ids[reader], ids{3});
	EXPECT_EQ(a.ids[analyst], ids{3});
}

TEST(AccessLevels, TheProcessorReadsAndAnalysesEveryMemberWithAReaderRow) {
	const Answer a = controller_ids({{5, reader, false}, {2, reader, true}, {6, writer, false}, {9, analyst, false}}, true);
	EXPECT_EQ(a.ids[reader], (ids{2, 5}));
	EXPECT_EQ(a.ids[analyst], (ids{2, 5}));
	EXPECT_EQ(a.ids[writer], ids{});  // never more than reading
	EXPECT_EQ(a.ids[dpo], ids{});
}

TEST(AccessLevels, AnswersAreAscendingWithoutRepeats) {
	// Several roles of one member at a level (rows for the same member and level), out of order.
	const Answer a = controller_ids({{42, reader, true}, {3, reader, true}, {42, reader, true}, {42, analyst, true}}, true);
	EXPECT_EQ(a.ids[reader], (ids{3, 42}));
	EXPECT_EQ(a.ids[analyst], (ids{3, 42}));
}
