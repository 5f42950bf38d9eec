// outreach.outcome_import_rows(recipient, import_id, content, header_line, n_fields, positions,
// fixed_kind, code_keys, code_values): the work of import_outcomes() (extension/sql/current/55_outcome_import.sql) on
// one outcome file, in one pass and without a join: each line is parsed and checked
// (core/outcome_lines), matched to a participant through the recipient's ledger, judged against
// the participants as held now, and merged with the outcome facts already held
// (core/outcome_import). It returns the rows import_outcomes() writes:
//   - per block of outreach.outcome_block the file touches: its new arrays (NULL when nothing
//     in it changes) and how many facts were inserted, updated and unchanged;
//   - per line not imported: line_no, status and reason.
// As SQL (a join of the lines with the unnested ledger and the participants, then an insert
// into a keyed table) this took 8 s of a million-line import.
#include "../core/csv.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"
#include "../core/outcome_import.hpp"
#include "../core/outcome_lines.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arrays.hpp"
#include "boundary.hpp"
#include "outcome_layout.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "nodes/params.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

namespace oi = outreach::outcome_import;
namespace ol = outreach::outcome_lines;
using outreach::pg::guard;

namespace {

// The elements of a one-dimensional array, detoasted into the memory context into.
class Elements {
public:
	Elements(Datum d, MemoryContext into) {
		array_ = guard([&] {
			MemoryContext caller = MemoryContextSwitchTo(into);
			ArrayType *a = DatumGetArrayTypeP(d);
			MemoryContextSwitchTo(caller);
			return a;
		});
		n_ = static_cast<std::size_t>(ArrayGetNItems(ARR_NDIM(array_), ARR_DIMS(array_)));
	}
	std::size_t size() const noexcept { return n_; }
	// Fixed-size elements without NULLs (int4, int8, timestamptz), read in place; what names
	// the array (table.column) in the error for a damaged one.
	template <typename T>
	const T *values(const char *what) const {
		if (ARR_HASNULL(array_) || ARR_NDIM(array_) > 1)
			throw outreach::Error(outreach::sqlstate::data_corrupted, std::string("NULL in ") + what);
		return reinterpret_cast<const T *>(ARR_DATA_PTR(array_));
	}
	// Variable-length elements, NULL as nullopt, in order.
	template <typename F>
	void each_text(F f) const {
		array_iter it;
		array_iter_setup(&it, reinterpret_cast<AnyArrayType *>(array_));
		for (std::size_t i = 0; i < n_; ++i) {
			bool isnull = false;
			const Datum d = array_iter_next(&it, &isnull, static_cast<int>(i), -1, false, TYPALIGN_INT);
			if (isnull) {
				f(std::optional<std::string_view>());
			} else {
				const auto *v = reinterpret_cast<const struct varlena *>(DatumGetPointer(d));
				f(std::optional<std::string_view>(std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v))));
			}
		}
	}

private:
	ArrayType *array_ = nullptr;
	std::size_t n_ = 0;
};

