// Likely duplicates within one member (outreach.find_possible_duplicates, docs/matching.md):
// the same young person registered twice under a typo, a nickname, day and month swapped, a
// changed surname or a new address.
//
// Blocking: each participant gets a few match keys, each a different normalised combination of
// its identifiers (key_inputs); the glue turns each into an HMAC under a key of the key file, so
// no key can be turned back into the identifiers. Two participants sharing a key are a
// candidate pair. Judging: the candidate pair's identifiers are compared (judge); a pair is a
// likely duplicate when one of the rules holds, and the rules that hold are its reasons.
#pragma once
#include "civil_date.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outreach::duplicate_match {

struct Person {
	std::string first, last;           // normalised (core/name_normalise); first: its first word
	std::optional<CivilDate> dob;
	std::string postcode;              // canonical ("SW1A 1AA"), or empty
	long school = 0;                   // the institution's id; 0: none recorded
	std::string upn, uln;              // the pupil's and learner's numbers, or empty
};

// From the values held (first and last names as written, the canonical postcode text).
Person prepare(std::string_view first_name, std::string_view last_name, std::optional<CivilDate> dob,
			   std::string_view postcode);

// The key inputs of a person (each begins with its kind, "1|" ... "9|"): the name, date of
// birth and postcode combinations (none without a first name, surname and date of birth), and
// the UPN and ULN when held.
std::vector<std::string> key_inputs(const Person &p);

// The reasons the pair is likely the same person (empty: it is not). Reasons, in this order:
//   same_name_and_dob       first names agree (same, a nickname, a one-letter typo, an initial),
//                           the same surname and date of birth
//   surname_typo            first names the same or a nickname, surnames one edit apart, same
//                           date of birth
//   surname_changed         first names the same or a nickname, same date of birth, surnames
//                           differ, the same postcode sector
//   dob_day_month_swapped   names agree, day and month swapped
//   dob_typo                same names, dates of birth one digit apart, the same postcode sector
//   same_upn, same_uln      the same pupil or learner number
// Far apart (postcodes beyond the district), a pair at the same school is judged as if near for
// the rules of the same name (not for a changed surname or a mistyped date: a school has
// hundreds of pupils).
// and what else agrees: first_name_nickname, first_name_typo, first_name_initial,
// same_school, same_postcode, same_postcode_sector, same_postcode_district, same_postcode_area,
// new_address, postcode_unknown.
//
// Far apart (a new address, or a postcode missing) the names and date of birth are all there is,
// and namesakes born the same day are not rare in a large member: such a pair is judged only
// when its names are rare in the member, namesakes_a and namesakes_b being how many of the
// member's participants carry a's and b's names (name_key): two for one name shared by the
// pair, one each for two spellings.
std::vector<std::string> judge(const Person &a, const Person &b, long namesakes_a = 1, long namesakes_b = 1);

// The key input of a person's name (first word and surname), for counting namesakes.
std::string name_key_input(const Person &p);

// Edits (insertion, deletion, substitution, transposition of neighbours) from a to b, at most
// limit + 1 (counting stops there).
int edits(std::string_view a, std::string_view b, int limit);

// American Soundex of a normalised name ("robert" -> "r163"); empty for a name without letters.
std::string soundex(std::string_view normalised);

}  // namespace outreach::duplicate_match

#include "cpp_only.hpp"
