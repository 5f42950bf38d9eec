// Keyed pseudonyms for linkage. The value is the key version plus the first 16 bytes of
// HMAC-SHA256(key, message) where message is
//   normalise(first) 0x1F normalise(last) 0x1F YYYY-MM-DD 0x1F canonical-postcode-without-space
// (README, "Pseudonyms", documents this so a linkage partner holding the key can reproduce it).
#pragma once
#include "civil_date.hpp"
#include "keyring.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outreach::pseudonym {

struct PseudoId {
	std::int32_t version;
	std::array<std::uint8_t, 16> digest;
};
static_assert(sizeof(PseudoId) == 20, "pseudo_id is a fixed 20-byte value");

struct Identifiers {
	std::string_view first_name;
	std::string_view last_name;
	CivilDate date_of_birth;
	std::string_view postcode;
};

// The message that is signed; empty when a name normalises to empty or the postcode is blank.
// Throws 22P02 for an invalid postcode and 22008 for a year outside 1..9999.
std::optional<std::string> message(const Identifiers &ids);
// The same into a reusable buffer (no allocation once it has grown): false when a name
// normalises to empty or the postcode is blank.
bool message_into(const Identifiers &ids, std::string &out);

PseudoId sign(const keys::KeyRing::Signer &signer, std::string_view message);

// The message of a participant's per-recipient reference in linkage files: what message() makes
// of first name "c<controller_id>", last name "p<participant_id>", 1900-01-01 and GIR 0AA,
// written directly (names of ASCII letters and digits normalise to themselves, lower-cased,
// a minus sign dropped).
void reference_message_into(std::int64_t controller_id, std::int64_t participant_id, std::string &out);

// Pseudonymise with the newest key of the scope (nullopt: an identifier is missing).
std::optional<PseudoId> pseudonymise(const keys::KeyRing &ring, std::string_view scope, const Identifiers &ids);

// Text form: "<version>-<26 Crockford base32 digits><check>", e.g. "1-0K3...Z7". The check
// symbol (Crockford's mod-37 alphabet) covers the version's digits and the base32 digits, so
// any single mistyped character or swap of two neighbours is rejected.
std::string to_text(const PseudoId &id);
// Case-insensitive; Crockford's aliases O->0, I and L->1 accepted. Throws 22P02 naming the problem.
PseudoId from_text(std::string_view text);

// Reading recipient references back (outcome files, core/outcome_import): the text form's shape
// as 0.4.0 matched it, ^[0-9]{1,10}-[0-9A-Z]{26}[0-9A-Z*~$=]$ (the key version, '-', 26
// characters and the check symbol; exact case, no aliases, the check not verified).
bool well_formed_reference(std::string_view text) noexcept;
// A well-formed reference whose key version fits an int, as three integers, one to one (the
// characters in base 36 and 40, the key version; c is never 0); nullopt for any other text.
// For hashing a file's references and the ledger's without building strings.
struct ReferenceKey {
	std::uint64_t a, b, c;
};
std::optional<ReferenceKey> reference_key(std::string_view text) noexcept;

int compare(const PseudoId &a, const PseudoId &b) noexcept;

}  // namespace outreach::pseudonym

#include "cpp_only.hpp"