// Runs a read-only query and hands every row to on_row(slot) as the executor produces it: no
// copy of the row into an SPI tuple table (a million of them cost more than the scan). on_row
// runs inside the executor, so it follows the boundary's rules by itself: its PostgreSQL
// calls go through guard(), and what it throws is caught here and re-thrown once the query
// has ended. By then the executor's memory (current while on_row runs) has been freed: a
// PostgreSQL error caught inside on_row survives it because guard() copies errors into the
// boundary's own context (boundary.hpp), and whatever else on_row keeps must be copied out of
// the slot or into a context of the caller's (scratch, rows) before on_row returns.
template <typename F>
void for_each_row(const char *sql, const std::vector<Oid> &types, const std::vector<Datum> &values, F &on_row) {
	struct Sink {
		DestReceiver pub;  // first: the executor sees a DestReceiver
		F *on_row;
		std::exception_ptr *error;
	};
	std::exception_ptr error;
	Sink sink{};
	sink.pub.receiveSlot = [](TupleTableSlot *slot, DestReceiver *self) -> bool {
		auto *s = reinterpret_cast<Sink *>(self);
		try {
			(*s->on_row)(slot);
			return true;
		} catch (...) {
			*s->error = std::current_exception();
			return false;  // stops the query
		}
	};
	sink.pub.rStartup = [](DestReceiver *, int, TupleDesc) {};
	sink.pub.rShutdown = [](DestReceiver *) {};
	sink.pub.rDestroy = [](DestReceiver *) {};
	sink.pub.mydest = DestNone;
	sink.on_row = &on_row;
	sink.error = &error;
	guard([&] {
		SPIExecuteOptions options;
		memset(&options, 0, sizeof options);
		options.params = makeParamList(static_cast<int>(types.size()));
		for (std::size_t i = 0; i < types.size(); ++i) {
			ParamExternData &p = options.params->params[i];
			p.value = values[i];
			p.isnull = false;
			p.pflags = PARAM_FLAG_CONST;
			p.ptype = types[i];
		}
		options.read_only = true;
		options.dest = &sink.pub;
		const int rc = SPI_execute_extended(sql, &options);
		if (rc < 0)
			elog(ERROR, "outcome_import_rows: query failed (SPI code %d)", rc);
	});
	if (error)
		std::rethrow_exception(error);
}


Datum int4_array_param(const std::vector<std::int32_t> &v) {
	return PointerGetDatum(guard([&] {
		return outreach::pg::value_array<int32>(INT4OID, v.size(), [&](std::size_t i) { return v[i]; });
	}));
}

