#include "core/outcome_import.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace outreach::outcome_import;
namespace ol = outreach::outcome_lines;

namespace {

// References in the shape the service sends them (key version, '-', 26 + 1 characters); the
// tests use the key version to tell members apart.
std::string ref(int member, int n) {
	std::string body = std::to_string(n);
	return std::to_string(member) + "-" + std::string(26 - body.size(), 'A') + body + "Z";
}

ol::Fact fact(std::string reference, std::string kind, int year, std::string measure, std::optional<std::string> value,
              int ukprn = 0, std::optional<std::string> name = std::nullopt) {
	ol::Fact f;
	f.reference = std::move(reference);
	f.kind = std::move(kind);
	f.academic_year = year;
	f.measure = std::move(measure);
	f.value = std::move(value);
	f.provider_ukprn = ukprn;
	f.provider_name = std::move(name);
	return f;
}

ol::Fact bad(std::string problem) {
	ol::Fact f;
	f.problem = std::move(problem);
	return f;
}

std::vector<std::string> describe(const std::vector<LineError> &errors) {
	std::vector<std::string> out;
	for (const LineError &e : errors)
		out.push_back(std::to_string(e.line_no) + " " + e.status + ": " + e.reason);
	return out;
}

Fact held(std::int64_t pid, const char *kind, int year, const char *measure, const char *value, std::int64_t import_id) {
	Fact f;
	f.participant_id = pid;
	f.kind = kind_index(kind);
	f.academic_year = year;
	f.measure = measure;
	f.value = std::string_view(value);
	f.import_id = import_id;
	return f;
}

}  // namespace

TEST(OutcomeImport, EveryLineIsJudgedInTheOrderOfItsProblems) {
	FileImport imp("hesa", 7, 1000);
	imp.add_line(2, fact(ref(1, 1), "ks4", 2023, "attainment8", "47"));       // good
	imp.add_line(3, bad("expected 5 fields, found 4"));                        // its own problem
	imp.add_line(4, fact("NOT-A-REFERENCE", "ks4", 2023, "attainment8", "1"));  // malformed
	imp.add_line(5, fact(ref(1, 99), "ks4", 2023, "attainment8", "1"));        // never sent
	imp.add_line(6, fact(ref(1, 2), "ks4", 2023, "attainment8", "1"));         // deleted since
	imp.add_line(7, fact(ref(2, 3), "ks4", 2023, "attainment8", "1"));         // withdrawn
	imp.add_line(8, fact(ref(2, 4), "ks4", 2023, "attainment8", "1"));         // restricted
	imp.add_line(9, fact(ref(1, 1), "ks4", 2023, "attainment8", "47"));       // duplicate of 2
	imp.add_line(10, fact(ref(1, 1), "ks4", 2023, "attainment8", "48"));      // conflicts with 2
	imp.add_line(11, fact(ref(1, 1), "ks4", 2022, "attainment8", "40"));      // another fact: good
	imp.match(ref(1, 1), 1, 10);
	imp.match(ref(1, 1), 1, 10);  // sent again in a later export
	imp.match(ref(1, 2), 1, 20);
	imp.match(ref(2, 3), 2, 30);
	imp.match(ref(2, 4), 2, 40);
	imp.match(ref(3, 5), 3, 50);  // in the ledger, not in the file
	EXPECT_EQ(imp.matched_members(), (std::vector<std::int32_t>{1, 2}));
	imp.participant(1, 10, false, false);
	imp.participant(2, 30, true, false);
	imp.participant(2, 40, false, true);
	imp.participant(1, 11, false, false);  // not in the file
	imp.judge();
	const std::string r99 = ref(1, 99), r2 = ref(1, 2), r3 = ref(2, 3), r4 = ref(2, 4);
	EXPECT_EQ(describe(imp.errors()),
	          (std::vector<std::string>{
		          "3 rejected: expected 5 fields, found 4",
		          "4 rejected: malformed reference \"NOT-A-REFERENCE\"",
		          "5 unknown_reference: reference " + r99 + " was never sent to hesa",
		          "6 unknown_reference: reference " + r2 + ": the participant's record has been deleted",
		          "7 rejected: reference " + r3 + ": the participant has withdrawn; outcome not stored",
		          "8 rejected: reference " + r4 + ": processing is restricted; outcome not stored",
		          "9 duplicate: the same outcome as line 2",
		          "10 rejected: conflicts with line 2: the same outcome with another value",
	          }));
	ASSERT_EQ(imp.blocks().size(), 1u);
	const auto &b = imp.blocks()[0];
	EXPECT_EQ(b.controller_id, 1);
	EXPECT_EQ(b.block, 0);
	const std::vector<Fact> incoming = imp.incoming(b);
	ASSERT_EQ(incoming.size(), 2u);
	EXPECT_EQ(incoming[0].academic_year, 2022);  // key order
	EXPECT_EQ(incoming[0].line_no, 11);
	EXPECT_EQ(incoming[1].line_no, 2);
	EXPECT_EQ(incoming[1].participant_id, 10);
	EXPECT_EQ(incoming[1].value, std::optional<std::string_view>("47"));
	EXPECT_EQ(incoming[1].import_id, 7);
	EXPECT_EQ(incoming[1].updated_at, 1000);
	EXPECT_EQ(imp.lines(), 10u);
}

