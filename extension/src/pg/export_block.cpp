// outreach.export_block(participant_id, cohort_year, src_xmin, reference, previous_hash, line):
// the aggregate export_begin stages an export with. It collects the records of one member's
// block of participant ids whose content hash (hashtextextended(line, 0)) differs from the hash
// of what the recipient last received (previous_hash; NULL: never sent), and returns them as
// the parallel arrays of an outreach.export_block_data, sorted by participant id (NULL when
// none in the block changed).
//
// As SQL (sort a million records by member, block and participant, then six array_agg()s) this
// was 0.7 s of a million-record export; here the groups are hashed and each block (at most
// 4096 records) is sorted on its own. Which records go out, in which order, is
// core/export_block's rule; here are the hash, the aggregate's state and the arrays.
#include "../core/error.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/export_block.hpp"

#include <cstdint>
#include <new>
#include <optional>
#include <string_view>
#include <vector>

#include "arrays.hpp"
#include "boundary.hpp"

extern "C" {
#include "access/htup_details.h"
#include "common/hashfn.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

namespace eb = outreach::export_block;
using outreach::pg::guard;

namespace {

// The state lives in the aggregate's memory context (placement new) and is destroyed by a
// reset callback on it, so its vectors are freed with the group however the query ends.
struct State {
	MemoryContextCallback callback;
	eb::Block block;
};

void destroy_state(void *arg) { static_cast<State *>(arg)->~State(); }

}  // namespace

// export_block_add(state internal, participant_id bigint, cohort_year int, src_xmin xid,
//                  reference text, content_hash bigint, line text [, hashed text]) RETURNS internal
// hashed: what the content hash is taken of when it is not the line itself (a layout's
// record_action column says "new" or "correction", which is no change of content).
OUTREACH_FUNCTION(export_block_add) {
	MemoryContext aggcontext = nullptr;
	if (!AggCheckCallContext(fcinfo, &aggcontext))
		throw outreach::Error(outreach::sqlstate::internal_error, "export_block_add called outside an aggregate");
	auto *state = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<State *>(PG_GETARG_POINTER(0));
	if (!state) {
		void *memory = guard([&] { return MemoryContextAllocZero(aggcontext, sizeof(State)); });
		state = new (memory) State();
		state->callback.func = destroy_state;
		state->callback.arg = state;
		guard([&] { MemoryContextRegisterResetCallback(aggcontext, &state->callback); });
	}
	for (int i : {1, 2, 3, 4, 6})
		if (PG_ARGISNULL(i))
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "export_block: a record has a NULL value");
	const std::string_view line = outreach::pg::text_arg(fcinfo, 6);
	const std::string_view hashed = PG_NARGS() > 7 && !PG_ARGISNULL(7) ? outreach::pg::text_arg(fcinfo, 7) : line;
	// hashtextextended(hashed, 0) of a deterministic collation: the hash the ledger keeps.
	const auto hash = static_cast<std::int64_t>(DatumGetUInt64(
		hash_any_extended(reinterpret_cast<const unsigned char *>(hashed.data()), static_cast<int>(hashed.size()), 0)));
	const std::optional<std::int64_t> previous_hash =
		PG_ARGISNULL(5) ? std::nullopt : std::optional<std::int64_t>(PG_GETARG_INT64(5));
	if (eb::unchanged(previous_hash, hash))
		PG_RETURN_POINTER(state);  // sent before as it is now
	state->block.add({PG_GETARG_INT64(1), PG_GETARG_INT32(2), DatumGetTransactionId(PG_GETARG_DATUM(3)), hash},
	                 outreach::pg::text_arg(fcinfo, 4), line);
	PG_RETURN_POINTER(state);
}

// export_block_final(state internal) RETURNS outreach.export_block_data
OUTREACH_FUNCTION(export_block_final) {
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	const eb::Block &block = reinterpret_cast<State *>(PG_GETARG_POINTER(0))->block;
	if (block.empty())
		PG_RETURN_NULL();
	const std::vector<std::size_t> order = block.participant_order();

	TupleDesc desc = nullptr;
	if (guard([&] { return get_call_result_type(fcinfo, nullptr, &desc); }) != TYPEFUNC_COMPOSITE || desc->natts != 6)
		throw outreach::Error(outreach::sqlstate::internal_error, "export_block_final must return export_block_data");
	const std::size_t n = order.size();
	auto rec = [&](std::size_t k) -> const eb::Block::Record & { return block.record(order[k]); };
	auto reference = [&](std::size_t k) { return block.reference(order[k]); };
	auto line = [&](std::size_t k) { return block.line(order[k]); };
	Datum values[6];
	bool nulls[6] = {false, false, false, false, false, false};
	guard([&] {
		using outreach::pg::text_array;
		using outreach::pg::value_array;
		values[0] = PointerGetDatum(value_array<int64>(INT8OID, n, [&](std::size_t k) { return rec(k).participant_id; }));
		values[1] = PointerGetDatum(value_array<int32>(INT4OID, n, [&](std::size_t k) { return rec(k).cohort_year; }));
		values[2] = PointerGetDatum(value_array<TransactionId>(XIDOID, n, [&](std::size_t k) { return rec(k).src_xmin; }));
		values[3] = PointerGetDatum(text_array(n, reference));
		values[4] = PointerGetDatum(value_array<int64>(INT8OID, n, [&](std::size_t k) { return rec(k).content_hash; }));
		values[5] = PointerGetDatum(text_array(n, line));
	});
	return guard([&] { return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)); });
}