Datum text_param(std::string_view s) {
	return guard([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
}

// Every reference the recipient was sent, into imp (a reference is one participant's).
void read_ledger(oi::FileImport &imp, Datum recipient, MemoryContext scratch) {
	std::vector<std::string_view> views;
	auto on_row = [&](TupleTableSlot *slot) {
		guard([] { CHECK_FOR_INTERRUPTS(); });
		slot_getallattrs(slot);
		const std::int32_t cid = DatumGetInt32(slot->tts_values[0]);
		const Elements ids(slot->tts_values[1], scratch), refs(slot->tts_values[2], scratch);
		if (ids.size() != refs.size())
			throw outreach::Error(outreach::sqlstate::data_corrupted, "disclosure_block: the arrays of a block differ in length");
		views.clear();
		refs.each_text([&](std::optional<std::string_view> ref) { views.push_back(ref.value_or(std::string_view())); });
		imp.match(views.data(), ids.values<std::int64_t>("disclosure_block.participant_ids"), views.size(), cid);
		MemoryContextReset(scratch);  // (cannot fail)
	};
	for_each_row("SELECT b.controller_id, b.participant_ids, b.participant_references FROM outreach.disclosure_block b "
	             "WHERE b.recipient OPERATOR(pg_catalog.=) $1",
	             {TEXTOID}, {recipient}, on_row);
}

// The participants of the members the file's references belong to, as held now, into imp.
void read_participants(oi::FileImport &imp) {
	const std::vector<std::int32_t> members = imp.matched_members();
	if (members.empty())
		return;
	const Datum list = int4_array_param(members);
	std::vector<oi::FileImport::Held> rows;
	rows.reserve(4096);
	std::uint32_t count = 0;
	auto on_row = [&](TupleTableSlot *slot) {
		if ((++count & 65535) == 0)
			guard([] { CHECK_FOR_INTERRUPTS(); });
		slot_getsomeattrs(slot, 4);
		rows.push_back(oi::FileImport::Held{DatumGetInt32(slot->tts_values[0]), DatumGetInt64(slot->tts_values[1]),
		                                    DatumGetBool(slot->tts_values[2]), DatumGetBool(slot->tts_values[3])});
		if (rows.size() == 4096) {
			imp.participants(rows.data(), rows.size());
			rows.clear();
		}
	};
	// For a few members, their rows through the primary key; for more, every row (a filter by
	// a list of members costs more than looking up and skipping the others in C++).
	if (members.size() <= 8)
		for_each_row("SELECT p.controller_id, p.participant_id, p.withdrawn_at IS NOT NULL, p.restricted_at IS NOT NULL "
		             "FROM outreach.participant p WHERE p.controller_id OPERATOR(pg_catalog.=) ANY ($1)",
		             {INT4ARRAYOID}, {list}, on_row);
	else
		for_each_row("SELECT p.controller_id, p.participant_id, p.withdrawn_at IS NOT NULL, p.restricted_at IS NOT NULL "
		             "FROM outreach.participant p",
		             {}, {}, on_row);
	imp.participants(rows.data(), rows.size());
}

// The facts of one outcome_block row, its arrays in columns 3-12 of the slot (views into them,
// detoasted into the memory context into).
std::vector<oi::Fact> held_facts(TupleTableSlot *slot, MemoryContext into) {
	auto col = [&](int n) { return Elements(slot->tts_values[n - 1], into); };  // (1-based, as the query lists them)
	const Elements ids = col(3), kinds = col(4), years = col(5), measures = col(6), ukprns = col(7), names = col(8),
		values = col(9), imports = col(10), lines = col(11), times = col(12);
	const std::size_t n = ids.size();
	for (const Elements *e : {&kinds, &years, &measures, &ukprns, &names, &values, &imports, &lines, &times})
		if (e->size() != n)
			throw outreach::Error(outreach::sqlstate::data_corrupted,
			                      "outcome_block: the arrays of a block differ in length (it was written other than by import_outcomes)");
	std::vector<oi::Fact> facts(n);
	const auto *pid = ids.values<std::int64_t>("outcome_block.participant_ids");
	const auto *year = years.values<std::int32_t>("outcome_block.academic_years");
	const auto *ukprn = ukprns.values<std::int32_t>("outcome_block.provider_ukprns");
	const auto *import = imports.values<std::int64_t>("outcome_block.import_ids");
	const auto *line = lines.values<std::int32_t>("outcome_block.line_nos");
	const auto *at = times.values<std::int64_t>("outcome_block.updated_ats");
	for (std::size_t k = 0; k < n; ++k) {
		facts[k].participant_id = pid[k];
		facts[k].academic_year = year[k];
		facts[k].provider_ukprn = ukprn[k];
		facts[k].import_id = import[k];
		facts[k].line_no = line[k];
		facts[k].updated_at = at[k];
	}
	std::size_t k = 0;
	kinds.each_text([&](std::optional<std::string_view> v) { facts[k++].kind = v ? oi::kind_index(*v) : -1; });
	k = 0;
	measures.each_text([&](std::optional<std::string_view> v) { facts[k++].measure = v.value_or(std::string_view()); });
	k = 0;
	names.each_text([&](std::optional<std::string_view> v) { facts[k++].provider_name = v; });
	k = 0;
	values.each_text([&](std::optional<std::string_view> v) { facts[k++].value = v; });
	for (const oi::Fact &f : facts)
		if (f.kind < 0)
			throw outreach::Error(outreach::sqlstate::data_corrupted, "outcome_block: an unknown outcome kind");
	return facts;
}

constexpr int n_columns = 18;

// One block row of the result: the merged facts as arrays (or NULL arrays when unchanged).
void put_block(ReturnSetInfo *rsinfo, const oi::FileImport::Block &b, const oi::Merged &m, MemoryContext rows) {
	guard([&] {
		MemoryContext caller = MemoryContextSwitchTo(rows);
		Datum v[n_columns];
		bool isnull[n_columns];
		for (int i = 0; i < n_columns; ++i)
			isnull[i] = true;
		v[0] = Int32GetDatum(b.controller_id), isnull[0] = false;
		v[1] = Int32GetDatum(b.block), isnull[1] = false;
		const std::vector<oi::Fact> &f = m.facts;
		const std::size_t n = f.size();
		if (m.changed()) {
			using outreach::pg::value_array;
			v[2] = PointerGetDatum(value_array<int64>(INT8OID, n, [&](std::size_t i) { return f[i].participant_id; }));
			v[3] = PointerGetDatum(outreach::pg::text_array(n, [&](std::size_t i) { return oi::kinds[f[i].kind]; }));
			v[4] = PointerGetDatum(value_array<int32>(INT4OID, n, [&](std::size_t i) { return f[i].academic_year; }));
			v[5] = PointerGetDatum(outreach::pg::text_array(n, [&](std::size_t i) { return f[i].measure; }));
			v[6] = PointerGetDatum(value_array<int32>(INT4OID, n, [&](std::size_t i) { return f[i].provider_ukprn; }));
			v[7] = PointerGetDatum(outreach::pg::nullable_text_array(n, [&](std::size_t i) { return f[i].provider_name; }));
			v[8] = PointerGetDatum(outreach::pg::nullable_text_array(n, [&](std::size_t i) { return f[i].value; }));
			v[9] = PointerGetDatum(value_array<int64>(INT8OID, n, [&](std::size_t i) { return f[i].import_id; }));
			v[10] = PointerGetDatum(value_array<int32>(INT4OID, n, [&](std::size_t i) { return f[i].line_no; }));
			v[11] = PointerGetDatum(value_array<int64>(TIMESTAMPTZOID, n, [&](std::size_t i) { return f[i].updated_at; }));
			for (int i = 2; i <= 11; ++i)
				isnull[i] = false;
		}
		v[12] = Int32GetDatum(static_cast<int32>(m.inserted)), isnull[12] = false;
		v[13] = Int32GetDatum(static_cast<int32>(m.updated)), isnull[13] = false;
		v[14] = Int32GetDatum(static_cast<int32>(m.unchanged)), isnull[14] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, isnull);  // copies the row
		MemoryContextSwitchTo(caller);
		MemoryContextReset(rows);
	});
}

void put_error(ReturnSetInfo *rsinfo, const oi::LineError &e) {
	guard([&] {
		Datum v[n_columns];
		bool isnull[n_columns];
		for (int i = 0; i < n_columns; ++i)
			isnull[i] = true;
		v[15] = Int32GetDatum(e.line_no), isnull[15] = false;
		v[16] = PointerGetDatum(cstring_to_text_with_len(e.status.data(), static_cast<int>(e.status.size())));
		v[17] = PointerGetDatum(cstring_to_text_with_len(e.reason.data(), static_cast<int>(e.reason.size())));
		isnull[16] = isnull[17] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, isnull);
	});
}

