#include "core/zone.hpp"

#include "core/civil.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace outreachd {

// ---- Zone ---------------------------------------------------------------------------------

LocalMapping Zone::from_local(std::int64_t local) const {
	// Every candidate instant lies within 26 h of `local` (offsets are -12 h .. +14 h), so the
	// offsets a day either side are the ones in force before and after any change nearby.
	const int before = utc_offset_seconds(local - seconds_per_day);
	const int after = utc_offset_seconds(local + seconds_per_day);
	const std::int64_t u1 = local - before, u2 = local - after;
	const bool ok1 = utc_offset_seconds(u1) == before, ok2 = utc_offset_seconds(u2) == after;
	if (ok1 && ok2 && u1 != u2)
		return {LocalMapping::Kind::repeated, std::min(u1, u2), std::max(u1, u2)};
	if (ok1)
		return {LocalMapping::Kind::unique, u1, u1};
	if (ok2)
		return {LocalMapping::Kind::unique, u2, u2};
	// In the gap: read the wall clock with the offset it showed before the change.
	return {LocalMapping::Kind::skipped, u1, u1};
}

// ---- PosixRuleZone ------------------------------------------------------------------------

namespace {

class RuleParser {
public:
	RuleParser(std::string_view text) : s_(text) {}

	[[noreturn]] void fail(const std::string &what) const {
		throw std::invalid_argument("invalid POSIX TZ rule '" + std::string(s_) + "': " + what);
	}
	bool at_end() const { return i_ == s_.size(); }
	bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
	bool accept(char c) {
		if (!peek(c))
			return false;
		++i_;
		return true;
	}
	bool peek_offset_start() const {
		return i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9'));
	}

	void zone_abbreviation() {
		if (accept('<')) {
			const auto close = s_.find('>', i_);
			if (close == std::string_view::npos || close - i_ < 3)
				fail("unterminated or short <...> abbreviation");
			i_ = close + 1;
			return;
		}
		const std::size_t start = i_;
		while (i_ < s_.size() && ((s_[i_] >= 'A' && s_[i_] <= 'Z') || (s_[i_] >= 'a' && s_[i_] <= 'z')))
			++i_;
		if (i_ - start < 3)
			fail("expected a zone abbreviation of at least 3 letters at position " + std::to_string(start));
	}

	int number(int max) {
		const std::size_t start = i_;
		long v = 0;
		while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9' && v <= max)
			v = v * 10 + (s_[i_++] - '0');
		if (i_ == start)
			fail("expected a number at position " + std::to_string(start));
		if (v > max)
			fail("number out of range at position " + std::to_string(start));
		return static_cast<int>(v);
	}

	// [+-]hh[:mm[:ss]] in seconds, sign included.
	int hms(int max_hours) {
		int sign = 1;
		if (accept('-'))
			sign = -1;
		else
			accept('+');
		int v = number(max_hours) * 3600;
		if (accept(':')) {
			v += number(59) * 60;
			if (accept(':'))
				v += number(59);
		}
		return sign * v;
	}

	std::size_t pos() const { return i_; }

private:
	std::string_view s_;
	std::size_t i_ = 0;
};

}  // namespace

