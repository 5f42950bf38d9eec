// School and learner identifiers held on participants and sent to linkage recipients.
//
// UPN (Unique Pupil Number, DfE; GDSC "UniquePupilNumber" 2.0): 13 characters, a check letter
// then 12 characters: 11 digits and a digit (permanent UPN) or a letter (temporary UPN).
// The check letter is the sum of each of characters 2..13 times its position (2..13) modulo
// 23, as a letter of A B C D E F G H J K L M N P Q R T U V W X Y Z (I, O and S are never used;
// 0 -> A .. 22 -> Z). A temporary UPN's final letter counts as its value in the same list.
// Digits 2-4 are the issuing local authority, 5-8 the establishment, 9-10 the year, 11-13 a
// serial; they are not checked against lists (those change).
//
// ULN (Unique Learner Number, Learning Records Service): 10 digits, the first not 0. The sum
// of the first nine digits weighted 10, 9, .., 2 is taken modulo 11; the tenth digit is
// 10 minus that remainder, and a remainder of 0 makes no valid number.
//
// Only the canonical form is valid: capitals, no spaces or separators.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace outreach::school_ids {

// The check letter for the 12 characters that follow it; nullopt when they are not 11 digits
// and a digit or one of the 23 letters.
std::optional<char> upn_check_letter(std::string_view twelve) noexcept;

// Why the text is not a valid UPN, or nullopt when it is.
std::optional<std::string> upn_problem(std::string_view upn);

// The tenth digit for the first nine; nullopt when they are not nine digits starting 1-9 or
// when no check digit exists for them (remainder 0).
std::optional<char> uln_check_digit(std::string_view nine) noexcept;

// Why the text is not a valid ULN, or nullopt when it is.
std::optional<std::string> uln_problem(std::string_view uln);

inline bool is_valid_upn(std::string_view upn) { return !upn_problem(upn); }
inline bool is_valid_uln(std::string_view uln) { return !uln_problem(uln); }

}  // namespace outreach::school_ids

#include "cpp_only.hpp"
