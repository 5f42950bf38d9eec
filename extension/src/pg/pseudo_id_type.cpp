// SQL type outreach.pseudo_id (20 bytes, by reference) and the functions that make and
// inspect pseudonyms.
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/error.hpp"
#include "../core/limits.hpp"
#include "../core/pseudonym.hpp"

#include "dates.hpp"
#include "keyring_guc.hpp"

#include "boundary.hpp"

#include <cstdint>
#include <cstring>
#include <string>

extern "C" {
#include "common/hashfn.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
}

namespace ps = outreach::pseudonym;
using outreach::pg::guard;

namespace {

// On disk: int32 version (native order, like any int4 column) then the 16 digest bytes.
inline const ps::PseudoId &arg_id(FunctionCallInfo fcinfo, int n) {
	return *reinterpret_cast<const ps::PseudoId *>(PG_GETARG_POINTER(n));
}

Datum id_datum(const ps::PseudoId &id) {
	auto *out = static_cast<ps::PseudoId *>(outreach::pg::palloc_guarded(sizeof(ps::PseudoId)));
	std::memcpy(out, &id, sizeof id);
	return PointerGetDatum(out);
}

outreach::CivilDate date_arg(FunctionCallInfo fcinfo, int n) {
	return outreach::pg::civil_date(PG_GETARG_DATEADT(n), "date of birth must be a finite date");
}

// The names and the postcode within their limits (core/limits.hpp): what is normalised and
// signed is then bounded too.
ps::Identifiers identifiers(FunctionCallInfo fcinfo, int first) {
	namespace lim = outreach::limits;
	const ps::Identifiers ids{outreach::pg::text_arg(fcinfo, first), outreach::pg::text_arg(fcinfo, first + 1),
	                          date_arg(fcinfo, first + 2), outreach::pg::text_arg(fcinfo, first + 3)};
	lim::check_name(ids.first_name, "first name");
	lim::check_name(ids.last_name, "last name");
	lim::check_bytes(ids.postcode, lim::max_postcode_bytes, "postcode");
	return ids;
}

std::string_view scope_arg(FunctionCallInfo fcinfo, int n) {
	const std::string_view scope = outreach::pg::text_arg(fcinfo, n);
	outreach::limits::check_bytes(scope, outreach::limits::max_scope_bytes, "key scope");
	return scope;
}

inline int compare(FunctionCallInfo fcinfo) { return ps::compare(arg_id(fcinfo, 0), arg_id(fcinfo, 1)); }

}  // namespace

OUTREACH_FUNCTION(pseudo_id_in) {
	const char *s = PG_GETARG_CSTRING(0);
	// (strnlen: a longer input is refused without reading all of it)
	const std::string_view text(s, strnlen(s, outreach::limits::max_pseudo_id_bytes + 1));
	outreach::limits::check_bytes(text, outreach::limits::max_pseudo_id_bytes, "pseudo_id text");
	return id_datum(ps::from_text(text));
}

OUTREACH_FUNCTION(pseudo_id_out) { return outreach::pg::cstring_result(ps::to_text(arg_id(fcinfo, 0))); }

// Binary form: int32 version (network order) then the 16 digest bytes.
OUTREACH_FUNCTION(pseudo_id_recv) {
	StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
	if (buf->len - buf->cursor != 20)
		throw outreach::Error(outreach::sqlstate::invalid_binary_representation,
		                      "invalid binary pseudo_id: expected 20 bytes, got " + std::to_string(buf->len - buf->cursor));
	ps::PseudoId id{};
	id.version = guard([&] { return static_cast<int32>(pq_getmsgint(buf, 4)); });
	guard([&] { pq_copymsgbytes(buf, reinterpret_cast<char *>(id.digest.data()), 16); });
	if (id.version < 1 || id.version > 999999999)
		throw outreach::Error(outreach::sqlstate::invalid_binary_representation,
		                      "invalid binary pseudo_id: key version " + std::to_string(id.version) +
		                          " is outside 1..999999999");
	return id_datum(id);
}

OUTREACH_FUNCTION(pseudo_id_send) {
	const ps::PseudoId &id = arg_id(fcinfo, 0);
	return guard([&] {
		StringInfoData buf;
		pq_begintypsend(&buf);
		pq_sendint32(&buf, static_cast<uint32>(id.version));
		pq_sendbytes(&buf, reinterpret_cast<const char *>(id.digest.data()), 16);
		return PointerGetDatum(pq_endtypsend(&buf));
	});
}