// The held blocks of the members concerned, merged with the file's facts block by block; every
// block the file touches becomes a result row.
void merge_blocks(const oi::FileImport &imp, Datum recipient, ReturnSetInfo *rsinfo, MemoryContext scratch,
                  MemoryContext rows) {
	const auto &blocks = imp.blocks();
	if (blocks.empty())
		return;
	std::vector<std::int32_t> members;
	for (const auto &b : blocks)
		if (members.empty() || members.back() != b.controller_id)
			members.push_back(b.controller_id);
	const std::vector<oi::Fact> none;
	std::size_t next = 0;  // the next block of the file to write
	auto before = [](const oi::FileImport::Block &b, std::int32_t cid, std::int32_t block) {
		return b.controller_id < cid || (b.controller_id == cid && b.block < block);
	};
	auto on_row = [&](TupleTableSlot *slot) {
		guard([] { CHECK_FOR_INTERRUPTS(); });  // (a block is up to 65536 participants' facts)
		slot_getallattrs(slot);
		const std::int32_t cid = DatumGetInt32(slot->tts_values[0]);
		const std::int32_t block = DatumGetInt32(slot->tts_values[1]);
		for (; next < blocks.size() && before(blocks[next], cid, block); ++next)
			put_block(rsinfo, blocks[next], oi::merge_block(none, imp.incoming(blocks[next])), rows);
		if (next == blocks.size() || blocks[next].controller_id != cid || blocks[next].block != block)
			return;  // a block the file does not touch
		const std::vector<oi::Fact> held = held_facts(slot, scratch);
		put_block(rsinfo, blocks[next], oi::merge_block(held, imp.incoming(blocks[next])), rows);
		++next;
		guard([&] { MemoryContextReset(scratch); });
	};
	for_each_row("SELECT b.controller_id, b.block, b.participant_ids, b.outcomes, b.academic_years, b.measures, "
	             "b.provider_ukprns, b.provider_names, b.outcome_values, b.import_ids, b.line_nos, b.updated_ats "
	             "FROM outreach.outcome_block b "
	             "WHERE b.recipient OPERATOR(pg_catalog.=) $1 AND b.controller_id OPERATOR(pg_catalog.=) ANY ($2) "
	             "ORDER BY b.controller_id, b.block",
	             {TEXTOID, INT4ARRAYOID}, {recipient, int4_array_param(members)}, on_row);
	for (; next < blocks.size(); ++next)
		put_block(rsinfo, blocks[next], oi::merge_block(none, imp.incoming(blocks[next])), rows);
}

}  // namespace

