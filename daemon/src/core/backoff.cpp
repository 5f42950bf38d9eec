#include "core/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace outreachd {

double backoff_seconds(int attempt, double base, double cap, double unit_random) {
	if (!(base > 0 && std::isfinite(base) && cap > 0 && std::isfinite(cap)))
		throw std::invalid_argument("backoff_seconds: base and cap must be positive and finite");
	// 2^62 exceeds any cap/base ratio a double can express usefully; clamping the exponent
	// first keeps ldexp finite.
	const int exponent = std::clamp(attempt, 1, 63) - 1;
	const double ceiling = std::min(cap, std::ldexp(base, exponent));
	const double r = std::isfinite(unit_random) ? std::clamp(unit_random, 0.0, 1.0) : 0.0;
	return std::min(cap, ceiling * (0.5 + 0.5 * r));
}

}  // namespace outreachd
