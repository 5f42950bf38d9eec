// Disclosure control functions (docs/disclosure.md): fmgr glue around core/disclosure. Every
// rule is decided in the core; this file only converts arguments and results. numeric values
// reach the core as the exact decimal text numeric_out prints; the only numeric arithmetic
// here is the percentage and the mean themselves (PostgreSQL's, inside guard()).
// Pure core headers come first: they must compile without PostgreSQL's headers in view.
#include "../core/disclosure.hpp"
#include "../core/error.hpp"

#include "boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
}

namespace sdc = outreach::disclosure;
using outreach::pg::guard;

namespace {

// The policy is nearly always a constant (often the default): then it is parsed once per
// query and kept in fn_extra, so a call costs no string comparison.
sdc::Policy policy_arg(FunctionCallInfo fcinfo, int n) {
	if (auto *cached = static_cast<sdc::Policy *>(fcinfo->flinfo->fn_extra))
		return *cached;
	const sdc::Policy policy = sdc::parse_policy(outreach::pg::text_arg(fcinfo, n));
	if (get_fn_expr_arg_stable(fcinfo->flinfo, n)) {
		auto *slot = static_cast<sdc::Policy *>(
			guard([&] { return MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(sdc::Policy)); }));
		*slot = policy;
		fcinfo->flinfo->fn_extra = slot;
	}
	return policy;
}

Datum numeric_datum(FunctionCallInfo fcinfo, int n) {
	return guard([&] { return PointerGetDatum(PG_GETARG_NUMERIC(n)); });  // detoasts: may raise
}

// The argument as an exact non-negative decimal; 22023 for a negative value, NaN or Infinity.
sdc::Decimal decimal_arg(FunctionCallInfo fcinfo, int n, std::string_view what) {
	const Datum value = numeric_datum(fcinfo, n);
	const char *text = guard([&] { return DatumGetCString(DirectFunctionCall1(numeric_out, value)); });
	return sdc::parse_decimal(text, what);
}

Datum numeric_from_digits(const std::string &digits) {
	return guard([&] {
		return DirectFunctionCall3(numeric_in, CStringGetDatum(digits.c_str()), ObjectIdGetDatum(InvalidOid),
		                           Int32GetDatum(-1));
	});
}

Datum tenths_result(std::int64_t tenths) {
	return guard([&] { return NumericGetDatum(int64_div_fast_to_numeric(tenths, 1)); });
}

Datum marker_result(FunctionCallInfo fcinfo, const char *marker) {
	if (!marker)
		PG_RETURN_NULL();
	return outreach::pg::text_result(marker);
}

// round(a / b, 1) in numeric arithmetic.
Datum divide_to_tenths(Datum a, Datum b) {
	return guard([&] {
		const Datum q = DirectFunctionCall2(numeric_div, a, b);
		return DirectFunctionCall2(numeric_round, q, Int32GetDatum(1));
	});
}

std::vector<std::int64_t> int8_array_arg(FunctionCallInfo fcinfo, int n) {
	ArrayType *array = guard([&] { return PG_GETARG_ARRAYTYPE_P(n); });  // detoasts: may raise
	if (ARR_NDIM(array) > 1)
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "parts must be a one-dimensional array");
	if (ARR_ELEMTYPE(array) != INT8OID)
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "parts must be a bigint[]");
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		throw outreach::Error(outreach::sqlstate::null_value_not_allowed, "parts must not contain NULL");
	const int count = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	const auto *values = reinterpret_cast<const std::int64_t *>(ARR_DATA_PTR(array));
	return std::vector<std::int64_t>(values, values + count);
}

}  // namespace

// ---- counts ----------------------------------------------------------------------------------

OUTREACH_FUNCTION(round_hesa) { return Int64GetDatum(sdc::round_count(PG_GETARG_INT64(0), sdc::Policy::hesa)); }

OUTREACH_FUNCTION(round_ofs) { return Int64GetDatum(sdc::round_count(PG_GETARG_INT64(0), sdc::Policy::ofs)); }

OUTREACH_FUNCTION(round_hesa_numeric) {
	return numeric_from_digits(sdc::round_decimal(decimal_arg(fcinfo, 0, "count"), sdc::Policy::hesa));
}

OUTREACH_FUNCTION(round_ofs_numeric) {
	return numeric_from_digits(sdc::round_decimal(decimal_arg(fcinfo, 0, "count"), sdc::Policy::ofs));
}

OUTREACH_FUNCTION(sdc_count) {
	const sdc::Published shown = sdc::publish_count(PG_GETARG_INT64(0), policy_arg(fcinfo, 1));
	if (!shown.value)
		PG_RETURN_NULL();
	return Int64GetDatum(*shown.value);
}

