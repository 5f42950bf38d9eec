// Duplicate matching within a member (core/duplicate_match, docs/matching.md):
//   match_keys(controller_id, first, last, dob, postcode, school, upn, uln) -> bigint[]: the participant's name
//     key (first: for counting namesakes) and match keys, each the first 8 bytes of an HMAC-SHA256 of the member and one key input, under a
//     key derived from the newest linkage key of the key file (HMAC of the linkage key over
//     "outreach duplicate match keys 1": a key of its own, so that no match key can be
//     compared with a linkage pseudonym). Never stored: find_possible_duplicates computes them
//     for its run.
//   match_reasons(a's first, last, dob, postcode, school, upn, uln, b's ..., a's namesakes,
//     b's namesakes) -> text[]:
//     why the two are likely the same person, NULL when they are not.
#include "../core/duplicate_match.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"
#include "../core/hmac_sha256.hpp"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "keyring_guc.hpp"  // (includes the core key ring: before PostgreSQL's headers)
#include "dates.hpp"
#include "boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace dm = outreach::duplicate_match;
using outreach::pg::guard;

namespace {

std::string_view text_or_empty(FunctionCallInfo fcinfo, int n) {
	return PG_ARGISNULL(n) ? std::string_view() : outreach::pg::text_arg(fcinfo, n);
}

std::optional<outreach::CivilDate> date_or_none(FunctionCallInfo fcinfo, int n) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	const DateADT d = PG_GETARG_DATEADT(n);
	if (DATE_NOT_FINITE(d))
		return std::nullopt;
	return outreach::pg::civil_date(d, "date of birth must be a finite date");
}

// first name, last name, date of birth, postcode, school (institution id), UPN, ULN
dm::Person person_args(FunctionCallInfo fcinfo, int first) {
	dm::Person p = dm::prepare(text_or_empty(fcinfo, first), text_or_empty(fcinfo, first + 1),
							   date_or_none(fcinfo, first + 2), text_or_empty(fcinfo, first + 3));
	p.school = PG_ARGISNULL(first + 4) ? 0 : PG_GETARG_INT32(first + 4);
	p.upn = std::string(text_or_empty(fcinfo, first + 5));
	p.uln = std::string(text_or_empty(fcinfo, first + 6));
	return p;
}

// The derived key, kept while the key ring is the same.
const outreach::crypto::HmacSha256 &match_mac() {
	static std::uint64_t generation = 0;
	static std::optional<outreach::crypto::HmacSha256> mac;
	const auto &ring = outreach::pg::current_keyring();
	if (!mac || generation != outreach::pg::keyring_generation()) {
		const auto signer = ring.newest("linkage");
		const auto derived = signer.mac->digest("outreach duplicate match keys 1");
		mac.emplace(std::string_view(reinterpret_cast<const char *>(derived.data()), derived.size()));
		generation = outreach::pg::keyring_generation();
	}
	return *mac;
}

}  // namespace

OUTREACH_FUNCTION(match_keys) {
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	const std::int32_t controller_id = PG_GETARG_INT32(0);
	const dm::Person p = person_args(fcinfo, 1);
	std::vector<std::string> inputs = dm::key_inputs(p);
	if (inputs.empty())
		PG_RETURN_NULL();
	inputs.insert(inputs.begin(), dm::name_key_input(p));  // [1]: the name, for counting namesakes
	const auto &mac = match_mac();
	std::vector<Datum> keys;
	keys.reserve(inputs.size());
	const std::string member = std::to_string(controller_id) + "|";
	for (const auto &in : inputs) {
		const auto d = mac.digest(member + in);
		std::int64_t k = 0;
		std::memcpy(&k, d.data(), sizeof k);
		keys.push_back(Int64GetDatum(k));
	}
	return guard([&] {
		return PointerGetDatum(construct_array(keys.data(), static_cast<int>(keys.size()), INT8OID, 8, FLOAT8PASSBYVAL,
											   TYPALIGN_DOUBLE));
	});
}

OUTREACH_FUNCTION(match_reasons) {
	const dm::Person a = person_args(fcinfo, 0);
	const dm::Person b = person_args(fcinfo, 7);
	const long namesakes_a = PG_ARGISNULL(14) ? 1 : PG_GETARG_INT64(14);
	const long namesakes_b = PG_ARGISNULL(15) ? 1 : PG_GETARG_INT64(15);
	const std::vector<std::string> why = dm::judge(a, b, namesakes_a, namesakes_b);
	if (why.empty())
		PG_RETURN_NULL();
	return guard([&] {
		std::vector<Datum> items;
		for (const auto &w : why)
			items.push_back(PointerGetDatum(cstring_to_text_with_len(w.data(), static_cast<int>(w.size()))));
		return PointerGetDatum(construct_array(items.data(), static_cast<int>(items.size()), TEXTOID, -1, false, TYPALIGN_INT));
	});
}
