// Properties of outreach::postcode::parse and friends:
//  - parse never throws; parse_or_throw agrees with it and throws only outreach::Error 22P02;
//  - the canonical text is 6 to 8 characters "<outward 2-4> <digit><letter><letter>" with one
//    space, and parsing it again gives the same packed value (the canonical form is a fixpoint);
//  - the canonical text is the input's letters and digits, upper-cased, in the same order;
//  - outward/inward/area/sector/compact are consistent with the canonical text;
//  - two inputs separated by '|': packed values order exactly as their canonical texts.
#include "core/error.hpp"
#include "core/postcode.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pc = outreach::postcode;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int sign(int v) { return (v > 0) - (v < 0); }

// Checks one input; returns whether it parsed and stores the packed value.
bool check_one(std::string_view in, pc::Packed &packed) {
	pc::Packed p = 0x0123456789ABCDEFull;
	const pc::ParseResult r = pc::parse(in, p);
	FUZZ_CHECK(!pc::describe(r).empty());

	bool threw = false;
	pc::Packed q = 0;
	try {
		q = pc::parse_or_throw(in);
	} catch (const outreach::Error &e) {
		threw = true;
		FUZZ_CHECK(std::strcmp(e.sqlstate(), "22P02") == 0);
		FUZZ_CHECK(std::string_view(e.what()).rfind("invalid UK postcode \"", 0) == 0);
	} catch (...) {
		FUZZ_CHECK(!"parse_or_throw threw something other than outreach::Error");
	}
	FUZZ_CHECK(threw == !r.ok());
	if (!r.ok()) {
		FUZZ_CHECK(p == 0x0123456789ABCDEFull);  // out untouched on failure
		return false;
	}
	FUZZ_CHECK(q == p);

	char buf[9];
	std::memset(buf, 'x', sizeof buf);
	const int n = pc::format(p, buf);
	FUZZ_CHECK(n >= 6 && n <= 8);
	FUZZ_CHECK(buf[n] == '\0' && std::strlen(buf) == static_cast<std::size_t>(n));
	const std::string text(buf, static_cast<std::size_t>(n));
	FUZZ_CHECK(pc::to_string(p) == text);

	int spaces = 0;
	for (char c : text)
		spaces += c == ' ';
	FUZZ_CHECK(spaces == 1);
	const std::size_t sp = text.find(' ');
	FUZZ_CHECK(sp == text.size() - 4);  // inward code: exactly 3 characters
	FUZZ_CHECK(is_digit(text[sp + 1]) && is_upper(text[sp + 2]) && is_upper(text[sp + 3]));
	FUZZ_CHECK(std::strchr("CIKMOV", text[sp + 2]) == nullptr && std::strchr("CIKMOV", text[sp + 3]) == nullptr);
	for (std::size_t i = 0; i < sp; ++i)
		FUZZ_CHECK(is_upper(text[i]) || is_digit(text[i]));
	FUZZ_CHECK(is_upper(text[0]) && std::strchr("QVX", text[0]) == nullptr);

	// Packed layout: canonical bytes big-endian, zero padding after them.
	if (n < 8)
		FUZZ_CHECK((p & ((pc::Packed{1} << (8 * (8 - n))) - 1)) == 0);

	// The canonical text is the input's letters and digits, upper-cased.
	std::string stripped;
	for (char c : in) {
		if (is_space(c))
			continue;
		stripped.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
	}
	const std::string outward = pc::outward(p), inward = pc::inward(p);
	FUZZ_CHECK(pc::compact(p) == stripped);
	FUZZ_CHECK(outward + " " + inward == text);
	FUZZ_CHECK(outward.size() >= 2 && outward.size() <= 4 && inward.size() == 3);
	FUZZ_CHECK(pc::sector(p) == outward + " " + inward.substr(0, 1));
	const std::string area = pc::area(p);
	FUZZ_CHECK(!area.empty() && outward.compare(0, area.size(), area) == 0);
	FUZZ_CHECK(area.size() <= 2 || text == "GIR 0AA");
	FUZZ_CHECK(area != "GX");

	// Idempotent canonical form: the canonical text, and its lower-case and compact forms, parse
	// back to the same value.
	pc::Packed again = 0;
	FUZZ_CHECK(pc::parse(text, again).ok() && again == p);
	std::string lower = text;
	for (char &c : lower)
		if (is_upper(c))
			c = static_cast<char>(c - 'A' + 'a');
	again = 0;
	FUZZ_CHECK(pc::parse(lower, again).ok() && again == p);
	again = 0;
	FUZZ_CHECK(pc::parse(stripped, again).ok() && again == p);

	packed = p;
	return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	const std::string_view in(reinterpret_cast<const char *>(data), size);
	pc::Packed p = 0;
	check_one(in, p);

	const std::size_t bar = in.find('|');
	if (bar != std::string_view::npos) {
		pc::Packed a = 0, b = 0;
		if (check_one(in.substr(0, bar), a) && check_one(in.substr(bar + 1), b)) {
			const int by_text = sign(pc::to_string(a).compare(pc::to_string(b)));
			const int by_value = a < b ? -1 : (a > b ? 1 : 0);
			FUZZ_CHECK(by_text == by_value);
		}
	}
	return 0;
}
