#include "core/outcome_lines.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace outreach::outcome_lines;

namespace {

// A HESA-like layout: reference, outcome code, academic year, measure, value, UKPRN, provider.
Layout layout() {
	Layout l;
	l.n_fields = 7;
	l.reference = 1, l.outcome = 2, l.academic_year = 3, l.measure = 4, l.value = 5, l.provider_ukprn = 6, l.provider_name = 7;
	l.codes = {{"ks4", "ks4"}, {"entry", "he_entry"}, {"cont", "continuation"}};
	return l;
}

Fact check(std::vector<std::string> fields, bool terminated = true) {
	return check_line(layout(), &fields, "", terminated);
}

std::string problem(std::vector<std::string> fields) { return check(std::move(fields)).problem.value_or("(none)"); }

}  // namespace

TEST(OutcomeLines, AGoodLineIsTrimmedAndTyped) {
	const Fact f = check({" 1-abc ", " KS4 ", "2023/24", " attainment8 ", " 47 ", "", ""});
	EXPECT_EQ(f.problem, std::nullopt);
	EXPECT_EQ(f.reference, "1-ABC");
	EXPECT_EQ(f.kind, "ks4");
	EXPECT_EQ(f.academic_year, 2023);
	EXPECT_EQ(f.measure, "attainment8");
	EXPECT_EQ(f.value, "47");
	EXPECT_EQ(f.provider_ukprn, 0);
	EXPECT_EQ(f.provider_name, std::nullopt);
}

TEST(OutcomeLines, ProblemsInTheirOrder) {
	EXPECT_EQ(problem({"r", "ks4", "2023"}), "expected 7 fields, found 3");
	EXPECT_EQ(problem({" ", "ks4", "2023", "m", "1", "", ""}), "no reference");
	EXPECT_EQ(problem({"r", "gcse", "2023", "m", "1", "", ""}), "unknown outcome code \"gcse\"");
	EXPECT_EQ(problem({"r", "ks4", "23/24", "m", "1", "", ""}), "academic year \"23/24\" is not a year such as 2023 or 2023/24");
	EXPECT_EQ(problem({"r", "ks4", "1800", "m", "1", "", ""}), "academic year \"1800\" is not a year such as 2023 or 2023/24");
	EXPECT_EQ(problem({"r", "entry", "2023", "", "", "2001234", ""}), "UKPRN \"2001234\" is not 8 digits beginning with 1");
	EXPECT_EQ(problem({"r", "ks4", "2023", std::string(101, 'm'), "1", "", ""}), "measure longer than 100 characters");
	EXPECT_EQ(problem({"r", "ks4", "2023", "m", "", "", ""}), "a ks4 outcome needs a measure and a value");
	EXPECT_EQ(problem({"r", "cont", "2023", "", "", "", ""}), "a continuation outcome needs a value");
	EXPECT_EQ(problem({"r", "entry", "2023", "", "", "", ""}), "an he_entry outcome needs a provider (UKPRN or name)");
	EXPECT_EQ(problem({"r", "entry", "2023-2024", "", "", "10007788", ""}), "(none)");
}

TEST(OutcomeLines, ALineWithAProblemStillShowsWhatItRead) {
	// (what check_line read, beside the first problem it found)
	const Fact f = check({" 1-abc ", "KS4", "1800/01", " a8 ", "", " 10007774 ", " Uni "});
	EXPECT_EQ(f.problem, "academic year \"1800/01\" is not a year such as 2023 or 2023/24");
	EXPECT_EQ(f.reference, "1-ABC");
	EXPECT_EQ(f.kind, "ks4");
	EXPECT_EQ(f.academic_year, 1800);  // a year in the right form, out of range
	EXPECT_EQ(f.measure, "a8");
	EXPECT_EQ(f.value, std::nullopt);
	EXPECT_EQ(f.provider_ukprn, 10007774);
	EXPECT_EQ(f.provider_name, "Uni");
	const Fact short_line = check({"1-a", "nope", "20x3"});
	EXPECT_EQ(short_line.problem, "expected 7 fields, found 3");
	EXPECT_EQ(short_line.reference, "1-A");
	EXPECT_EQ(short_line.kind, std::nullopt);
	EXPECT_EQ(short_line.academic_year, std::nullopt);
	EXPECT_EQ(short_line.provider_name, std::nullopt);
	// The outcome code is quoted as written, spaces and case kept.
	EXPECT_EQ(problem({"r", " GCSE ", "2023", "m", "1", "", ""}), "unknown outcome code \" GCSE \"");
}

TEST(OutcomeLines, LengthsAreInCharactersNotBytes) {
	// 100 two-byte characters are 100 characters.
	std::string measure;
	for (int i = 0; i < 100; ++i)
		measure += "\xC3\xA9";
	EXPECT_EQ(problem({"r", "ks4", "2023", measure, "1", "", ""}), "(none)");
	EXPECT_EQ(left_chars("\xC3\xA9" "abc", 2), "\xC3\xA9" "a");
	EXPECT_EQ(char_length("\xC3\xA9" "abc"), 4u);
}