OUTREACH_FUNCTION(pseudo_id_eq) { return BoolGetDatum(compare(fcinfo) == 0); }
OUTREACH_FUNCTION(pseudo_id_ne) { return BoolGetDatum(compare(fcinfo) != 0); }
OUTREACH_FUNCTION(pseudo_id_lt) { return BoolGetDatum(compare(fcinfo) < 0); }
OUTREACH_FUNCTION(pseudo_id_le) { return BoolGetDatum(compare(fcinfo) <= 0); }
OUTREACH_FUNCTION(pseudo_id_gt) { return BoolGetDatum(compare(fcinfo) > 0); }
OUTREACH_FUNCTION(pseudo_id_ge) { return BoolGetDatum(compare(fcinfo) >= 0); }
OUTREACH_FUNCTION(pseudo_id_cmp) { return Int32GetDatum(compare(fcinfo)); }

// The digest is already uniformly distributed; hashing it keeps the opclass conventional.
OUTREACH_FUNCTION(pseudo_id_hash) {
	const ps::PseudoId &id = arg_id(fcinfo, 0);
	return hash_any(id.digest.data(), 16) ^ static_cast<Datum>(hash_uint32(static_cast<uint32>(id.version)));
}

OUTREACH_FUNCTION(pseudo_id_hash_extended) {
	const ps::PseudoId &id = arg_id(fcinfo, 0);
	const uint64 seed = static_cast<uint64>(PG_GETARG_INT64(1));
	return hash_any_extended(id.digest.data(), 16, seed) ^
	       hash_uint32_extended(static_cast<uint32>(id.version), seed);
}

OUTREACH_FUNCTION(pseudo_id_digest) {
	const ps::PseudoId &id = arg_id(fcinfo, 0);
	return guard([&] {
		bytea *out = static_cast<bytea *>(palloc(VARHDRSZ + 16));
		SET_VARSIZE(out, VARHDRSZ + 16);
		memcpy(VARDATA(out), id.digest.data(), 16);
		return PointerGetDatum(out);
	});
}

OUTREACH_FUNCTION(pseudo_id_key_version) { return Int32GetDatum(arg_id(fcinfo, 0).version); }

// The signer for the scope, remembered in fn_extra across the rows of one query (the scope is
// nearly always a constant) until the key file is loaded again.
struct SignerCache {
	std::uint64_t generation;
	std::size_t scope_length;
	char scope[64];
	outreach::keys::KeyRing::Signer signer;
};

outreach::keys::KeyRing::Signer signer_for(FunctionCallInfo fcinfo, std::string_view scope) {
	const auto &ring = outreach::pg::current_keyring();  // first: it may reload the file
	const std::uint64_t generation = outreach::pg::keyring_generation();
	auto *cache = static_cast<SignerCache *>(fcinfo->flinfo->fn_extra);
	if (cache && cache->generation == generation && std::string_view(cache->scope, cache->scope_length) == scope)
		return cache->signer;
	const auto signer = ring.newest(scope);
	if (scope.size() <= sizeof cache->scope) {
		if (!cache) {
			cache = static_cast<SignerCache *>(
				guard([&] { return MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(SignerCache)); }));
			fcinfo->flinfo->fn_extra = cache;
		}
		cache->generation = generation;
		cache->scope_length = scope.size();
		std::memcpy(cache->scope, scope.data(), scope.size());
		cache->signer = signer;
	}
	return signer;
}

// pseudonymise(first, last, dob, postcode, scope): STRICT in SQL, so every argument is here.
// The message buffer is reused across calls (backends are single-threaded).
OUTREACH_FUNCTION(pseudonymise) {
	static std::string message;
	const ps::Identifiers ids = identifiers(fcinfo, 0);
	const std::string_view scope = scope_arg(fcinfo, 4);
	if (!ps::message_into(ids, message))
		PG_RETURN_NULL();
	return id_datum(ps::sign(signer_for(fcinfo, scope), message));
}

// pseudo_id_matches(id, first, last, dob, postcode, scope): recomputes with the id's own key
// version, so pseudonyms made before a key rotation are still recognised.
OUTREACH_FUNCTION(pseudo_id_matches) {
	const ps::PseudoId &given = arg_id(fcinfo, 0);
	const ps::Identifiers ids = identifiers(fcinfo, 1);
	const std::string_view scope = scope_arg(fcinfo, 5);
	const auto msg = ps::message(ids);
	if (!msg)
		return BoolGetDatum(false);
	const ps::PseudoId again = ps::sign(outreach::pg::current_keyring().at(scope, given.version), *msg);
	return BoolGetDatum(ps::compare(given, again) == 0);
}

// recipient_reference(controller_id int, participant_id bigint, scope text) RETURNS text: the
// per-recipient reference of a participant in linkage files, the same value as
//   pseudonymise('c' || controller_id, 'p' || participant_id, DATE '1900-01-01', 'GIR 0AA', scope)::text
// without building four text values per row in SQL.
OUTREACH_FUNCTION(recipient_reference) {
	static std::string message;
	ps::reference_message_into(PG_GETARG_INT32(0), PG_GETARG_INT64(1), message);
	const std::string_view scope = scope_arg(fcinfo, 2);
	return outreach::pg::text_result(ps::to_text(ps::sign(signer_for(fcinfo, scope), message)));
}