PosixRuleZone::PosixRuleZone(std::string_view rule) : rule_(rule) {
	RuleParser p(rule);
	p.zone_abbreviation();
	std_offset_ = -p.hms(24);  // POSIX counts hours west of Greenwich
	if (p.at_end())
		return;
	has_dst_ = true;
	p.zone_abbreviation();
	dst_offset_ = p.peek_offset_start() ? -p.hms(24) : std_offset_ + 3600;
	const auto date = [&p]() {
		Date d;
		if (p.accept('J')) {
			d.kind = 'J';
			d.n = p.number(365);
			if (d.n < 1)
				p.fail("Julian day J0 does not exist");
		} else if (p.accept('M')) {
			d.kind = 'M';
			d.month = p.number(12);
			if (d.month < 1 || !p.accept('.'))
				p.fail("expected Mm.w.d");
			d.week = p.number(5);
			if (d.week < 1 || !p.accept('.'))
				p.fail("expected Mm.w.d");
			d.weekday = p.number(6);
		} else {
			d.kind = 'D';
			d.n = p.number(365);
		}
		if (p.accept('/'))
			d.time = p.hms(167);
		return d;
	};
	if (p.at_end()) {
		// No rule given: POSIX leaves it to the implementation; glibc uses the US rules.
		start_ = {'M', 0, 3, 2, 0, 7200};
		end_ = {'M', 0, 11, 1, 0, 7200};
		return;
	}
	if (!p.accept(','))
		p.fail("expected ',' at position " + std::to_string(p.pos()));
	start_ = date();
	if (!p.accept(','))
		p.fail("expected ',' at position " + std::to_string(p.pos()));
	end_ = date();
	if (!p.at_end())
		p.fail("unexpected text at position " + std::to_string(p.pos()));
}

std::int64_t PosixRuleZone::transition_utc(int year, const Date &d, int offset_before) const {
	const std::int64_t jan1 = days_from_civil(year, 1, 1);
	std::int64_t day = 0;
	if (d.kind == 'J')
		day = jan1 + d.n - 1 + (is_leap_year(year) && d.n >= 60 ? 1 : 0);
	else if (d.kind == 'D')
		day = jan1 + d.n;
	else {
		const std::int64_t first = days_from_civil(year, d.month, 1);
		int dom = 1 + static_cast<int>(floor_mod(d.weekday - weekday_from_days(first), 7)) + 7 * (d.week - 1);
		while (dom > days_in_month(year, d.month))
			dom -= 7;  // week 5 means "the last"
		day = first + dom - 1;
	}
	return day * seconds_per_day + d.time - offset_before;
}

int PosixRuleZone::utc_offset_seconds(std::int64_t utc) const {
	if (!has_dst_)
		return std_offset_;
	const int year = civil_from_days(floor_div(utc + std_offset_, seconds_per_day)).year;
	const std::int64_t start = transition_utc(year, start_, std_offset_);
	const std::int64_t end = transition_utc(year, end_, dst_offset_);
	const bool dst = start < end ? (start <= utc && utc < end) : !(end <= utc && utc < start);
	return dst ? dst_offset_ : std_offset_;
}

// ---- SystemZone ---------------------------------------------------------------------------

namespace {

[[noreturn]] void unknown_zone(std::string_view name) {
	throw std::invalid_argument("unknown time zone '" + std::string(name) + "'");
}

bool plausible_zone_name(std::string_view name) {
	if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/')
		return false;
	std::size_t start = 0;
	while (start <= name.size()) {
		auto end = name.find('/', start);
		if (end == std::string_view::npos)
			end = name.size();
		const std::string_view part = name.substr(start, end - start);
		if (part.empty() || part == "." || part == "..")
			return false;
		for (char c : part)
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
			      c == '-' || c == '+' || c == '.'))
				return false;
		start = end + 1;
	}
	return true;
}

class Reader {
public:
	Reader(std::string_view name, std::string_view bytes) : name_(name), b_(bytes) {}
	[[noreturn]] void corrupt() const {
		throw std::invalid_argument("time zone '" + std::string(name_) + "': corrupt TZif data");
	}
	std::string_view take(std::size_t n) {
		if (b_.size() - i_ < n)
			corrupt();
		auto r = b_.substr(i_, n);
		i_ += n;
		return r;
	}
	std::int64_t be(std::size_t n) {  // big-endian two's complement of n bytes
		const auto s = take(n);
		std::uint64_t v = 0;
		for (unsigned char c : s)
			v = (v << 8) | c;
		if (n < 8 && (v >> (8 * n - 1)) != 0)
			v |= ~std::uint64_t{0} << (8 * n);
		return static_cast<std::int64_t>(v);
	}
	std::string_view rest() const { return b_.substr(i_); }

private:
	std::string_view name_, b_;
	std::size_t i_ = 0;
};

struct Counts {
	std::int64_t isut, isstd, leap, time, type, chars;
};

