#include "../core/error.hpp"  // core first: it must compile without PostgreSQL's headers
#include "outcome_layout.hpp"

#include <string>
#include <vector>

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
}

namespace outreach::pg {

namespace {

std::vector<std::string> text_elements(FunctionCallInfo fcinfo, int n, const char *function) {
	std::vector<std::string> out;
	if (PG_ARGISNULL(n))
		return out;
	ArrayType *a = guard([&] { return PG_GETARG_ARRAYTYPE_P(n); });
	Datum *elems = nullptr;
	bool *nulls = nullptr;
	int count = 0;
	guard([&] { deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count); });
	for (int i = 0; i < count; ++i) {
		if (nulls[i])
			throw Error(sqlstate::invalid_parameter_value, std::string(function) + ": a NULL code");
		auto *t = reinterpret_cast<text *>(DatumGetPointer(elems[i]));
		out.emplace_back(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	return out;
}

}  // namespace

outreach::outcome_lines::Layout outcome_layout_args(FunctionCallInfo fcinfo, int first, const char *function) {
	outreach::outcome_lines::Layout l;
	if (PG_ARGISNULL(first) || PG_ARGISNULL(first + 1))
		throw Error(sqlstate::invalid_parameter_value, std::string(function) + ": field count and positions are required");
	l.n_fields = PG_GETARG_INT32(first);
	ArrayType *pos = guard([&] { return PG_GETARG_ARRAYTYPE_P(first + 1); });
	if (ARR_NDIM(pos) != 1 || ARR_DIMS(pos)[0] != 7 || ARR_HASNULL(pos) || ARR_ELEMTYPE(pos) != INT4OID)
		throw Error(sqlstate::invalid_parameter_value,
		            std::string(function) + ": positions must be 7 integers (reference, academic_year, measure, "
		                                    "value, provider_ukprn, provider_name, outcome)");
	const auto *p = reinterpret_cast<const int32 *>(ARR_DATA_PTR(pos));
	l.reference = p[0], l.academic_year = p[1], l.measure = p[2], l.value = p[3];
	l.provider_ukprn = p[4], l.provider_name = p[5], l.outcome = p[6];
	if (!PG_ARGISNULL(first + 2))
		l.fixed_kind = std::string(text_arg(fcinfo, first + 2));
	const std::vector<std::string> keys = text_elements(fcinfo, first + 3, function),
	                               values = text_elements(fcinfo, first + 4, function);
	if (keys.size() != values.size())
		throw Error(sqlstate::invalid_parameter_value, std::string(function) + ": codes and kinds differ in number");
	for (std::size_t i = 0; i < keys.size(); ++i)
		l.codes.emplace_back(keys[i], values[i]);
	return l;
}

}  // namespace outreach::pg
