// Members' participant files: outreach.participant_import_lines(content, date_format, today,
// frame_fields, frame_keys, frame_values) reads a file (any of the encodings of
// core/text_encoding), maps its header (core/import_header: 22P04 when a required field has no
// column or a field two), chooses its date order (core/import_dates: 22007 when ambiguous) and
// checks every line (core/participant_lines), returning a row per line: 'ok' with its typed
// values, or 'error' with the reason; and 'note' rows for the file (line 0: encoding and date
// format) and its ignored columns (line 1). outreach.import_participants()
// (extension/sql/current/58_member_import.sql) writes what it returns.
// outreach.record_import_lines(kind, content, date_format) does the same for activities and
// attendance files (core/record_lines), each line's fields as text.
//
// Progress: import_progress_begin/end report an import through PostgreSQL's progress view of
// COPY (an import is a copy into a table): bytes and lines read, bad lines, and in parameters
// 11-14 the import, member, phase and line count, which outreach.import_progress shows to the
// member's roles. The lines' count is updated every 4096 lines.
#include "../core/csv.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"
#include "../core/import_dates.hpp"
#include "../core/import_header.hpp"
#include "../core/participant_lines.hpp"
#include "../core/record_lines.hpp"
#include "../core/text_encoding.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "boundary.hpp"
#include "dates.hpp"

extern "C" {
#include "commands/progress.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/backend_progress.h"
#include "utils/tuplestore.h"
}

namespace csv = outreach::csv;
namespace pl = outreach::participant_lines;
namespace rl = outreach::record_lines;
namespace ih = outreach::import_header;
namespace idates = outreach::import_dates;
namespace enc = outreach::text_encoding;
using outreach::pg::guard;

namespace {

// Progress parameters beyond COPY's own (commands/progress.h uses 0-5).
constexpr int progress_import_id = 10, progress_controller = 11, progress_phase = 12, progress_lines = 13;

// This backend's import, published again with every update: statements inside the import
// (the temporary tables' TOAST indexes) report their own progress into the same slots
// (CREATE INDEX uses 10-12) while the backend's command stays COPY.
struct Published {
	int64 import_id = 0, controller_id = 0, phase = 0, lines_total = 0;
} published;

// Updates count parameters (index, values) together with the import's own.
void publish(int count, const int *index, const int64 *values) {
	int all_index[8];
	int64 all_values[8];
	const int own_index[] = {progress_import_id, progress_controller, progress_phase, progress_lines};
	const int64 own_values[] = {published.import_id, published.controller_id, published.phase, published.lines_total};
	int n = 0;
	for (int i = 0; i < 4; ++i)
		all_index[n] = own_index[i], all_values[n++] = own_values[i];
	for (int i = 0; i < count && n < 8; ++i)
		all_index[n] = index[i], all_values[n++] = values[i];
	pgstat_progress_update_multi_param(n, all_index, all_values);
}

constexpr int n_columns = 19;

// The coding frames, from three parallel arrays: field, key (lower case), value stored (NULL:
// stored as nothing).
pl::Frames frames_arg(FunctionCallInfo fcinfo, int first) {
	pl::Frames frames;
	std::vector<std::optional<std::string>> cols[3];
	for (int a = 0; a < 3; ++a) {
		if (PG_ARGISNULL(first + a))
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "participant_import_lines: frames are required");
		const Datum d = PG_GETARG_DATUM(first + a);
		guard([&] {
			ArrayType *arr = DatumGetArrayTypeP(d);
			Datum *elems;
			bool *nulls;
			int n;
			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (int i = 0; i < n; ++i) {
				if (nulls[i]) {
					cols[a].emplace_back(std::nullopt);
				} else {
					text *t = DatumGetTextPP(elems[i]);
					cols[a].emplace_back(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
				}
			}
		});
	}
	if (cols[0].size() != cols[1].size() || cols[0].size() != cols[2].size())
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "participant_import_lines: frame arrays differ in length");
	for (std::size_t i = 0; i < cols[0].size(); ++i) {
		if (!cols[0][i] || !cols[1][i])
			continue;
		const std::string &field = *cols[0][i];
		pl::Frame *f = field == "sex" ? &frames.sex
					   : field == "gender_identity" ? &frames.gender_identity
					   : field == "ethnicity" ? &frames.ethnicity
					   : field == "disability" ? &frames.disability
					   : field == "religion" ? &frames.religion
										   : nullptr;
		if (f)
			f->emplace(*cols[1][i], cols[2][i]);
	}
	return frames;
}

