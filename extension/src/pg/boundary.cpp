#include "../core/error.hpp"  // core first: it must compile without PostgreSQL's headers

#include <cstring>
#include <new>
#include <string>

#include "boundary.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

namespace outreach::pg {

namespace detail {

int live_errors = 0;
MemoryContext error_copies = nullptr;

MemoryContext error_copy_context() noexcept {
	// (an AllocSet reset cannot raise; the context exists from _PG_init() on)
	if (live_errors <= 0) {
		live_errors = 0;
		MemoryContextReset(error_copies);
	}
	return error_copies;
}

}  // namespace detail

namespace {

// At the end of every transaction no body of ours is running, so no copy can be in use; a
// PgError lost to a longjmp (never destroyed) would otherwise keep the copies forever.
void reset_error_copies(XactEvent event, void *) {
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
	    event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE) {
		detail::live_errors = 0;
		MemoryContextReset(detail::error_copies);
	}
}

void copy_text(char *dst, std::size_t cap, const char *src) noexcept {
	std::size_t n = std::strlen(src);
	if (n >= cap)
		n = cap - 1;
	std::memcpy(dst, src, n);
	dst[n] = '\0';
}

// The error to raise, copied out of an exception. Deliberately left uninitialised until an
// error occurs: invoke() wraps every SQL call, and zero-filling 3 KB per call was a third of
// the cost of a cheap function such as expected_he_entry_year().
struct ErrorReport {
	char code[6];
	char message[1024];
	char detail[1024];
	char hint[1024];

	void set(const char *c, const char *m, const char *d, const char *h) noexcept {
		copy_text(code, sizeof code, c);
		copy_text(message, sizeof message, m);
		copy_text(detail, sizeof detail, d);
		copy_text(hint, sizeof hint, h);
	}
};

}  // namespace

void init_boundary() {
	if (detail::error_copies)
		return;
	// 16 kB kept across resets: an ordinary error is copied without asking malloc for memory.
	detail::error_copies = AllocSetContextCreate(TopMemoryContext, "outreach error copies", 16 * 1024, 16 * 1024,
	                                             ALLOCSET_DEFAULT_MAXSIZE);
	RegisterXactCallback(reset_error_copies, nullptr);
}

Datum invoke(PGFunction body, FunctionCallInfo fcinfo) {
	// Only plain buffers live in this frame, so the ereport() below may longjmp over it.
	// Nothing is allocated inside the catch blocks: an allocation failure there would longjmp
	// out of a handler with an exception still alive.
	ErrorReport report;
	ErrorData *pg_error = nullptr;
	sigjmp_buf *saved_exception_stack = PG_exception_stack;
	ErrorContextCallback *saved_context_stack = error_context_stack;
	try {
		return body(fcinfo);
	} catch (const PgError &e) {
		pg_error = e.data();
	} catch (const outreach::Error &e) {
		report.set(e.sqlstate(), e.what(), e.detail().c_str(), e.hint().c_str());
	} catch (const std::bad_alloc &) {
		report.set("53200", "out of memory", "", "");
	} catch (const std::exception &e) {
		report.set("XX000", e.what(), "", "");
	} catch (...) {
		report.set("XX000", "unexpected C++ exception", "", "");
	}
	// A C++ exception thrown inside a PG_TRY block would leave these pointing at a dead frame.
	PG_exception_stack = saved_exception_stack;
	error_context_stack = saved_context_stack;
	// pg_error lives in the copies' context, which is not emptied before ReThrowError() has
	// copied it into ErrorContext: nothing between here and there catches another error.
	if (pg_error)
		ReThrowError(pg_error);
	const char *c = report.code;
	ereport(ERROR, (errcode(MAKE_SQLSTATE(c[0], c[1], c[2], c[3], c[4])), errmsg_internal("%s", report.message),
	                report.detail[0] ? errdetail_internal("%s", report.detail) : 0,
	                report.hint[0] ? errhint("%s", report.hint) : 0));
	pg_unreachable();
}

std::string_view text_arg(FunctionCallInfo fcinfo, int n) {
	Datum d = PG_GETARG_DATUM(n);
	struct varlena *v = reinterpret_cast<struct varlena *>(DatumGetPointer(d));
	// Out of line (an 18-byte TOAST pointer, which also counts as "short") or compressed: fetch
	// the value; a short in-line header is read as it is. Detoasting allocates, hence guard().
	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		v = guard([&] { return pg_detoast_datum_packed(v); });
	return std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

void check_varlena_size(std::size_t size) {
	if (size > MaxAllocSize - VARHDRSZ - 1)
		throw outreach::Error("54000", "result of " + std::to_string(size) + " bytes exceeds the 1 GB a value can hold");
}

Datum text_result(std::string_view s) {
	check_varlena_size(s.size());  // then the size fits an int
	return guard([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
}

Datum cstring_result(std::string_view s) {
	check_varlena_size(s.size());
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