TEST(OutcomeImport, FactsFallInTheBlocksOfTheirParticipants) {
	FileImport imp("dfe", 1, 0);
	// Out of order, across two members and two blocks of 65536 ids.
	imp.add_line(2, fact(ref(5, 1), "ks4", 2023, "m", "1"));
	imp.add_line(3, fact(ref(4, 2), "ks4", 2023, "m", "2"));
	imp.add_line(4, fact(ref(4, 3), "ks4", 2023, "m", "3"));
	imp.match(ref(5, 1), 5, 65536 * 3 + 1);
	imp.match(ref(4, 2), 4, 65536 + 7);
	imp.match(ref(4, 3), 4, 5);
	for (auto [c, p] : {std::pair{5, 65536 * 3 + 1}, std::pair{4, 65536 + 7}, std::pair{4, 5}})
		imp.participant(c, p, false, false);
	imp.judge();
	EXPECT_TRUE(imp.errors().empty());
	std::vector<std::string> got;
	for (const auto &b : imp.blocks())
		got.push_back(std::to_string(b.controller_id) + "/" + std::to_string(b.block) + ":" +
		              std::to_string(imp.incoming(b).size()));
	EXPECT_EQ(got, (std::vector<std::string>{"4/0:1", "4/1:1", "5/3:1"}));
}

TEST(OutcomeImport, AnEmptyLedgerLeavesEveryReferenceUnknown) {
	FileImport imp("ucas", 1, 0);
	imp.add_line(2, fact(ref(1, 1), "he_application", 2024, "", "offer"));
	imp.judge();
	ASSERT_EQ(imp.errors().size(), 1u);
	EXPECT_EQ(imp.errors()[0].status, "unknown_reference");
	EXPECT_TRUE(imp.blocks().empty());
}

TEST(OutcomeImport, MergingInsertsUpdatesAndKeepsWhatIsUnchanged) {
	const std::vector<Fact> held_facts = {held(1, "ks4", 2023, "a8", "40", 1), held(1, "ks4", 2023, "p8", "0.5", 1),
	                                      held(3, "ks5", 2024, "points", "120", 1)};
	std::vector<Fact> incoming = {held(1, "ks4", 2023, "a8", "40", 2),        // unchanged: import 1 kept
	                              held(1, "ks4", 2023, "p8", "0.7", 2),       // updated
	                              held(2, "he_entry", 2025, "", "", 2)};      // inserted
	incoming[2].value = std::nullopt;
	incoming[2].provider_ukprn = 10007774;
	const Merged m = merge_block(held_facts, incoming);
	EXPECT_EQ(m.inserted, 1u);
	EXPECT_EQ(m.updated, 1u);
	EXPECT_EQ(m.unchanged, 1u);
	EXPECT_TRUE(m.changed());
	ASSERT_EQ(m.facts.size(), 4u);
	EXPECT_EQ(m.facts[0].import_id, 1);
	EXPECT_EQ(m.facts[1].value, std::optional<std::string_view>("0.7"));
	EXPECT_EQ(m.facts[1].import_id, 2);
	EXPECT_EQ(m.facts[2].participant_id, 2);
	EXPECT_EQ(m.facts[3].participant_id, 3);
	for (std::size_t i = 1; i < m.facts.size(); ++i)
		EXPECT_TRUE(key_less(m.facts[i - 1], m.facts[i]));

	const Merged again = merge_block(m.facts, {held(1, "ks4", 2023, "a8", "40", 3)});
	EXPECT_FALSE(again.changed());
	EXPECT_EQ(again.unchanged, 1u);
	EXPECT_EQ(again.facts.size(), 4u);
}

TEST(OutcomeImport, KindsAreInByteOrder) {
	for (std::size_t i = 1; i < std::size(kinds); ++i)
		EXPECT_LT(kinds[i - 1], kinds[i]);
	EXPECT_EQ(kind_index("he_entry"), 2);
	EXPECT_EQ(kind_index("KS4"), -1);
}

TEST(OutcomeImport, AMillionLinesMatchAndGroup) {
	// Enough lines that the tables grow and probe (a regression net for the hashing).
	constexpr int n = 200000;
	FileImport imp("dfe", 1, 0);
	for (int i = 0; i < n; ++i)
		imp.add_line(i + 2, fact(ref(1 + i % 7, i), "ks4", 2023, "attainment8", std::to_string(i % 90)));
	for (int i = n - 1; i >= 0; --i)
		imp.match(ref(1 + i % 7, i), 1 + i % 7, i);
	for (int i = 0; i < n; ++i)
		imp.participant(1 + i % 7, i, false, false);
	imp.judge();
	EXPECT_TRUE(imp.errors().empty());
	std::size_t facts = 0;
	for (const auto &b : imp.blocks()) {
		const std::vector<Fact> incoming = imp.incoming(b);
		facts += incoming.size();
		for (const Fact &f : incoming)
			EXPECT_EQ(f.participant_id >> FileImport::block_bits, b.block);
	}
	EXPECT_EQ(facts, static_cast<std::size_t>(n));
}
