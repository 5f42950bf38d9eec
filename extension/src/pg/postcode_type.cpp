// SQL type outreach.uk_postcode: fmgr glue around core/postcode. The Datum holds the packed
// canonical text (see core/postcode.hpp), so comparisons are integer comparisons.
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/limits.hpp"
#include "../core/postcode.hpp"

#include <cstring>

#include "boundary.hpp"

extern "C" {
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "utils/sortsupport.h"
}

namespace pc = outreach::postcode;
using outreach::pg::guard;

namespace {

inline pc::Packed arg_postcode(FunctionCallInfo fcinfo, int n) { return static_cast<pc::Packed>(PG_GETARG_DATUM(n)); }
inline Datum postcode_datum(pc::Packed p) { return static_cast<Datum>(p); }

namespace lim = outreach::limits;

// A postcode as typed, refused (22001) past limits::max_postcode_bytes before it is parsed.
pc::Packed parse_bounded(std::string_view s) {
	lim::check_bytes(s, lim::max_postcode_bytes, "postcode");
	return pc::parse_or_throw(s);
}

inline int compare(FunctionCallInfo fcinfo) {
	const pc::Packed a = arg_postcode(fcinfo, 0), b = arg_postcode(fcinfo, 1);
	return a < b ? -1 : (a > b ? 1 : 0);
}

}  // namespace

OUTREACH_FUNCTION(uk_postcode_in) {
	const char *s = PG_GETARG_CSTRING(0);
	return postcode_datum(parse_bounded(std::string_view(s, strnlen(s, lim::max_postcode_bytes + 1))));
}

OUTREACH_FUNCTION(uk_postcode_out) {
	char buf[9];
	const int n = pc::format(arg_postcode(fcinfo, 0), buf);
	return outreach::pg::cstring_result(std::string_view(buf, static_cast<std::size_t>(n)));
}

// Binary form: the canonical text. Receiving runs the text parser, so binary input
// accepts and rejects exactly what text input does.
OUTREACH_FUNCTION(uk_postcode_recv) {
	StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
	if (buf->len - buf->cursor > static_cast<int>(lim::max_postcode_bytes))  // (before converting the encoding)
		lim::check_bytes(std::string_view(buf->data + buf->cursor, static_cast<std::size_t>(buf->len - buf->cursor)),
		                 lim::max_postcode_bytes, "postcode");
	int length = 0;
	const char *s = guard([&] { return pq_getmsgtext(buf, buf->len - buf->cursor, &length); });
	return postcode_datum(parse_bounded(std::string_view(s, static_cast<std::size_t>(length))));
}

OUTREACH_FUNCTION(uk_postcode_send) {
	char text[9];
	const int n = pc::format(arg_postcode(fcinfo, 0), text);
	return guard([&] {
		StringInfoData buf;
		pq_begintypsend(&buf);
		pq_sendtext(&buf, text, n);
		return PointerGetDatum(pq_endtypsend(&buf));
	});
}

OUTREACH_FUNCTION(uk_postcode_from_text) {
	return postcode_datum(parse_bounded(outreach::pg::text_arg(fcinfo, 0)));
}

OUTREACH_FUNCTION(is_valid_postcode) {
	pc::Packed p;
	const std::string_view s = outreach::pg::text_arg(fcinfo, 0);
	return BoolGetDatum(lim::within(s, lim::max_postcode_bytes) && pc::parse(s, p).ok());
}

OUTREACH_FUNCTION(postcode_outward) { return outreach::pg::text_result(pc::outward(arg_postcode(fcinfo, 0))); }
OUTREACH_FUNCTION(postcode_inward) { return outreach::pg::text_result(pc::inward(arg_postcode(fcinfo, 0))); }
OUTREACH_FUNCTION(postcode_area) { return outreach::pg::text_result(pc::area(arg_postcode(fcinfo, 0))); }
OUTREACH_FUNCTION(postcode_sector) { return outreach::pg::text_result(pc::sector(arg_postcode(fcinfo, 0))); }

OUTREACH_FUNCTION(uk_postcode_eq) { return BoolGetDatum(compare(fcinfo) == 0); }
OUTREACH_FUNCTION(uk_postcode_ne) { return BoolGetDatum(compare(fcinfo) != 0); }
OUTREACH_FUNCTION(uk_postcode_lt) { return BoolGetDatum(compare(fcinfo) < 0); }
OUTREACH_FUNCTION(uk_postcode_le) { return BoolGetDatum(compare(fcinfo) <= 0); }
OUTREACH_FUNCTION(uk_postcode_gt) { return BoolGetDatum(compare(fcinfo) > 0); }
OUTREACH_FUNCTION(uk_postcode_ge) { return BoolGetDatum(compare(fcinfo) >= 0); }
OUTREACH_FUNCTION(uk_postcode_cmp) { return Int32GetDatum(compare(fcinfo)); }

// Sorting compares the Datums as unsigned integers directly, without a function call.
OUTREACH_FUNCTION(uk_postcode_sortsupport) {
	SortSupport ssup = reinterpret_cast<SortSupport>(PG_GETARG_POINTER(0));
	ssup->comparator = ssup_datum_unsigned_cmp;
	PG_RETURN_VOID();
}

// Hashes the canonical text's bytes (big-endian), so hash partitions agree across platforms.
OUTREACH_FUNCTION(uk_postcode_hash) {
	const uint64 p = pg_hton64(arg_postcode(fcinfo, 0));
	return hash_any(reinterpret_cast<const unsigned char *>(&p), sizeof p);
}

OUTREACH_FUNCTION(uk_postcode_hash_extended) {
	const uint64 p = pg_hton64(arg_postcode(fcinfo, 0));
	return hash_any_extended(reinterpret_cast<const unsigned char *>(&p), sizeof p,
	                         static_cast<uint64>(PG_GETARG_INT64(1)));
}
