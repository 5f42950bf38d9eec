#include "core/zone.hpp"

#include "core/civil.hpp"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
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

// Where date's USE_OS_TZDB build looks on Linux (tz.cpp's discover_tz_dir).
constexpr std::string_view tz_directory = "/usr/share/zoneinfo";

[[noreturn]] void unknown_zone(std::string_view name) {
	throw std::invalid_argument("unknown time zone '" + std::string(name) + "'");
}

const date::time_zone *find_zone(std::string_view name) {
	try {
		return date::locate_zone(name);
	} catch (const std::exception &) {  // not listed, or no tz database at all
		return nullptr;
	}
}

// The POSIX TZ footer of the zone's file (RFC 8536 section 3.3: the file's last line, between
// a newline and the final newline), or null when the file has none. Each zone's footer is read
// once, as date reads each zone's transitions once.
std::shared_ptr<const PosixRuleZone> footer_of(const std::string &name) {
	static std::mutex mutex;
	static std::map<std::string, std::shared_ptr<const PosixRuleZone>, std::less<>> footers;
	const std::lock_guard lock(mutex);
	if (const auto it = footers.find(name); it != footers.end())
		return it->second;
	std::ifstream in(std::string(tz_directory) + "/" + name, std::ios::binary);
	const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
	// date trusts the file's contents: refuse what is not TZif before it reads it.
	if (!in || bytes.compare(0, 4, "TZif") != 0)
		unknown_zone(name);
	std::shared_ptr<const PosixRuleZone> footer;
	if (bytes.size() > 6 && bytes[4] >= '2' && bytes.back() == '\n') {  // version 1 files have none
		const std::size_t open = bytes.rfind('\n', bytes.size() - 2);
		if (open != std::string::npos && open + 2 < bytes.size())
			footer = std::make_shared<const PosixRuleZone>(std::string_view(bytes).substr(open + 1, bytes.size() - open - 2));
	}
	footers.emplace(name, footer);
	return footer;
}

}  // namespace

SystemZone SystemZone::load(std::string_view name) {
	SystemZone z;
	z.name_ = name;
	z.zone_ = find_zone(name);
	if (z.zone_ == nullptr) {
		if (name == "UTC")
			return z;
		// date leaves right/ out of its list; say why rather than "unknown".
		if (name.starts_with("right/") && find_zone(name.substr(6)) != nullptr)
			throw std::invalid_argument("time zone '" + std::string(name) +
			                            "' counts leap seconds (a right/ zone), which outreachd does not support");
		unknown_zone(name);
	}
	z.footer_ = footer_of(z.name_);
	try {
		z.zone_->get_info(std::chrono::system_clock::now());  // date reads the file on first use
	} catch (const std::exception &) {
		throw std::invalid_argument("time zone '" + z.name_ + "': corrupt TZif data");
	}
	return z;
}

int SystemZone::utc_offset_seconds(std::int64_t utc) const {
	if (zone_ == nullptr)
		return 0;
	const date::sys_info info = zone_->get_info(date::sys_seconds(std::chrono::seconds(utc)));
	// The last period date knows has no end: from its start on, the footer rules.
	if (footer_ && info.end >= date::sys_days(date::year::max() / 1 / 1))
		return footer_->utc_offset_seconds(utc);
	return static_cast<int>(info.offset.count());
}

}  // namespace outreachd
