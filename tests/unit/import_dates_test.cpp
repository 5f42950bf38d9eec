#include "core/error.hpp"
#include "core/import_dates.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

using namespace outreach::import_dates;
using outreach::CivilDate;

namespace {

std::optional<Order> order_of(std::initializer_list<const char *> values, std::optional<std::string_view> format = {}) {
	Tally t;
	for (const char *v : values)
		count(v, t);
	return choose(t, format);
}

std::string read(std::string_view v, std::optional<Order> o) {
	std::string why;
	const auto d = parse(v, o, why);
	return d ? outreach::to_string(*d) : "! " + why;
}

std::string sqlstate_of(std::initializer_list<const char *> values, std::optional<std::string_view> format = {}) {
	try {
		order_of(values, format);
		return "none";
	} catch (const outreach::Error &e) {
		return e.sqlstate();
	}
}

}  // namespace

TEST(ImportDates, TheFileDecidesTheOrder) {
	EXPECT_EQ(order_of({"03/04/2008", "25/12/2008"}), Order::day_first);
	EXPECT_EQ(order_of({"03/04/2008", "12/25/2008"}), Order::month_first);
	EXPECT_EQ(order_of({"2008-04-03", "3 Apr 2008"}), std::nullopt);  // nothing numeric day-month
	EXPECT_EQ(order_of({"01/01/2008", "05.05.2009"}), Order::day_first);  // the same either way
}

TEST(ImportDates, AnAmbiguousFileIsRefusedUnlessTheOrderIsGiven) {
	EXPECT_EQ(sqlstate_of({"03/04/2008", "05/06/2009"}), "22007");
	EXPECT_EQ(sqlstate_of({"25/12/2008", "12/25/2008"}), "22007");  // both orders at once
	EXPECT_EQ(order_of({"03/04/2008"}, "dd/mm/yyyy"), Order::day_first);
	EXPECT_EQ(order_of({"03/04/2008"}, "MM/DD/YYYY"), Order::month_first);
	EXPECT_EQ(sqlstate_of({"03/04/2008"}, "D/M/Y"), "22023");
	try {
		order_of({"03/04/2008"});
	} catch (const outreach::Error &e) {
		EXPECT_NE(std::string(e.what()).find("03/04/2008"), std::string::npos) << e.what();
		EXPECT_NE(e.hint().find("date_format"), std::string::npos) << e.hint();
	}
}

TEST(ImportDates, ValuesReadInTheOrder) {
	EXPECT_EQ(read("03/04/2008", Order::day_first), "2008-04-03");
	EXPECT_EQ(read("03/04/2008", Order::month_first), "2008-03-04");
	EXPECT_EQ(read("3-4-2008", Order::day_first), "2008-04-03");
	EXPECT_EQ(read("03.04.2008", Order::day_first), "2008-04-03");
	EXPECT_EQ(read("2008-04-03", Order::month_first), "2008-04-03");
	EXPECT_EQ(read("2008/4/3", std::nullopt), "2008-04-03");
	EXPECT_EQ(read("3 Apr 2008", std::nullopt), "2008-04-03");
	EXPECT_EQ(read("03-April-2008", std::nullopt), "2008-04-03");
	EXPECT_EQ(read("3 sept 2008", std::nullopt), "2008-09-03");
	EXPECT_EQ(read("03/04/2008 00:00", Order::day_first), "2008-04-03");
	EXPECT_EQ(read("2008-04-03 00:00:00", std::nullopt), "2008-04-03");
}

TEST(ImportDates, BadValuesSayWhy) {
	EXPECT_EQ(read("31/02/2008", Order::day_first), "! no such date");
	EXPECT_EQ(read("29/02/2007", Order::day_first), "! no such date");
	EXPECT_EQ(read("29/02/2008", Order::day_first), "2008-02-29");
	EXPECT_EQ(read("03/04/08", Order::day_first), "! a two-digit year: write the year in full");
	EXPECT_EQ(read("03/04-2008", Order::day_first).substr(0, 12), "! not a date");
	EXPECT_EQ(read("tomorrow", Order::day_first).substr(0, 12), "! not a date");
	EXPECT_EQ(read("03/04/2008 13:00", Order::day_first).substr(0, 12), "! not a date");
	EXPECT_EQ(read("03/04/2008", std::nullopt), "! a date written day and month first in a file read as YYYY-MM-DD");
}
