// The differencing test of issue 14: every table of a total and k parts (k = 1..4, each part's
// true value 0..30), published under each policy, attacked two ways:
//   naive: a hidden part = published total - the other parts' published values;
//   interval: each published figure stands for a range of true values (true_range), and the
//     true total is the sum of the true parts; the attacker keeps every value of a part
//     consistent with all of it (exact: checked against brute force below).
// A part is hidden when its publication does not show it: HESA 1 or 2 shown as 0, OfS [DPL].
// The counts are printed (docs/disclosure.md quotes them); the test asserts that the naive
// attacker never recovers a hidden 1 or 2, and that the protected publication (the total
// suppressed when total_publishable() says so) lets the interval attacker pin no figure.
#include "core/disclosure.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <optional>
#include <set>

using namespace outreach::disclosure;

namespace {

constexpr int max_value = 30;

// The attacker's ranges for each part, then the total (the total's own range when it is not
// published: the sum of the parts' ranges). Written here again, apart from the core.
std::vector<Interval> attack(const std::vector<Published> &parts, const std::optional<Published> &total, Policy p) {
	std::vector<Interval> own;
	__int128 sum_lo = 0, sum_hi = 0;
	for (const Published &c : parts) {
		own.push_back(true_range(c, p));
		sum_lo += own.back().lo;
		sum_hi += own.back().hi;
	}
	if (!total) {
		own.push_back({sum_lo, sum_hi});
		return own;
	}
	const Interval t = true_range(*total, p);
	std::vector<Interval> out;
	for (const Interval &i : own)
		out.push_back({std::max(i.lo, t.lo - (sum_hi - i.hi)), std::min(i.hi, t.hi - (sum_lo - i.lo))});
	out.push_back({std::max(t.lo, sum_lo), std::min(t.hi, sum_hi)});
	return out;
}

bool hidden(std::int64_t true_value, const Published &c) {
	return true_value >= 1 && true_value <= 2 && (!c.value || *c.value == 0);
}

// Calls f with every vector of k values in 0..max.
void each_table(int k, int max, const std::function<void(const std::vector<std::int64_t> &)> &f) {
	std::vector<std::int64_t> v(static_cast<std::size_t>(k), 0);
	for (;;) {
		f(v);
		std::size_t i = 0;
		while (i < v.size() && v[i] == max)
			v[i++] = 0;
		if (i == v.size())
			return;
		++v[i];
	}
}

struct Counts {
	long tables = 0, hidden_cells = 0, naive_exact = 0, interval_pinned = 0, tables_any_pinned = 0,
	     totals_suppressed = 0, protected_pinned = 0;
};

Counts measure(Policy p, int k) {
	Counts c;
	each_table(k, max_value, [&](const std::vector<std::int64_t> &parts) {
		++c.tables;
		std::vector<Published> shown;
		std::int64_t total = 0;
		for (const std::int64_t n : parts) {
			shown.push_back(publish_count(n, p));
			total += n;
		}
		const Published total_shown = publish_count(total, p);

		const std::vector<Interval> ranges = attack(shown, total_shown, p);
		bool any_pinned = false;
		for (std::size_t i = 0; i <= parts.size(); ++i) {
			const std::int64_t true_value = i < parts.size() ? parts[i] : total;
			EXPECT_TRUE(ranges[i].lo <= true_value && true_value <= ranges[i].hi);  // the attacker is never wrong
			any_pinned |= ranges[i].lo == ranges[i].hi;
		}
		c.tables_any_pinned += any_pinned;
		for (std::size_t i = 0; i < parts.size(); ++i) {
			if (!hidden(parts[i], shown[i]))
				continue;
			++c.hidden_cells;
			std::int64_t naive = total_shown.value.value_or(0);
			for (std::size_t j = 0; j < parts.size(); ++j)
				if (j != i)
					naive -= shown[j].value.value_or(0);
			c.naive_exact += naive == parts[i];
			c.interval_pinned += ranges[i].lo == ranges[i].hi;
		}

		// Protected: the total is published only when the core says no figure can be pinned.
		const bool publish_total = total_publishable(parts, p);
		c.totals_suppressed += !publish_total;
		const std::vector<Interval> left =
			attack(shown, publish_total ? std::optional<Published>(total_shown) : std::nullopt, p);
		for (const Interval &r : left)
			c.protected_pinned += r.lo == r.hi;
	});
	return c;
}

}  // namespace

