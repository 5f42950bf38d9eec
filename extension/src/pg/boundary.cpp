#include "../core/error.hpp"  // core first: it must compile without PostgreSQL's headers

#include <cstring>
#include <new>

#include "boundary.hpp"

extern "C" {
#include "utils/builtins.h"
}

namespace outreach::pg {
namespace {

void copy_text(char *dst, std::size_t cap, const char *src) noexcept {
	std::size_t n = std::strlen(src);
	if (n >= cap)
		n = cap - 1;
	std::memcpy(dst, src, n);
	dst[n] = '\0';
}

}  // namespace

Datum invoke(PGFunction body, FunctionCallInfo fcinfo) {
	// Only plain buffers live in this frame, so the ereport() below may longjmp over it.
	// Nothing is allocated inside the catch blocks: an allocation failure there would longjmp
	// out of a handler with an exception still alive.
	char code[6] = "XX000";
	char message[1024] = "";
	char detail[1024] = "";
	char hint[1024] = "";
	ErrorData *pg_error = nullptr;
	sigjmp_buf *saved_exception_stack = PG_exception_stack;
	ErrorContextCallback *saved_context_stack = error_context_stack;
	try {
		return body(fcinfo);
	} catch (const PgError &e) {
		pg_error = e.data();
	} catch (const outreach::Error &e) {
		copy_text(code, sizeof code, e.sqlstate());
		copy_text(message, sizeof message, e.what());
		copy_text(detail, sizeof detail, e.detail().c_str());
		copy_text(hint, sizeof hint, e.hint().c_str());
	} catch (const std::bad_alloc &) {
		copy_text(code, sizeof code, "53200");
		copy_text(message, sizeof message, "out of memory");
	} catch (const std::exception &e) {
		copy_text(message, sizeof message, e.what());
	} catch (...) {
		copy_text(message, sizeof message, "unexpected C++ exception");
	}
	// A C++ exception thrown inside a PG_TRY block would leave these pointing at a dead frame.
	PG_exception_stack = saved_exception_stack;
	error_context_stack = saved_context_stack;
	if (pg_error)
		ReThrowError(pg_error);
	ereport(ERROR, (errcode(MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4])), errmsg_internal("%s", message),
	                detail[0] ? errdetail_internal("%s", detail) : 0, hint[0] ? errhint("%s", hint) : 0));
	pg_unreachable();
}

std::string_view text_arg(FunctionCallInfo fcinfo, int n) {
	Datum d = PG_GETARG_DATUM(n);
	struct varlena *v = reinterpret_cast<struct varlena *>(DatumGetPointer(d));
	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))  // toasted or compressed: detoasting allocates
		v = guard([&] { return pg_detoast_datum_packed(v); });
	return std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

Datum text_result(std::string_view s) {
	return guard([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
}

Datum cstring_result(std::string_view s) {
	return guard([&] {
		char *out = static_cast<char *>(palloc(s.size() + 1));
		memcpy(out, s.data(), s.size());
		out[s.size()] = '\0';
		return CStringGetDatum(out);
	});
}

void *palloc_guarded(Size size) {
	return guard([&] { return palloc(size); });
}

}  // namespace outreach::pg
