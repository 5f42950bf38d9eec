// Name normalisation for linkage: the same person written "O'Brien", "o brien" or "OBRIEN"
// must give the same linkage pseudonym.
#pragma once
#include <string>
#include <string_view>

namespace outreach::names {

// Unicode NFKD, combining marks removed, case-folded, then only letters (any script) and
// decimal digits kept. Input is UTF-8; malformed bytes are treated as non-letters and dropped.
// "O'Brien" -> "obrien", "Zoë" -> "zoe", "Mary-Jane" -> "maryjane", "王芳" -> "王芳".
std::string normalise(std::string_view utf8);

// Appends the normalised form to out (no allocation when out has capacity): the hot path of
// pseudonymisation.
void normalise_into(std::string_view utf8, std::string &out);

// The Unicode version of the character tables in use, for the README and for reproducibility.
const char *unicode_version();

}  // namespace outreach::names

#include "cpp_only.hpp"