// The memory one result row is built in, emptied once the row is stored (the tuplestore copies
// it): otherwise every row's texts would stay allocated until the function returns (hundreds of
// megabytes for a file of a million lines).
class RowMemory {
public:
	RowMemory()
		: ctx_(guard([] { return AllocSetContextCreate(CurrentMemoryContext, "outreach import row", ALLOCSET_SMALL_SIZES); })) {}
	// Runs f (which calls PostgreSQL and holds no object with a destructor) in the row's memory.
	template <typename F>
	void row(F f) {
		guard([&] {
			MemoryContext caller = MemoryContextSwitchTo(ctx_);
			f();
			MemoryContextSwitchTo(caller);
			MemoryContextReset(ctx_);
		});
	}

private:
	MemoryContext ctx_;
};

class Output {
public:
	explicit Output(ReturnSetInfo *rsinfo) : rsinfo_(rsinfo) {}

	void note(int line_no, const std::string &text) { put(line_no, "note", &text, nullptr); }
	void error(int line_no, const std::string &reason) { put(line_no, "error", &reason, nullptr); }
	void good(int line_no, const pl::Row &row) { put(line_no, "ok", nullptr, &row); }

private:
	static Datum text_datum(std::string_view s) { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); }

	void put(int line_no, const char *status, const std::string *reason, const pl::Row *row) {
		memory_.row([&] {
			Datum v[n_columns];
			bool isnull[n_columns];
			for (int i = 0; i < n_columns; ++i)
				isnull[i] = true;
			auto set_text = [&](int i, std::string_view s) { v[i] = text_datum(s), isnull[i] = false; };
			auto set_opt = [&](int i, const std::optional<std::string> &s) {
				if (s)
					set_text(i, *s);
			};
			auto set_int = [&](int i, const std::optional<int> &n) {
				if (n)
					v[i] = Int32GetDatum(*n), isnull[i] = false;
			};
			v[0] = Int32GetDatum(line_no), isnull[0] = false;
			set_text(1, status);
			if (reason)
				set_text(2, *reason);
			if (row) {
				set_text(3, row->external_ref);
				set_text(4, row->first_name);
				set_text(5, row->last_name);
				// (checked against 1900-01-01 and today: within the date type)
				v[6] = DateADTGetDatum(date2j(row->date_of_birth.year, row->date_of_birth.month, row->date_of_birth.day) -
									   POSTGRES_EPOCH_JDATE);
				isnull[6] = false;
				set_opt(7, row->postcode);
				set_opt(8, row->sex);
				set_opt(9, row->gender_identity);
				set_opt(10, row->ethnicity);
				set_opt(11, row->disability);
				set_opt(12, row->religion);
				set_int(13, row->school_urn);
				set_int(14, row->school_ukprn);
				set_opt(15, row->upn);
				set_opt(16, row->uln);
				set_int(17, row->override_year);
				set_opt(18, row->override_reason);
			}
			tuplestore_putvalues(rsinfo_->setResult, rsinfo_->setDesc, v, isnull);  // copies the row
		});
	}

	ReturnSetInfo *rsinfo_;
	RowMemory memory_;
};

[[noreturn]] void bad_header(const std::string &message, const std::string &detail = {}, const std::string &hint = {}) {
	throw outreach::Error("22P04", message, detail, hint);
}

