// Helpers shared by the daemon's unit tests.
#pragma once
#include "core/civil.hpp"
#include "core/zone.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace outreachd::test {

// A UTC instant from its civil fields.
constexpr std::int64_t utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
	return seconds_from_civil(y, mo, d, h, mi, s);
}

inline std::string iso(std::int64_t t) {  // for readable failure messages
	const CivilDay d = civil_from_days(floor_div(t, seconds_per_day));
	const std::int64_t s = floor_mod(t, seconds_per_day);
	char buf[32];
	std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", d.year, d.month, d.day, static_cast<int>(s / 3600),
	              static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
	return buf;
}

inline std::shared_ptr<const Zone> london() {
	static const auto z = std::make_shared<const SystemZone>(SystemZone::load("Europe/London"));
	return z;
}

inline std::shared_ptr<const Zone> utc_zone() {
	static const auto z = std::make_shared<const FixedOffsetZone>("UTC", 0);
	return z;
}

// The message of the exception of type E that f throws; a test failure when none is thrown.
template <class E, class F>
std::string message_of(F &&f) {
	try {
		f();
	} catch (const E &e) {
		return e.what();
	}
	ADD_FAILURE() << "expected an exception, nothing was thrown";
	return "";
}

}  // namespace outreachd::test