Counts header(Reader &r, char &version) {
	if (r.take(4) != "TZif")
		r.corrupt();
	version = r.take(1)[0];
	r.take(15);
	Counts c{r.be(4), r.be(4), r.be(4), r.be(4), r.be(4), r.be(4)};
	if (c.isut < 0 || c.isstd < 0 || c.leap < 0 || c.time < 0 || c.type < 1 || c.chars < 0 || c.type > 256 ||
	    c.time > 100000 || c.chars > 100000 || c.leap > 100000 || c.isut > 256 || c.isstd > 256)
		r.corrupt();
	return c;
}

}  // namespace

SystemZone SystemZone::from_tzif(std::string name, std::string_view bytes) {
	Reader r(name, bytes);
	char version = 0;
	Counts c = header(r, version);
	std::size_t time_size = 4;
	if (version >= '2') {  // skip the 32-bit block: the 64-bit one follows it
		r.take(c.time * 5 + c.type * 6 + c.chars + c.leap * 8 + c.isstd + c.isut);
		c = header(r, version);
		time_size = 8;
	}
	if (c.leap > 0)
		throw std::invalid_argument("time zone '" + name +
		                            "' counts leap seconds (a right/ zone), which outreachd does not support");
	SystemZone z;
	z.name_ = name;
	for (std::int64_t i = 0; i < c.time; ++i) {
		z.transitions_.push_back(r.be(time_size));
		if (i > 0 && z.transitions_[i] <= z.transitions_[i - 1])
			r.corrupt();
	}
	std::vector<int> type_index;
	for (std::int64_t i = 0; i < c.time; ++i)
		type_index.push_back(static_cast<int>(r.be(1) & 0xff));
	std::vector<int> type_offset;
	for (std::int64_t i = 0; i < c.type; ++i) {
		const std::int64_t off = r.be(4);
		r.take(2);  // isdst, abbreviation index: not needed for offsets
		if (off <= -25 * 3600 || off >= 26 * 3600)
			r.corrupt();
		type_offset.push_back(static_cast<int>(off));
	}
	for (int t : type_index) {
		if (t >= c.type)
			r.corrupt();
		z.offsets_after_.push_back(type_offset[t]);
	}
	z.offset_before_ = type_offset[0];
	r.take(c.chars + c.leap * (time_size + 4) + c.isstd + c.isut);
	if (time_size == 8) {
		const std::string_view rest = r.rest();
		if (rest.size() < 2 || rest[0] != '\n')
			r.corrupt();
		const auto nl = rest.find('\n', 1);
		if (nl == std::string_view::npos)
			r.corrupt();
		const std::string_view rule = rest.substr(1, nl - 1);
		if (!rule.empty())
			z.footer_.emplace(rule);
	}
	return z;
}

SystemZone SystemZone::load(std::string_view name, std::string_view directory) {
	if (!plausible_zone_name(name))
		unknown_zone(name);
	std::string bytes;
	if (std::FILE *f = std::fopen((std::string(directory) + "/" + std::string(name)).c_str(), "rb")) {
		char buf[4096];
		for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
			bytes.append(buf, n);
		if (std::ferror(f))
			bytes.clear();  // e.g. a directory
		std::fclose(f);
	}
	if (bytes.compare(0, 4, "TZif") != 0) {  // missing, unreadable, a directory, not TZif
		if (name == "UTC") {
			SystemZone z;
			z.name_ = "UTC";
			return z;
		}
		unknown_zone(name);
	}
	return from_tzif(std::string(name), bytes);
}

int SystemZone::utc_offset_seconds(std::int64_t utc) const {
	if (transitions_.empty())
		return footer_ ? footer_->utc_offset_seconds(utc) : offset_before_;
	if (utc < transitions_.front())
		return offset_before_;
	if (utc >= transitions_.back() && footer_)
		return footer_->utc_offset_seconds(utc);
	const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
	return offsets_after_[static_cast<std::size_t>(it - transitions_.begin()) - 1];
}

}  // namespace outreachd