OUTREACH_FUNCTION(sdc_count_numeric) {
	const sdc::Policy policy = policy_arg(fcinfo, 1);
	const std::optional<std::string> shown = sdc::publish_decimal(decimal_arg(fcinfo, 0, "count"), policy);
	if (!shown)
		PG_RETURN_NULL();
	return numeric_from_digits(*shown);
}

OUTREACH_FUNCTION(sdc_count_marker) {
	return marker_result(fcinfo, sdc::publish_count(PG_GETARG_INT64(0), policy_arg(fcinfo, 1)).marker);
}

// ---- percentages and means -------------------------------------------------------------------

OUTREACH_FUNCTION(sdc_percent) {
	const auto tenths = sdc::percent_tenths(PG_GETARG_INT64(0), PG_GETARG_INT64(1), policy_arg(fcinfo, 2));
	if (!tenths)
		PG_RETURN_NULL();
	return tenths_result(*tenths);
}

OUTREACH_FUNCTION(sdc_percent_numeric) {
	const sdc::Policy policy = policy_arg(fcinfo, 2);
	if (sdc::percent_marker(decimal_arg(fcinfo, 0, "part"), decimal_arg(fcinfo, 1, "base"), policy))
		PG_RETURN_NULL();
	const Datum part = numeric_datum(fcinfo, 0), base = numeric_datum(fcinfo, 1);
	const Datum hundred_part =
		guard([&] { return DirectFunctionCall2(numeric_mul, part, NumericGetDatum(int64_to_numeric(100))); });
	return divide_to_tenths(hundred_part, base);
}

OUTREACH_FUNCTION(sdc_marker) {
	return marker_result(fcinfo, sdc::percent_marker(PG_GETARG_INT64(0), PG_GETARG_INT64(1), policy_arg(fcinfo, 2)));
}

OUTREACH_FUNCTION(sdc_marker_numeric) {
	const sdc::Policy policy = policy_arg(fcinfo, 2);
	return marker_result(fcinfo,
	                     sdc::percent_marker(decimal_arg(fcinfo, 0, "part"), decimal_arg(fcinfo, 1, "base"), policy));
}

OUTREACH_FUNCTION(sdc_mean) {
	const std::int64_t people = PG_GETARG_INT64(1);
	if (!sdc::mean_shown(people, policy_arg(fcinfo, 2)))
		PG_RETURN_NULL();
	const Datum total = numeric_datum(fcinfo, 0);
	if (guard([&] { return numeric_is_nan(DatumGetNumeric(total)) || numeric_is_inf(DatumGetNumeric(total)); }))
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "total of a mean must be a finite number");
	return divide_to_tenths(total, guard([&] { return NumericGetDatum(int64_to_numeric(people)); }));
}

// ---- one published table -----------------------------------------------------------------------

OUTREACH_FUNCTION(sdc_total_publishable) {
	return BoolGetDatum(sdc::total_publishable(int8_array_arg(fcinfo, 0), policy_arg(fcinfo, 1)));
}

OUTREACH_FUNCTION(sdc_total) {
	const std::vector<std::int64_t> parts = int8_array_arg(fcinfo, 0);
	const sdc::Policy policy = policy_arg(fcinfo, 1);
	if (!sdc::total_publishable(parts, policy))  // also checks the parts and their sum
		PG_RETURN_NULL();
	std::int64_t total = 0;
	for (const std::int64_t n : parts)
		total += n;
	const sdc::Published shown = sdc::publish_count(total, policy);
	if (!shown.value)
		PG_RETURN_NULL();
	return Int64GetDatum(*shown.value);
}

// disclosure_policies() RETURNS TABLE (policy text, is_default boolean, rounding_base int,
//   small_count_max int, small_count_shown text, percent_min_base numeric,
//   mean_max_suppressed int, suppressed_marker text, description text)
OUTREACH_FUNCTION(disclosure_policies) {
	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	guard([&] { InitMaterializedSRF(fcinfo, 0); });  // raises when the caller cannot take a set
	for (const sdc::PolicyInfo &p : sdc::policies()) {
		// Plain C-style code: p is only read, nothing with a destructor is made in here.
		guard([&] {
			Datum values[9];
			bool isnull[9] = {false, false, false, false, false, false, false, false, false};
			values[0] = CStringGetTextDatum(p.name);
			values[1] = BoolGetDatum(p.is_default);
			values[2] = Int32GetDatum(p.rounding_base);
			values[3] = Int32GetDatum(p.small_count_max);
			values[4] = CStringGetTextDatum(p.small_count_shown);
			values[5] = DirectFunctionCall3(numeric_in, CStringGetDatum(p.percent_min_base),
			                                ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			values[6] = Int32GetDatum(p.mean_max_suppressed);
			values[7] = CStringGetTextDatum(p.suppressed_marker);
			values[8] = CStringGetTextDatum(p.description);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);  // copies the row
		});
	}
	return (Datum)0;
}
