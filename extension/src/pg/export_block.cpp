// outreach.export_block(participant_id, cohort_year, src_xmin, reference, content_hash, line):
// the aggregate export_begin stages an export with. It collects the records of one member's
// block of participant ids and returns them as the parallel arrays of an
// outreach.export_block_data, sorted by participant id.
//
// As SQL (sort a million records by member, block and participant, then six array_agg()s) this
// was 0.7 s of a million-record export; here the groups are hashed and each block (at most
// 4096 records) is sorted on its own.
#include "../core/error.hpp"  // core first: it must compile without PostgreSQL's headers

#include <algorithm>
#include <cstdint>
#include <new>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "boundary.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

using outreach::pg::guard;

namespace {

struct Record {
	std::int64_t participant_id;
	std::int32_t cohort_year;
	std::uint32_t src_xmin;
	std::int64_t content_hash;
	std::size_t reference_at, reference_len, line_at, line_len;  // in Block::text
};

// The state lives in the aggregate's memory context (placement new) and is destroyed by a
// reset callback on it, so its vectors are freed with the group however the query ends.
struct Block {
	MemoryContextCallback callback;
	std::vector<Record> records;
	std::string text;  // references and lines, back to back
};

void destroy_block(void *arg) { static_cast<Block *>(arg)->~Block(); }

// A one-dimensional text[] of the given slices of text, built in one allocation.
ArrayType *text_array(const std::string &text, const std::vector<Record> &records, const std::vector<std::size_t> &order,
                      bool lines) {
	Size bytes = ARR_OVERHEAD_NONULLS(1);
	for (std::size_t i : order)
		bytes += INTALIGN(VARHDRSZ + (lines ? records[i].line_len : records[i].reference_len));
	auto *array = static_cast<ArrayType *>(guard([&] { return palloc0(bytes); }));
	SET_VARSIZE(array, bytes);
	array->ndim = 1;
	array->dataoffset = 0;
	array->elemtype = TEXTOID;
	ARR_DIMS(array)[0] = static_cast<int>(order.size());
	ARR_LBOUND(array)[0] = 1;
	char *p = ARR_DATA_PTR(array);
	for (std::size_t i : order) {
		const std::size_t at = lines ? records[i].line_at : records[i].reference_at;
		const std::size_t len = lines ? records[i].line_len : records[i].reference_len;
		SET_VARSIZE(p, VARHDRSZ + len);
		memcpy(VARDATA(p), text.data() + at, len);
		p += INTALIGN(VARHDRSZ + len);
	}
	return array;
}

// A one-dimensional array of a fixed-size, pass-by-value type (int4, int8, xid), no NULLs.
template <typename T, typename Get>
ArrayType *value_array(Oid type, const std::vector<std::size_t> &order, Get get) {
	const Size bytes = ARR_OVERHEAD_NONULLS(1) + sizeof(T) * order.size();
	auto *array = static_cast<ArrayType *>(guard([&] { return palloc0(bytes); }));
	SET_VARSIZE(array, bytes);
	array->ndim = 1;
	array->dataoffset = 0;
	array->elemtype = type;
	ARR_DIMS(array)[0] = static_cast<int>(order.size());
	ARR_LBOUND(array)[0] = 1;
	T *out = reinterpret_cast<T *>(ARR_DATA_PTR(array));
	for (std::size_t i : order)
		*out++ = get(i);
	return array;
}

}  // namespace

// export_block_add(state internal, participant_id bigint, cohort_year int, src_xmin xid,
//                  reference text, content_hash bigint, line text) RETURNS internal
OUTREACH_FUNCTION(export_block_add) {
	MemoryContext aggcontext = nullptr;
	if (!AggCheckCallContext(fcinfo, &aggcontext))
		throw outreach::Error(outreach::sqlstate::internal_error, "export_block_add called outside an aggregate");
	auto *block = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<Block *>(PG_GETARG_POINTER(0));
	if (!block) {
		void *memory = guard([&] { return MemoryContextAllocZero(aggcontext, sizeof(Block)); });
		block = new (memory) Block();
		block->callback.func = destroy_block;
		block->callback.arg = block;
		guard([&] { MemoryContextRegisterResetCallback(aggcontext, &block->callback); });
	}
	for (int i = 1; i <= 6; ++i)
		if (PG_ARGISNULL(i))
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "export_block: a record has a NULL value");
	const std::string_view reference = outreach::pg::text_arg(fcinfo, 4);
	const std::string_view line = outreach::pg::text_arg(fcinfo, 6);
	Record r{PG_GETARG_INT64(1), PG_GETARG_INT32(2), DatumGetTransactionId(PG_GETARG_DATUM(3)), PG_GETARG_INT64(5),
	         block->text.size(), reference.size(), block->text.size() + reference.size(), line.size()};
	block->text.append(reference);
	block->text.append(line);
	block->records.push_back(r);
	PG_RETURN_POINTER(block);
}

// export_block_final(state internal) RETURNS outreach.export_block_data
OUTREACH_FUNCTION(export_block_final) {
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	const Block &block = *reinterpret_cast<Block *>(PG_GETARG_POINTER(0));
	const std::vector<Record> &rec = block.records;
	std::vector<std::size_t> order(rec.size());
	std::iota(order.begin(), order.end(), std::size_t{0});
	std::sort(order.begin(), order.end(),
	          [&](std::size_t a, std::size_t b) { return rec[a].participant_id < rec[b].participant_id; });

	TupleDesc desc = nullptr;
	if (guard([&] { return get_call_result_type(fcinfo, nullptr, &desc); }) != TYPEFUNC_COMPOSITE || desc->natts != 6)
		throw outreach::Error(outreach::sqlstate::internal_error, "export_block_final must return export_block_data");
	Datum values[6];
	bool nulls[6] = {false, false, false, false, false, false};
	values[0] = PointerGetDatum(value_array<std::int64_t>(INT8OID, order, [&](std::size_t i) { return rec[i].participant_id; }));
	values[1] = PointerGetDatum(value_array<std::int32_t>(INT4OID, order, [&](std::size_t i) { return rec[i].cohort_year; }));
	values[2] = PointerGetDatum(value_array<std::uint32_t>(XIDOID, order, [&](std::size_t i) { return rec[i].src_xmin; }));
	values[3] = PointerGetDatum(text_array(block.text, rec, order, false));
	values[4] = PointerGetDatum(value_array<std::int64_t>(INT8OID, order, [&](std::size_t i) { return rec[i].content_hash; }));
	values[5] = PointerGetDatum(text_array(block.text, rec, order, true));
	return guard([&] { return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)); });
}