TEST(DisclosureDifferencing, EveryTableOfUpToFourPartsUnderBothPolicies) {
	std::printf("policy k tables hidden_1_or_2 naive_exact interval_pinned tables_any_figure_pinned "
	            "totals_suppressed protected_pinned\n");
	for (const Policy p : {Policy::hesa, Policy::ofs}) {
		for (int k = 1; k <= 4; ++k) {
			const Counts c = measure(p, k);
			std::printf("%s %d %ld %ld %ld %ld %ld %ld %ld\n", info(p).name, k, c.tables, c.hidden_cells,
			            c.naive_exact, c.interval_pinned, c.tables_any_pinned, c.totals_suppressed,
			            c.protected_pinned);
			EXPECT_GT(c.hidden_cells, 0);
			EXPECT_EQ(c.naive_exact, 0) << info(p).name << " k=" << k;
			EXPECT_EQ(c.protected_pinned, 0) << info(p).name << " k=" << k;
		}
	}
}

// The example of the issue: three parts of 7 (shown 5), a hidden 2, total 23 (shown 25).
TEST(DisclosureDifferencing, IntervalAttackPinsTheIssuesExampleAndTheTotalIsThenSuppressed) {
	const std::vector<std::int64_t> parts = {7, 7, 7, 2};
	const std::vector<Interval> r = consistent_values(parts, Policy::hesa);
	EXPECT_TRUE(r[3].lo == 2 && r[3].hi == 2);
	EXPECT_FALSE(total_publishable(parts, Policy::hesa));
	EXPECT_TRUE(total_publishable({7, 7, 7, 3}, Policy::hesa));
}

// The core's consistent_values() and the attacker above agree, and both equal the brute-force
// set of values (every table of true values, within the published ranges, summing to a total
// within the total's range) for up to three parts of 0..14.
TEST(DisclosureDifferencing, IntervalsAreExactAgainstBruteForce) {
	for (const Policy p : {Policy::hesa, Policy::ofs}) {
		for (int k = 1; k <= 3; ++k) {
			each_table(k, 14, [&](const std::vector<std::int64_t> &parts) {
				std::vector<Published> shown;
				std::int64_t total = 0;
				for (const std::int64_t n : parts) {
					shown.push_back(publish_count(n, p));
					total += n;
				}
				const Published total_shown = publish_count(total, p);
				const std::vector<Interval> core = consistent_values(parts, p);
				const std::vector<Interval> mine = attack(shown, total_shown, p);
				std::vector<std::set<std::int64_t>> brute(parts.size() + 1);
				std::vector<std::int64_t> candidate(parts.size());
				const Interval t = true_range(total_shown, p);
				std::function<void(std::size_t, std::int64_t)> walk = [&](std::size_t i, std::int64_t sum) {
					if (i == parts.size()) {
						if (sum < t.lo || sum > t.hi)
							return;
						for (std::size_t j = 0; j <= parts.size(); ++j) {
							brute[j].insert(j < parts.size() ? candidate[j] : sum);
						}
						return;
					}
					const Interval own = true_range(shown[i], p);
					for (auto v = static_cast<std::int64_t>(own.lo); v <= own.hi; ++v) {
						candidate[i] = v;
						walk(i + 1, sum + v);
					}
				};
				walk(0, 0);
				for (std::size_t j = 0; j <= parts.size(); ++j) {
					// The consistent values form one interval, and the intervals are it.
					const std::set<std::int64_t> &b = brute[j];
					ASSERT_FALSE(b.empty());
					ASSERT_EQ(static_cast<std::int64_t>(b.size()), *b.rbegin() - *b.begin() + 1);
					ASSERT_TRUE(core[j].lo == *b.begin() && core[j].hi == *b.rbegin());
					ASSERT_TRUE(mine[j].lo == *b.begin() && mine[j].hi == *b.rbegin());
				}
			});
		}
	}
}