// The next record, as CsvReader reads it, except after a stray quote. A quoted field may hold
// line breaks, so CsvReader reads on to the next quote, which in a member's file is often the
// next line's stray quote: every line between would be lost, neither reported nor imported.
// So a record that runs over several physical lines and is bad (a CSV error, or not as many
// fields as the header) is reported as its first line's fault, and reading goes on at the
// next physical line: one stray quote loses one line.
bool next_record(csv::CsvReader &reader, std::string_view text, csv::CsvRecord &rec, std::size_t n_fields) {
	const std::size_t start = reader.position();
	if (!reader.next(rec))
		return false;
	const bool several_lines = reader.line() > rec.line_no + 1 || (!rec.ok() && rec.error.rfind("unterminated", 0) == 0);
	if (several_lines && (!rec.ok() || rec.fields.size() != n_fields)) {
		rec.error = "a quote opened on this line does not close on it (the line is skipped; reading goes on at the next)";
		rec.fields.clear();
		const std::size_t lf = text.find('\n', start);
		reader = lf == std::string_view::npos ? csv::CsvReader(text, text.size(), rec.line_no + 1)
											  : csv::CsvReader(text, lf + 1, rec.line_no + 1);
	}
	return true;
}

std::string joined(const std::vector<std::string> &items) {
	std::string out;
	for (const auto &s : items)
		out += (out.empty() ? "" : ", ") + s;
	return out;
}

// A member's file as it is read for any kind: decoded, its header mapped (22P04 when unusable),
// its date order chosen from the kind's date columns (22007 when ambiguous), the notes written;
// then each line handed to a check, with the progress reported.
class MemberFile {
public:
	MemberFile(std::string_view bytes, ih::Kind kind, const char *kind_name)
		: bytes_(bytes), kind_(kind), kind_name_(kind_name), encoding_(enc::decide(bytes)), text_(enc::to_utf8(bytes, encoding_)) {
		csv::CsvReader reader(text_);
		csv::CsvRecord rec;
		if (!reader.next(rec))
			bad_header("the file is empty: no header line");
		if (!rec.ok())
			bad_header("the header line cannot be read: " + rec.error);
		header_ = rec.fields;
		mapping_ = ih::map(kind, header_);
		if (!mapping_.usable()) {
			std::string message = std::string("the header cannot be used for ") + kind_name + ":";
			if (!mapping_.missing.empty())
				message += " no column for " + joined(mapping_.missing);
			if (!mapping_.duplicated.empty())
				message += std::string(mapping_.missing.empty() ? "" : ";") + " given twice: " + joined(mapping_.duplicated);
			bad_header(message, "the header: " + joined(header_).substr(0, 500),
					   "docs/import.md lists the columns and the names each may have.");
		}
		body_start_ = reader.position();
		body_line_ = reader.line();
	}

	const std::vector<std::string> &header() const { return header_; }
	const ih::Mapping &mapping() const { return mapping_; }

	// The date order, from every value of the kind's date columns.
	std::optional<idates::Order> choose_order(std::optional<std::string_view> given) {
		idates::Tally tally;
		std::vector<int> columns;
		for (int f : rl::date_fields(kind_))
			if (mapping_.column_of[static_cast<std::size_t>(f)] >= 0)
				columns.push_back(mapping_.column_of[static_cast<std::size_t>(f)]);
		csv::CsvReader reader(text_, body_start_, body_line_);
		csv::CsvRecord rec;
		std::int64_t read = 0;
		while (next_record(reader, text_, rec, header_.size())) {
			if (rec.ok())
				for (int c : columns) {
					const std::string_view v = pl::value(rec.fields, c);
					if (!v.empty())
						idates::count(v, tally);
				}
			if ((++read & 4095) == 0)
				guard([] { CHECK_FOR_INTERRUPTS(); });
		}
		return idates::choose(tally, given);
	}

	// Notes for line 0 (encoding, date order) and 1 (ignored columns).
	template <typename Note>
	void notes(std::optional<idates::Order> order, Note note) const {
		note(0, std::string("read as ") + enc::name(encoding_) + "; dates as " + idates::format_name(order));
		for (std::size_t i = 0; i < mapping_.unknown.size(); ++i)
			note(1, "column \"" + mapping_.unknown[i].substr(0, 100) + "\" (position " +
						std::to_string(mapping_.unknown_positions[i]) + ") is not a field of " + kind_name_ + ": ignored");
	}

