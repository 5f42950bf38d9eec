#include "core/export_block.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace outreach::export_block;

TEST(ExportBlock, ARecordIsSentAgainOnlyWhenItsContentChanged) {
	EXPECT_TRUE(unchanged(42, 42));
	EXPECT_FALSE(unchanged(42, 43));
	EXPECT_FALSE(unchanged(std::nullopt, 42));  // never sent
	EXPECT_FALSE(unchanged(std::nullopt, 0));   // (a hash of 0 is a hash like any other)
	EXPECT_TRUE(unchanged(0, 0));
}

TEST(ExportBlock, RecordsGoOutInParticipantOrderWithTheirOwnReferenceAndLine) {
	Block b;
	EXPECT_TRUE(b.empty());
	b.add({30, 2025, 7, -1}, "1-REF30", "line of 30\r\n");
	b.add({10, 2026, 8, 5}, "1-REF10", "");
	b.add({20, 2027, 9, 6}, "", "line of 20");
	EXPECT_FALSE(b.empty());
	std::vector<std::string> got;
	for (std::size_t i : b.participant_order())
		got.push_back(std::to_string(b.record(i).participant_id) + "/" + std::to_string(b.record(i).cohort_year) + "/" +
		              std::to_string(b.record(i).src_xmin) + "/" + std::to_string(b.record(i).content_hash) + " [" +
		              std::string(b.reference(i)) + "] [" + std::string(b.line(i)) + "]");
	EXPECT_EQ(got, (std::vector<std::string>{"10/2026/8/5 [1-REF10] []", "20/2027/9/6 [] [line of 20]",
	                                         "30/2025/7/-1 [1-REF30] [line of 30\r\n]"}));
}
