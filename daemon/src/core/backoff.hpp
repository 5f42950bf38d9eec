// Capped exponential backoff with "equal jitter", for reconnects and webhook retries.
#pragma once

namespace outreachd {

// The delay before retry number `attempt` (1 = the first retry):
//   min(cap, base * 2^(attempt-1)) * (0.5 + 0.5 * unit_random)
// unit_random in [0, 1) comes from the caller (a PRNG in the daemon, a constant in tests).
// The jitter spreads retries of many clients; keeping half the delay fixed means a retry never
// comes immediately. Always > 0 and <= cap; attempts < 1 count as 1; no overflow for any
// attempt. Throws std::invalid_argument unless 0 < base and 0 < cap (both finite).
double backoff_seconds(int attempt, double base, double cap, double unit_random);

}  // namespace outreachd