	// Calls line(record) for each record after the header (a record that did not parse, or a
	// truncated last line, is given with its error set); line returns whether it was bad.
	template <typename Line>
	void each_line(Line line) {
		// The total, for the progress report: the physical lines after the header (records with
		// line breaks inside make it an upper bound).
		published.lines_total = static_cast<int64>(std::count(text_.begin() + static_cast<std::ptrdiff_t>(body_start_), text_.end(), '\n'));
		csv::CsvReader lines(text_, body_start_, body_line_);
		csv::CsvRecord rec;
		std::int64_t done = 0, bad = 0;
		while (next_record(lines, text_, rec, header_.size())) {
			++done;
			if (rec.ok() && !rec.terminated && rec.fields.size() < header_.size()) {
				rec.error = "the last line ends after " + std::to_string(rec.fields.size()) + " of " +
							std::to_string(header_.size()) + " fields (truncated file?)";
				rec.fields.clear();
			}
			bad += line(rec) ? 1 : 0;
			if ((done & 4095) == 0)
				guard([&] {
					CHECK_FOR_INTERRUPTS();
					const int index[] = {PROGRESS_COPY_BYTES_PROCESSED, PROGRESS_COPY_TUPLES_PROCESSED, PROGRESS_COPY_TUPLES_EXCLUDED};
					const int64 values[] = {static_cast<int64>(lines.position()), done, bad};
					publish(3, index, values);
				});
		}
		guard([&] {
			published.lines_total = done;
			const int index[] = {PROGRESS_COPY_BYTES_PROCESSED, PROGRESS_COPY_TUPLES_PROCESSED, PROGRESS_COPY_TUPLES_EXCLUDED};
			const int64 values[] = {static_cast<int64>(bytes_.size()), done, bad};
			publish(3, index, values);
		});
	}

private:
	std::string_view bytes_;
	ih::Kind kind_;
	const char *kind_name_;
	enc::Encoding encoding_;
	std::string text_;
	std::vector<std::string> header_;
	ih::Mapping mapping_;
	std::size_t body_start_ = 0;
	int body_line_ = 1;
};

std::string_view bytes_arg(FunctionCallInfo fcinfo, int n) {
	const Datum d = PG_GETARG_DATUM(n);
	auto *raw = guard([&] { return pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(d))); });
	return std::string_view(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
}

std::optional<std::string> optional_text(FunctionCallInfo fcinfo, int n) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	return std::string(outreach::pg::text_arg(fcinfo, n));
}

}  // namespace

OUTREACH_FUNCTION(participant_import_lines) {
	for (int i : {0, 2})
		if (PG_ARGISNULL(i))
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value,
								  "participant_import_lines: content and today are required");
	const std::string_view bytes = bytes_arg(fcinfo, 0);
	const std::optional<std::string> date_format = optional_text(fcinfo, 1);
	const outreach::CivilDate today = outreach::pg::civil_date(PG_GETARG_DATEADT(2), "today must be a finite date");
	const pl::Frames frames = frames_arg(fcinfo, 3);

	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	guard([&] { InitMaterializedSRF(fcinfo, 0); });  // raises when the caller cannot take a materialized set
	Output out(rsinfo);

	MemberFile file(bytes, ih::Kind::participants, "participants");
	std::optional<std::string_view> given;
	if (date_format)
		given = *date_format;
	const std::optional<idates::Order> order = file.choose_order(given);
	file.notes(order, [&](int line, const std::string &text) { out.note(line, text); });
	pl::Checker checker(file.mapping(), file.header(), frames, order, today);
	pl::Row row;
	file.each_line([&](const csv::CsvRecord &rec) {
		if (!rec.ok()) {
			out.error(rec.line_no, rec.error);
			return true;
		}
		checker.check(rec.fields, rec.line_no, row);
		if (!row.problem.empty()) {
			out.error(rec.line_no, row.problem);
			return true;
		}
		out.good(rec.line_no, row);
		return false;
	});
	return (Datum)0;
}