// outcome_import_rows(recipient text, import_id bigint, content bytea, header_line int, n_fields int,
//                     positions int[], fixed_kind text, code_keys text[], code_values text[])
OUTREACH_FUNCTION(outcome_import_rows) {
	for (int i = 0; i < 4; ++i)
		if (PG_ARGISNULL(i))
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
			                      "outcome_import_rows: recipient, import id, content and header line are required");
	const std::string recipient_name(outreach::pg::text_arg(fcinfo, 0));
	const std::int64_t import_id = PG_GETARG_INT64(1);
	const Datum d = PG_GETARG_DATUM(2);
	auto *v = guard([&] { return pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(d))); });
	const std::string_view bytes(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	const int header_line = PG_GETARG_INT32(3);
	const ol::Layout layout = outreach::pg::outcome_layout_args(fcinfo, 4, "outcome_import_rows");

	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	MemoryContext scratch = guard([&] {
		InitMaterializedSRF(fcinfo, 0);  // raises when the caller cannot take a materialized set
		return AllocSetContextCreate(CurrentMemoryContext, "outreach outcome_import_rows", ALLOCSET_DEFAULT_SIZES);
	});
	// (a block's arrays, built for one result row at a time)
	MemoryContext rows = guard([&] {
		return AllocSetContextCreate(CurrentMemoryContext, "outreach outcome_import_rows row", ALLOCSET_DEFAULT_SIZES);
	});
	const Datum recipient_param = text_param(recipient_name);

	// Where the time goes, at DEBUG1 (SET client_min_messages = debug1 to see it).
	TimestampTz mark = guard([] { return GetCurrentTimestamp(); });
	auto phase = [&](const char *what) {
		guard([&] {
			const TimestampTz now = GetCurrentTimestamp();
			elog(DEBUG1, "outcome_import_rows: %s in %.3f s", what, static_cast<double>(now - mark) / 1e6);
			mark = now;
		});
	};
	oi::FileImport imp(recipient_name, import_id, mark);
	// (counted, not guessed: a server with strict overcommit counts reserved memory as taken)
	imp.reserve(static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n')) + 1);
	// (the lines' fields are views into the content, which stays allocated until the end)
	imp.read(bytes, header_line, layout, [](void *) { guard([] { CHECK_FOR_INTERRUPTS(); }); });
	phase("lines parsed and checked");
	imp.index_references();
	phase("references indexed");
	if (guard([] { return SPI_connect(); }) != SPI_OK_CONNECT)
		throw outreach::Error(outreach::sqlstate::internal_error, "outcome_import_rows: SPI_connect failed");
	read_ledger(imp, recipient_param, scratch);
	phase("references matched through the ledger");
	read_participants(imp);
	phase("participants read");
	imp.judge();
	phase("lines judged");
	merge_blocks(imp, recipient_param, rsinfo, scratch, rows);
	for (const oi::LineError &e : imp.errors())
		put_error(rsinfo, e);
	phase("blocks merged");
	guard([&] {
		SPI_finish();
		MemoryContextDelete(scratch);
		MemoryContextDelete(rows);
	});
	return (Datum)0;
}
