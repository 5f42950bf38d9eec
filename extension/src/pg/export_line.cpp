// outreach.export_line(spec text[], VARIADIC values "any"): one record of an export file,
// formatted and written as RFC 4180 CSV in a single call (core/export_format, core/csv).
//
// Exports render a million records; as SQL expressions (to_char, btrim, a CASE for the codes,
// an ARRAY[] and csv_record()) each record took a dozen function calls and as many
// allocations. Here the layout's column specs are parsed once per query (kept in fn_extra,
// freed with the query's memory) and each call allocates only its result. "any" rather than
// text[] so that no array is built per record.
#include "../core/csv.hpp"    // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"
#include "../core/export_format.hpp"
#include "dates.hpp"

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

namespace ef = outreach::export_format;
using outreach::pg::guard;

namespace {

constexpr const char *datatype_mismatch = "42804";

struct Parsed {
	std::vector<ef::Column> columns;
	std::vector<Oid> types;  // of each value argument
};

// fn_extra: a Parsed owned through a reset callback on the function's memory context, so it
// is deleted when the query's memory goes.
struct Cache {
	MemoryContextCallback callback;
	Parsed *parsed;
};

void free_cache(void *arg) { delete static_cast<Cache *>(arg)->parsed; }

const char *type_name(Oid type) {
	switch (type) {
	case TEXTOID: return "text";
	case VARCHAROID: return "character varying";
	case DATEOID: return "date";
	case INT4OID: return "integer";
	case INT8OID: return "bigint";
	default: return "another type";
	}
}

Parsed parse(FunctionCallInfo fcinfo) {
	// (the call's shape, fixed for the expression: checked once with the specs)
	if (guard([&] { return get_fn_expr_variadic(fcinfo->flinfo); }))
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
		                      "export_line: pass the values as separate arguments, not as a VARIADIC array");
	if (PG_ARGISNULL(0))
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "export_line: spec must not be NULL");
	ArrayType *spec = guard([&] { return PG_GETARG_ARRAYTYPE_P(0); });
	Datum *elems = nullptr;
	bool *nulls = nullptr;
	int n = 0;
	guard([&] { deconstruct_array(spec, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n); });
	const int values = PG_NARGS() - 1;
	if (n != values)
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
		                      "export_line: " + std::to_string(n) + " column specs for " + std::to_string(values) +
		                          " values");
	std::vector<std::string_view> specs;
	for (int i = 0; i < n; ++i) {
		if (nulls[i])
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "export_line: a column spec is NULL");
		auto *t = reinterpret_cast<text *>(DatumGetPointer(elems[i]));
		specs.emplace_back(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	Parsed p{ef::parse_columns(specs), {}};
	for (int i = 0; i < values; ++i) {
		const Oid type = guard([&] { return get_fn_expr_argtype(fcinfo->flinfo, i + 1); });
		const ef::Kind kind = p.columns[i].kind;
		// (an untyped literal, 'abc', arrives as a C string)
		const bool text_like = type == TEXTOID || type == VARCHAROID || type == UNKNOWNOID;
		const bool ok = kind == ef::Kind::date ? type == DATEOID
		                : kind == ef::Kind::text ? text_like || type == INT4OID || type == INT8OID
		                                         : text_like;
		if (!ok)
			throw outreach::Error(datatype_mismatch, "export_line: value " + std::to_string(i + 1) + " is of type " +
			                                             type_name(type) + ", which its column spec \"" +
			                                             std::string(specs[i].substr(0, 40)) + "\" cannot write");
		p.types.push_back(type);
	}
	return p;
}

const Parsed &parsed_for(FunctionCallInfo fcinfo, Parsed &scratch) {
	if (auto *cache = static_cast<Cache *>(fcinfo->flinfo->fn_extra))
		return *cache->parsed;
	Parsed p = parse(fcinfo);
	// Cached only when the spec cannot change between rows (a constant, as the render uses).
	if (!guard([&] { return get_fn_expr_arg_stable(fcinfo->flinfo, 0); })) {
		scratch = std::move(p);
		return scratch;
	}
	auto *cache = static_cast<Cache *>(
		guard([&] { return MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(Cache)); }));
	// The callback first (deleting nullptr is harmless): the Parsed is then never unowned.
	cache->callback.func = free_cache;
	cache->callback.arg = cache;
	guard([&] { MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, &cache->callback); });
	cache->parsed = new Parsed(std::move(p));
	fcinfo->flinfo->fn_extra = cache;
	return *cache->parsed;
}

// Reused by every call (backends are single-threaded); given back when one call made them big.
std::string line;
std::vector<std::string> owned;  // formatted dates and numbers, one slot per value
std::vector<std::optional<std::string_view>> fields;
constexpr std::size_t kept_line_bytes = 64 * 1024;

}  // namespace

// export_line(spec text[], VARIADIC values "any") RETURNS text
OUTREACH_FUNCTION(export_line) {
	Parsed scratch;
	const Parsed &p = parsed_for(fcinfo, scratch);
	const int n = static_cast<int>(p.columns.size());
	if (static_cast<int>(owned.size()) < n)
		owned.resize(static_cast<std::size_t>(n));
	fields.clear();
	for (int i = 0; i < n; ++i) {
		const ef::Column &c = p.columns[i];
		const int arg = i + 1;
		if (PG_ARGISNULL(arg)) {
			fields.push_back(c.kind == ef::Kind::code ? ef::code_of(c, std::nullopt) : std::nullopt);
			continue;
		}
		std::string &slot = owned[static_cast<std::size_t>(i)];
		slot.clear();
		switch (p.types[i]) {
		case DATEOID: {
			ef::append_date(slot, outreach::pg::civil_date(PG_GETARG_DATEADT(arg), "export_line: a date is not finite"),
			                c.date_format);
			fields.emplace_back(slot);
			continue;
		}
		case INT4OID:
		case INT8OID: {
			char buf[24];
			const long long v = p.types[i] == INT4OID ? PG_GETARG_INT32(arg) : PG_GETARG_INT64(arg);
			const auto r = std::to_chars(buf, buf + sizeof buf, v);
			slot.assign(buf, r.ptr);
			fields.emplace_back(slot);
			continue;
		}
		default:
			break;
		}
		const std::string_view v = p.types[i] == UNKNOWNOID ? std::string_view(PG_GETARG_CSTRING(arg))
		                                                    : outreach::pg::text_arg(fcinfo, arg);
		switch (c.kind) {
		case ef::Kind::trim: fields.emplace_back(ef::trim_spaces(v)); break;
		case ef::Kind::code: fields.push_back(ef::code_of(c, v)); break;
		default: fields.emplace_back(v); break;
		}
	}
	line.clear();
	outreach::csv::append_csv_record(line, fields);
	const Datum result = outreach::pg::text_result(line);
	if (line.capacity() > kept_line_bytes)
		std::string().swap(line);
	return result;
}
