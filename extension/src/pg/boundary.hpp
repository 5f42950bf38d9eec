// The C++ / PostgreSQL boundary. Every SQL-callable function is declared with
// OUTREACH_FUNCTION, whose C-linkage shim runs the C++ body inside invoke(): C++ exceptions are
// caught there and re-raised as PostgreSQL errors only after the catch block has ended, so no
// exception crosses into PostgreSQL and no ereport() longjmp crosses a live C++ destructor.
// Calls from C++ into PostgreSQL that may raise an error go through guard(), which turns the
// error into a C++ exception (PgError) so destructors run, and invoke() re-throws the original
// ErrorData with its SQLSTATE, detail, hint and context intact.
//
// Who owns a copied error: guard() copies the ErrorData into one memory context of the
// backend's own, "outreach error copies" (a child of TopMemoryContext made when the library is
// loaded), never into the context current where the error was caught. That context may be an
// executor's (guard() runs inside DestReceiver callbacks, see outcome_import.cpp) and be freed
// when the query ends, before invoke() re-throws the error; the copies' context lives until
// ReThrowError() has copied the error into PostgreSQL's ErrorContext. It is emptied when a new
// error is caught while no PgError object exists any more (counted by PgError itself), and at
// the end of every transaction, so it holds at most the errors still on their way out: no leak
// however many errors a session catches. Its first 16 kB are kept across resets, so copying an
// error of ordinary size needs no allocation, also after an out-of-memory error.
#pragma once

// Standard headers first: postgres.h redefines names such as snprintf.
#include <cstddef>
#include <exception>
#include <string_view>
#include <type_traits>

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
}

namespace outreach::pg {

namespace detail {
// PgError objects alive (thrown, stored in an exception_ptr, being caught): while there are
// any, the copies' context is not emptied.
extern int live_errors;
// The context guard() copies a caught error into; emptied first when no copy is in use.
// Cannot raise.
MemoryContext error_copy_context() noexcept;
}  // namespace detail

// Makes the context error copies live in, and registers its reset at transaction end. Called
// once, from _PG_init().
void init_boundary();

// A PostgreSQL error caught by guard(): a copy of its ErrorData in the copies' context (see
// above), valid for as long as a PgError refers to it and until invoke() has re-thrown it.
class PgError : public std::exception {
public:
	explicit PgError(ErrorData *data) noexcept : data_(data) { ++detail::live_errors; }
	PgError(const PgError &other) noexcept : std::exception(other), data_(other.data_) { ++detail::live_errors; }
	PgError &operator=(const PgError &other) noexcept {
		data_ = other.data_;
		return *this;
	}
	~PgError() override { --detail::live_errors; }
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
			MemoryContextSwitchTo(detail::error_copy_context());
			error = CopyErrorData();
			FlushErrorState();
			MemoryContextSwitchTo(caller_context);
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
			MemoryContextSwitchTo(detail::error_copy_context());
			error = CopyErrorData();
			FlushErrorState();
			MemoryContextSwitchTo(caller_context);
		}
		PG_END_TRY();
		if (error)
			throw PgError(error);
		return result;
	}
}

// Argument and result helpers: the only places bodies touch varlena memory. The results are
// made in the current memory context (the function call's); one longer than a varlena can
// hold is refused with 54000 before any size is narrowed to int.
std::string_view text_arg(FunctionCallInfo fcinfo, int n);
// Throws outreach::Error 54000 when size bytes do not fit a varlena (1 GB).
void check_varlena_size(std::size_t size);
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
