// English given names and their usual short forms and diminutives (Alex/Alexander, Bill/William,
// Kate/Katherine, ...), for duplicate matching: two first names "agree" when they are the same
// name written differently. Names are compared normalised (core/name_normalise: lower case,
// letters only). The list is curated for the names of young people in the UK; a name in no
// group stands for itself.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace outreach::nicknames {

// The groups a normalised name belongs to (a short form may belong to several: "alex" to
// Alexander and Alexandra, "sam" to Samuel and Samantha); empty when it is in none.
std::vector<int> groups_of(std::string_view normalised);

// True when the two normalised names are equal or share a group.
bool same_name(std::string_view a, std::string_view b);

// How many groups the list holds (for the docs and tests).
std::size_t group_count();

}  // namespace outreach::nicknames

#include "cpp_only.hpp"
