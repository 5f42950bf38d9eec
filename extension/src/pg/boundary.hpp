// The C++ / PostgreSQL boundary. Every SQL-callable function is declared with
// OUTREACH_FUNCTION, whose C-linkage shim runs the C++ body inside invoke(): C++ exceptions are
// caught there and re-raised as PostgreSQL errors only after the catch block has ended, so no
// exception crosses into PostgreSQL and no ereport() longjmp crosses a live C++ destructor.
// Calls from C++ into PostgreSQL that may raise an error go through guard(), which turns the
// error into a C++ exception (PgError) so destructors run, and invoke() re-throws the original
// ErrorData with its SQLSTATE, detail, hint and context intact.
#pragma once

// Standard headers first: postgres.h redefines names such as snprintf.
#include <exception>
#include <string_view>
#include <type_traits>

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
}

namespace outreach::pg {

// A PostgreSQL error caught by guard(); owns a copy of the ErrorData in the caller's context.
class PgError : public std::exception {
public:
	explicit PgError(ErrorData *data) : data_(data) {}
	const char *what() const noexcept override { return data_ && data_->message ? data_->message : "PostgreSQL error"; }
	ErrorData *data() const noexcept { return data_; }

private:
	ErrorData *data_;
};

Datum invoke(PGFunction body, FunctionCallInfo fcinfo);

// Runs f, a lambda that calls PostgreSQL and holds no object with a destructor itself. A
// PostgreSQL error inside f becomes a PgError thrown once the PG_TRY block has been left.
template <typename F>
auto guard(F &&f) -> decltype(f()) {
	using Result = decltype(f());
	MemoryContext caller_context = CurrentMemoryContext;
	// volatile: both may be read after the longjmp back into PG_TRY's sigsetjmp.
	ErrorData *volatile error = nullptr;
	if constexpr (std::is_void_v<Result>) {
		PG_TRY();
		{ f(); }
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller_context);
			error = CopyErrorData();
			FlushErrorState();
		}
		PG_END_TRY();
		if (error)
			throw PgError(error);
	} else {
		static_assert(std::is_scalar_v<Result>, "guard() returns Datums, pointers or numbers");
		volatile Result result{};
		PG_TRY();
		{ result = f(); }
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller_context);
			error = CopyErrorData();
			FlushErrorState();
		}
		PG_END_TRY();
		if (error)
			throw PgError(error);
		return result;
	}
}

// Argument and result helpers: the only places bodies touch varlena memory.
std::string_view text_arg(FunctionCallInfo fcinfo, int n);
Datum text_result(std::string_view s);
Datum cstring_result(std::string_view s);
void *palloc_guarded(Size size);

}  // namespace outreach::pg

#define OUTREACH_FUNCTION(name)                                                                  \
	static Datum name##_body(FunctionCallInfo fcinfo);                                           \
	extern "C" {                                                                                 \
	PG_FUNCTION_INFO_V1(name);                                                                   \
	Datum name(PG_FUNCTION_ARGS) { return outreach::pg::invoke(name##_body, fcinfo); }           \
	}                                                                                            \
	static Datum name##_body(FunctionCallInfo fcinfo)
