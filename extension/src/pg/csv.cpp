// outreach.csv_record(text[]) and outreach.csv_records(bytea): fmgr glue around core/csv.
//
// Both run over whole linkage files (a million rows), so neither deconstructs arrays nor keeps
// per-row allocations: csv_record walks the array's elements in place and writes into a buffer
// reused across calls; csv_records builds each row in a memory context reset after the row has
// been copied into the tuplestore.
#include "../core/csv.hpp"    // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"
#include "../core/limits.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arrays.hpp"
#include "boundary.hpp"

extern "C" {
#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
}

namespace csv = outreach::csv;
using outreach::pg::guard;

namespace {

// Reused by every csv_record() call of the backend, so that once warmed up a call allocates
// only its result; given back when one call has made them large.
std::string record_buffer;
std::vector<std::optional<std::string_view>> field_views;
constexpr std::size_t kept_buffer_bytes = 64 * 1024;
constexpr std::size_t kept_field_views = 1024;

constexpr const char *program_limit_exceeded = "54000";

// The bytes of a bytea argument, detoasted when stored out of line or compressed (a file of
// tens of megabytes always is). pg_detoast_datum_packed() leaves short and plain values alone.
std::string_view bytea_arg(FunctionCallInfo fcinfo, int n) {
	const Datum d = PG_GETARG_DATUM(n);
	auto *v = guard([&] { return pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(d))); });
	return std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

}  // namespace

// csv_record(fields text[]) RETURNS text
OUTREACH_FUNCTION(csv_record) {
	ArrayType *array = guard([&] { return PG_GETARG_ARRAYTYPE_P(0); });  // detoasts: may raise
	if (ARR_NDIM(array) > 1)
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
		                      "csv_record expects a one-dimensional array, got " + std::to_string(ARR_NDIM(array)) +
		                          " dimensions");
	if (ARR_ELEMTYPE(array) != TEXTOID)
		throw outreach::Error(outreach::sqlstate::internal_error, "csv_record expects a text[] array");
	const int n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	namespace lim = outreach::limits;
	if (static_cast<std::size_t>(n) > lim::max_csv_fields)
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
		                      "csv_record: " + std::to_string(n) + " fields exceed the limit of " +
		                          std::to_string(lim::max_csv_fields) + " fields of a record");

	// The elements in place, as array_iter_next() walks them: text is a varlena aligned to int.
	field_views.clear();
	std::size_t bytes = 0;  // the fields' bytes, bounded before the record is built
	const char *p = ARR_DATA_PTR(array);
	const bits8 *nulls = ARR_NULLBITMAP(array);
	for (int i = 0; i < n; ++i) {
		if (nulls && !(nulls[i / 8] & (1 << (i % 8)))) {
			field_views.emplace_back(std::nullopt);
			continue;
		}
		field_views.emplace_back(std::string_view(VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p)));
		bytes += field_views.back()->size();
		p = att_addlength_pointer(p, -1, p);
		p = reinterpret_cast<const char *>(att_align_nominal(p, TYPALIGN_INT));
	}

	if (bytes > lim::max_csv_record_bytes)
		throw outreach::Error(outreach::sqlstate::string_data_right_truncation,
		                      "csv_record: the fields' " + std::to_string(bytes) + " bytes exceed the limit of " +
		                          std::to_string(lim::max_csv_record_bytes) + " bytes of a record");
	record_buffer.clear();
	csv::append_csv_record(record_buffer, field_views);
	if (record_buffer.size() > MaxAllocSize - VARHDRSZ)
		throw outreach::Error(program_limit_exceeded, "csv_record result would exceed 1 GB");
	const Datum result = outreach::pg::text_result(record_buffer);
	if (record_buffer.capacity() > kept_buffer_bytes)
		std::string().swap(record_buffer);
	if (field_views.capacity() > kept_field_views)
		std::vector<std::optional<std::string_view>>().swap(field_views);
	return result;
}

// csv_records(content bytea) RETURNS TABLE (line_no int, fields text[], error text, terminated boolean)
OUTREACH_FUNCTION(csv_records) {
	const std::string_view bytes = bytea_arg(fcinfo, 0);
	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	MemoryContext row_context = guard([&] {
		InitMaterializedSRF(fcinfo, 0);  // raises when the caller cannot take a materialized set
		return AllocSetContextCreate(CurrentMemoryContext, "outreach csv_records row", ALLOCSET_DEFAULT_SIZES);
	});

	csv::CsvReader reader(bytes);
	csv::CsvRecord rec;
	std::uint32_t count = 0;
	while (reader.next(rec)) {
		// Plain C-style code: rec is only read, nothing with a destructor is made in here.
		guard([&] {
			if ((++count & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			MemoryContext caller = MemoryContextSwitchTo(row_context);
			Datum values[4];
			bool isnull[4] = {false, false, false, false};
			values[0] = Int32GetDatum(rec.line_no);
			if (rec.ok()) {
				values[1] = PointerGetDatum(outreach::pg::text_array(
					rec.fields.size(), [&](std::size_t i) { return std::string_view(rec.fields[i]); }));
				values[2] = (Datum)0;
				isnull[2] = true;
			} else {
				values[1] = (Datum)0;
				isnull[1] = true;
				values[2] = PointerGetDatum(cstring_to_text_with_len(rec.error.data(), static_cast<int>(rec.error.size())));
			}
			values[3] = BoolGetDatum(rec.terminated);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);  // copies the row
			MemoryContextSwitchTo(caller);
			MemoryContextReset(row_context);
		});
	}
	guard([&] { MemoryContextDelete(row_context); });
	return (Datum)0;
}