// record_import_lines(kind, content, date_format): an activities or attendance file, a row per
// line: (line_no, status, reason, fields text[]) with the fields in import_header's order.
OUTREACH_FUNCTION(record_import_lines) {
	for (int i : {0, 1})
		if (PG_ARGISNULL(i))
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "record_import_lines: kind and content are required");
	const ih::Kind kind = ih::kind_of(outreach::pg::text_arg(fcinfo, 0));
	if (kind == ih::Kind::participants)
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "record_import_lines: activities or attendance");
	const std::string_view bytes = bytes_arg(fcinfo, 1);
	const std::optional<std::string> date_format = optional_text(fcinfo, 2);
	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	guard([&] { InitMaterializedSRF(fcinfo, 0); });

	RowMemory memory;
	Datum items[16];  // a row's fields (import_header's kinds have at most 16)
	bool item_nulls[16];
	auto put = [&](int line_no, const char *status, const std::string *reason, const rl::Row *row) {
		memory.row([&] {
			Datum v[4];
			bool isnull[4] = {false, false, reason == nullptr, row == nullptr};
			v[0] = Int32GetDatum(line_no);
			v[1] = PointerGetDatum(cstring_to_text(status));
			if (reason)
				v[2] = PointerGetDatum(cstring_to_text_with_len(reason->data(), static_cast<int>(reason->size())));
			if (row) {
				const int n = static_cast<int>(std::min<std::size_t>(row->values.size(), 16));
				for (int i = 0; i < n; ++i) {
					item_nulls[i] = !row->values[i];
					items[i] = row->values[i] ? PointerGetDatum(cstring_to_text_with_len(row->values[i]->data(),
																						  static_cast<int>(row->values[i]->size())))
											  : (Datum)0;
				}
				int dims[1] = {n};
				int lbs[1] = {1};
				v[3] = PointerGetDatum(construct_md_array(items, item_nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, isnull);
		});
	};
	const char *name = kind == ih::Kind::activities ? "activities" : "attendance";
	MemberFile file(bytes, kind, name);
	std::optional<std::string_view> given;
	if (date_format)
		given = *date_format;
	const std::optional<idates::Order> order = file.choose_order(given);
	file.notes(order, [&](int line, const std::string &text) { put(line, "note", &text, nullptr); });
	rl::Checker checker(kind, file.mapping(), file.header(), order);
	rl::Row row;
	file.each_line([&](const csv::CsvRecord &rec) {
		if (!rec.ok()) {
			put(rec.line_no, "error", &rec.error, nullptr);
			return true;
		}
		checker.check(rec.fields, rec.line_no, row);
		if (!row.problem.empty()) {
			put(rec.line_no, "error", &row.problem, nullptr);
			return true;
		}
		put(rec.line_no, "ok", nullptr, &row);
		return false;
	});
	return (Datum)0;
}

// import_progress_begin(import_id, controller_id, relation, bytes): this backend reports an
// import (phase 1, reading). import_progress_phase(phase, lines_written): 2 writing, 3 done.
OUTREACH_FUNCTION(import_progress_begin) {
	for (int i = 0; i < 4; ++i)
		if (PG_ARGISNULL(i))
			throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "import_progress_begin: arguments are required");
	const int64 import_id = PG_GETARG_INT64(0);
	const int32 controller_id = PG_GETARG_INT32(1);
	const Oid relation = PG_GETARG_OID(2);
	const int64 size = PG_GETARG_INT64(3);
	guard([&] {
		pgstat_progress_start_command(PROGRESS_COMMAND_COPY, relation);
		published = Published{import_id, controller_id, 1, 0};
		const int index[] = {PROGRESS_COPY_COMMAND, PROGRESS_COPY_TYPE, PROGRESS_COPY_BYTES_TOTAL};
		const int64 values[] = {PROGRESS_COPY_COMMAND_FROM, PROGRESS_COPY_TYPE_CALLBACK, size};
		publish(3, index, values);
	});
	PG_RETURN_VOID();
}

OUTREACH_FUNCTION(import_progress_phase) {
	const int64 phase = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT32(0);
	const int64 written = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	guard([&] {
		if (phase >= 3) {
			published = Published{};
			pgstat_progress_end_command();
			return;
		}
		published.phase = phase;
		const int index[] = {PROGRESS_COPY_TUPLES_PROCESSED};
		const int64 values[] = {written};
		publish(phase == 2 ? 1 : 0, index, values);
	});
	PG_RETURN_VOID();
}