TEST(OutcomeLines, CsvErrorsAndTruncationComeFirst) {
	EXPECT_EQ(check_line(layout(), nullptr, "unterminated quoted field (truncated file?)", false).problem,
	          "unterminated quoted field (truncated file?): everything from this line to the end of the file is inside it");
	EXPECT_EQ(check({"r", "ks4", "2023", "m", "1", "", ""}, false).problem,
	          "the last line has no line terminator: the file may be truncated");
}

TEST(OutcomeLines, AFixedKindNeedsNoOutcomeColumn) {
	Layout l = layout();
	l.outcome = 0;
	l.fixed_kind = "he_entry";
	std::vector<std::string> fields = {"r", "x", "2023", "", "", "", "Some University"};
	EXPECT_EQ(check_line(l, &fields, "", true).kind, "he_entry");
	EXPECT_EQ(check_line(l, &fields, "", true).problem, std::nullopt);
}

namespace {

// Fields to combine: good, odd and bad values of each column.
const std::vector<std::string> references = {"1-ABC", " 1-ABC ", "1-abc", "", "  ", "12-0123456789ABCDEFGHJKMNPQRS*"};
const std::vector<std::string> codes = {"ks4", "KS4", " Ks4 ", "entry", "cont", "nope", ""};
const std::vector<std::string> years = {"2023", "2023/24", "2023-24", "2023/2024", "1949", "2201", "23/24", "2023/", "", " 2023 ",
                                        "2023x24"};
const std::vector<std::string> measures = {"attainment8", "", " a8 ", std::string(100, 'm'), std::string(101, 'm')};
const std::vector<std::string> values = {"47", "", " 4 ", std::string(200, 'v'), std::string(201, 'v')};
const std::vector<std::string> ukprns = {"", "10007774", "20007774", "1000777", "1000777x", " 10007774 "};
const std::vector<std::string> names = {"", "University of Oxford", std::string(201, 'n')};

}  // namespace

TEST(OutcomeLines, TheQuickCheckAgreesWithTheFullOneWheneverItAnswers) {
	// Every combination the generator reaches (a stride through the product of the columns):
	// quick_check accepts a plain line exactly when check_line finds no problem in it and its
	// reference has no lower-case letter, and then reads the same values.
	const Layout l = layout();
	std::size_t accepted = 0, tried = 0;
	std::vector<std::string_view> views;
	for (std::size_t i = 0; i < 200000; ++i) {
		std::size_t k = i * 2654435761u;
		auto pick = [&](const std::vector<std::string> &v) -> const std::string & {
			const std::string &s = v[k % v.size()];
			k /= v.size();
			return s;
		};
		std::vector<std::string> fields = {pick(references), pick(codes), pick(years), pick(measures), pick(values),
		                                   pick(ukprns), pick(names)};
		std::string line;
		for (std::size_t f = 0; f < fields.size(); ++f)
			line += (f ? "," : "") + fields[f];
		++tried;
		if (!split_plain_line(line, views))
			continue;
		ASSERT_EQ(views.size(), fields.size()) << line;
		FactView q;
		const bool quick = quick_check(l, views.data(), views.size(), q);
		const Fact f = check_line(l, &fields, "", true);
		const bool upper_case = std::none_of(fields[0].begin(), fields[0].end(), [](char c) { return c >= 'a' && c <= 'z'; });
		ASSERT_EQ(quick, !f.problem && upper_case) << line << ": " << f.problem.value_or("(none)");
		if (!quick)
			continue;
		++accepted;
		EXPECT_EQ(f.reference, std::string(q.reference)) << line;
		EXPECT_EQ(f.kind, std::string(q.kind)) << line;
		EXPECT_EQ(f.academic_year, q.academic_year) << line;
		EXPECT_EQ(f.measure, q.measure) << line;
		EXPECT_EQ(f.value, q.has_value ? std::optional<std::string>(std::string(q.value)) : std::nullopt) << line;
		EXPECT_EQ(f.provider_ukprn, q.provider_ukprn) << line;
		EXPECT_EQ(f.provider_name, q.has_name ? std::optional<std::string>(std::string(q.provider_name)) : std::nullopt) << line;
	}
	EXPECT_GT(accepted, tried / 50) << "the quick path should take the usual lines";
}

TEST(OutcomeLines, PlainLinesAreSplitOnlyWhenNoQuotingRuleApplies) {
	std::vector<std::string_view> f;
	EXPECT_TRUE(split_plain_line("a,b,,c", f));
	EXPECT_EQ(f, (std::vector<std::string_view>{"a", "b", "", "c"}));
	EXPECT_TRUE(split_plain_line("", f));
	EXPECT_EQ(f.size(), 1u);
	EXPECT_FALSE(split_plain_line("a,\"b\"", f));
	EXPECT_FALSE(split_plain_line("a\tb", f));
	EXPECT_FALSE(split_plain_line("a\rb", f));
	EXPECT_FALSE(split_plain_line("caf\xC3\xA9", f));  // not ASCII: the reader checks its UTF-8
	EXPECT_FALSE(split_plain_line(std::string(1001, ','), f));  // more fields than a record may have
	EXPECT_TRUE(split_plain_line(std::string(999, ','), f));
}
