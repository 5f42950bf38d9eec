// outreach.outcome_file_lines(content, header_line, n_fields, positions, fixed_kind, code_keys,
// code_values): the data lines of an outcome file, parsed (core/csv), checked against the
// layout (core/outcome_lines) and with repeated facts marked, in one pass. import_outcomes()
// joins the result with the ledger and the participants. As SQL over csv_records() these steps
// took four times as long (the checks as expressions per line, a sort and a window for the
// repeats).
#include "../core/csv.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"
#include "../core/outcome_lines.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "boundary.hpp"
#include "outcome_layout.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
}

namespace ol = outreach::outcome_lines;
using outreach::pg::guard;

namespace {

Datum text_datum(std::string_view s) { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); }

}  // namespace

// outcome_file_lines(content bytea, header_line int, n_fields int, positions int[], fixed_kind text,
//                    code_keys text[], code_values text[])
//   RETURNS TABLE (line_no int, reference text, kind text, academic_year int, measure text, value text,
//                  provider_ukprn int, provider_name text, problem text, first_line int, same_as_first boolean)
OUTREACH_FUNCTION(outcome_file_lines) {
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
		                      "outcome_file_lines: content, header line, field count and positions are required");
	const Datum d = PG_GETARG_DATUM(0);
	auto *v = guard([&] { return pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(d))); });
	const std::string_view bytes(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	const int header_line = PG_GETARG_INT32(1);
	const ol::Layout layout = outreach::pg::outcome_layout_args(fcinfo, 2, "outcome_file_lines");

	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	MemoryContext row_context = guard([&] {
		InitMaterializedSRF(fcinfo, 0);  // raises when the caller cannot take a materialized set
		return AllocSetContextCreate(CurrentMemoryContext, "outreach outcome_file_lines row", ALLOCSET_DEFAULT_SIZES);
	});

	outreach::csv::CsvReader reader(bytes);
	outreach::csv::CsvRecord rec;
	ol::Repeats repeats;
	std::uint32_t count = 0;
	while (reader.next(rec)) {
		if (rec.line_no <= header_line)
			continue;
		const ol::Fact f = ol::check_line(layout, rec.ok() ? &rec.fields : nullptr, rec.error, rec.terminated);
		const std::optional<ol::Repeats::Earlier> earlier = repeats.see(rec.line_no, f);
		// Plain C-style code: f and earlier are only read, nothing with a destructor is made in here.
		guard([&] {
			if ((++count & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			MemoryContext caller = MemoryContextSwitchTo(row_context);
			Datum values[11];
			bool isnull[11] = {};
			values[0] = Int32GetDatum(rec.line_no);
			isnull[1] = !f.reference;
			if (f.reference)
				values[1] = text_datum(*f.reference);
			isnull[2] = !f.kind;
			if (f.kind)
				values[2] = text_datum(*f.kind);
			isnull[3] = !f.academic_year || f.problem;  // (a year is only given for a line without problem)
			if (!isnull[3])
				values[3] = Int32GetDatum(*f.academic_year);
			values[4] = text_datum(f.measure);
			isnull[5] = !f.value;
			if (f.value)
				values[5] = text_datum(*f.value);
			values[6] = Int32GetDatum(f.provider_ukprn);
			isnull[7] = !f.provider_name;
			if (f.provider_name)
				values[7] = text_datum(*f.provider_name);
			isnull[8] = !f.problem;
			if (f.problem)
				values[8] = text_datum(*f.problem);
			isnull[9] = isnull[10] = !earlier;
			if (earlier) {
				values[9] = Int32GetDatum(earlier->line_no);
				values[10] = BoolGetDatum(earlier->same);
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);  // copies the row
			MemoryContextSwitchTo(caller);
			MemoryContextReset(row_context);
		});
	}
	guard([&] { MemoryContextDelete(row_context); });
	return (Datum)0;
}
