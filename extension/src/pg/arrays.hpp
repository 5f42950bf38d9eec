// One-dimensional arrays (lower bound 1, no NULLs) built in one allocation: what
// construct_array() makes, without a Datum per element first. Used where millions of elements
// are built (csv_records, export_block). Plain C-style code that pallocs: call inside guard(),
// with element accessors that cannot throw.
#pragma once
#include <cstddef>
#include <cstring>
#include <string_view>

#include "boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
}

namespace outreach::pg {

namespace detail {
inline ArrayType *array_header(Oid type, std::size_t n, Size bytes) {
	auto *array = static_cast<ArrayType *>(palloc0(bytes));  // zeroed: alignment padding included
	SET_VARSIZE(array, bytes);
	array->ndim = 1;
	array->dataoffset = 0;
	array->elemtype = type;
	ARR_DIMS(array)[0] = static_cast<int>(n);
	ARR_LBOUND(array)[0] = 1;
	return array;
}
}  // namespace detail

// text[] of n elements; view(i) gives element i as a std::string_view.
template <typename View>
ArrayType *text_array(std::size_t n, View view) {
	if (n == 0)
		return construct_empty_array(TEXTOID);
	Size bytes = ARR_OVERHEAD_NONULLS(1);
	for (std::size_t i = 0; i < n; ++i)
		bytes += INTALIGN(VARHDRSZ + view(i).size());
	ArrayType *array = detail::array_header(TEXTOID, n, bytes);
	char *p = ARR_DATA_PTR(array);
	for (std::size_t i = 0; i < n; ++i) {
		const std::string_view v = view(i);
		SET_VARSIZE(p, VARHDRSZ + v.size());
		memcpy(VARDATA(p), v.data(), v.size());
		p += INTALIGN(VARHDRSZ + v.size());
	}
	return array;
}

// text[] of n elements, some NULL: view(i) gives element i, or nullopt for NULL.
template <typename View>
ArrayType *nullable_text_array(std::size_t n, View view) {
	if (n == 0)
		return construct_empty_array(TEXTOID);
	bool any_null = false;
	Size data = 0;
	for (std::size_t i = 0; i < n; ++i) {
		const auto v = view(i);
		if (v)
			data += INTALIGN(VARHDRSZ + v->size());
		else
			any_null = true;
	}
	if (!any_null)
		return text_array(n, [&](std::size_t i) { return *view(i); });
	const Size overhead = ARR_OVERHEAD_WITHNULLS(1, static_cast<int>(n));
	ArrayType *array = detail::array_header(TEXTOID, n, overhead + data);
	array->dataoffset = static_cast<int32>(overhead);
	bits8 *bitmap = ARR_NULLBITMAP(array);  // zeroed: every element NULL until set
	char *p = ARR_DATA_PTR(array);
	for (std::size_t i = 0; i < n; ++i) {
		const auto v = view(i);
		if (!v)
			continue;
		bitmap[i / 8] |= static_cast<bits8>(1 << (i % 8));
		SET_VARSIZE(p, VARHDRSZ + v->size());
		memcpy(VARDATA(p), v->data(), v->size());
		p += INTALIGN(VARHDRSZ + v->size());
	}
	return array;
}

// An array of n elements of a fixed-size, pass-by-value type T (int4, int8, xid); value(i)
// gives element i.
template <typename T, typename Value>
ArrayType *value_array(Oid type, std::size_t n, Value value) {
	if (n == 0)
		return construct_empty_array(type);
	ArrayType *array = detail::array_header(type, n, ARR_OVERHEAD_NONULLS(1) + sizeof(T) * n);
	T *out = reinterpret_cast<T *>(ARR_DATA_PTR(array));
	for (std::size_t i = 0; i < n; ++i)
		out[i] = value(i);
	return array;
}

}  // namespace outreach::pg
