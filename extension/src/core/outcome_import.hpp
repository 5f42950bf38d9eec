// What import_outcomes() decides about an outcome file once its lines are checked
// (outcome_lines): which participant each line is about (its reference, through the ledger),
// whether that participant may have outcomes stored (still held, not withdrawn, not
// restricted), which lines repeat an earlier one, and how the good lines change the outcome
// facts already held, block by block (extension/sql/current/54_outcomes.sql, outreach.outcome_block).
//
// The glue (src/pg/outcome_import.cpp) feeds it: the file's lines, every (reference,
// participant) pair of the recipient's ledger, the status of every participant of the members
// concerned, and the held facts of each block the file touches. Nothing here knows PostgreSQL.
//
// Statuses and messages are 0.4.0's, in its order: the line's own problem; a reference never
// sent (malformed: rejected; else unknown_reference); a participant deleted since
// (unknown_reference), withdrawn or restricted (rejected); then, among the lines left, a
// repeat of an earlier line's fact (participant, kind, year, measure, UKPRN): with the same
// value and provider name a duplicate, otherwise a conflict (rejected).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "outcome_lines.hpp"
#include "pseudonym.hpp"

namespace outreach::outcome_import {

// The outcome kinds, in byte order (the order facts are kept in).
inline constexpr std::string_view kinds[] = {"continuation", "he_application", "he_entry", "ks4", "ks5"};
// The index of a kind in kinds; -1 when it is none of them.
int kind_index(std::string_view kind) noexcept;

// Stable copies of strings (the views stay valid as long as the arena).
class Arena {
public:
	std::string_view copy(std::string_view s);

private:
	std::vector<std::unique_ptr<char[]>> chunks_;
	std::size_t left_ = 0;
	char *next_ = nullptr;
};

// Zero-filled memory straight from the kernel (mmap), huge pages advised; sizes rounded up to
// 2 MB. zeroed_pages throws std::bad_alloc.
std::size_t zeroed_pages_size(std::size_t bytes) noexcept;
void *zeroed_pages(std::size_t bytes);
void free_zeroed_pages(void *p, std::size_t bytes) noexcept;

// A table of n trivially copyable slots, zero-filled, in pages the kernel may back with huge
// pages (the hash tables of a million-line file are 100 MB probed at random: with 4 kB pages
// most probes would also miss the TLB).
template <typename T>
class ZeroedTable {
public:
	ZeroedTable() = default;
	ZeroedTable(const ZeroedTable &) = delete;
	ZeroedTable &operator=(const ZeroedTable &) = delete;
	~ZeroedTable() { release(); }
	void reset(std::size_t n) {
		release();
		bytes_ = map_bytes(n * sizeof(T));
		data_ = static_cast<T *>(map_zeroed(bytes_));
		size_ = n;
	}
	std::size_t size() const noexcept { return size_; }
	bool empty() const noexcept { return size_ == 0; }
	T &operator[](std::size_t i) noexcept { return data_[i]; }
	const T &operator[](std::size_t i) const noexcept { return data_[i]; }
	const T *data() const noexcept { return data_; }

private:
	static std::size_t map_bytes(std::size_t bytes) noexcept { return zeroed_pages_size(bytes); }
	static void *map_zeroed(std::size_t bytes) { return zeroed_pages(bytes); }
	static void unmap(void *p, std::size_t bytes) noexcept { free_zeroed_pages(p, bytes); }
	void release() noexcept {
		if (data_)
			unmap(data_, bytes_);
		data_ = nullptr;
		size_ = bytes_ = 0;
	}
	T *data_ = nullptr;
	std::size_t size_ = 0, bytes_ = 0;
};

// One outcome fact, as stored in a block (views into an Arena or into the block's arrays).
struct Fact {
	std::int64_t participant_id = 0;
	int kind = 0;  // index into kinds
	int academic_year = 0;
	std::string_view measure;
	int provider_ukprn = 0;
	std::optional<std::string_view> provider_name, value;
	std::int64_t import_id = 0;
	int line_no = 0;
	std::int64_t updated_at = 0;  // as the glue stores it (PostgreSQL: microseconds since 2000)
};

// The order of facts in a block, and their identity: participant, kind, year, measure, UKPRN.
bool key_less(const Fact &a, const Fact &b) noexcept;
bool same_key(const Fact &a, const Fact &b) noexcept;

// A block after the import: every fact, in key order, and what the import did to it.
struct Merged {
	std::vector<Fact> facts;
	std::size_t inserted = 0, updated = 0, unchanged = 0;
	bool changed() const noexcept { return inserted + updated > 0; }
};

// held and incoming in key order, one fact per key each. A fact of incoming not held is
// inserted; one held with another value or provider name replaces it (updated); one held with
// the same is unchanged (the held fact, its import and line, is kept).
Merged merge_block(const std::vector<Fact> &held, const std::vector<Fact> &incoming);

// A line that is not imported.
struct LineError {
	int line_no;
	std::string status;  // rejected, duplicate, unknown_reference
	std::string reason;
};

class FileImport {
public:
	FileImport(std::string recipient, std::int64_t import_id, std::int64_t now);

	// Every data line, in file order, as outcome_lines::check_line() judged it.
	void add_line(int line_no, const outcome_lines::Fact &f);
	// Or as quick_check() read it: the views must outlive this object.
	void add_line(int line_no, const outcome_lines::FactView &f);
	// Reads every data line of a file (the records after the one starting on header_line):
	// plain lines by split_plain_line() and quick_check(), the others by csv::CsvReader and
	// check_line(). The bytes must outlive this object. tick() is called every 65536 lines
	// (the glue checks for a cancelled query there; it may throw).
	void read(std::string_view bytes, int header_line, const outcome_lines::Layout &layout, void (*tick)(void *) = nullptr,
	          void *tick_arg = nullptr);

	// Once every line is in: indexes the lines' references (done by the first match() if not).
	void index_references();
	// The ledger, pair by pair: reference r was sent as member cid's participant pid.
	void match(std::string_view r, std::int32_t cid, std::int64_t pid);
	// The same for n pairs of one member at once (faster: the table is probed ahead).
	void match(const std::string_view *refs, const std::int64_t *pids, std::size_t n, std::int32_t cid);
	// The members whose participants were matched (ascending), for the participant scan.
	std::vector<std::int32_t> matched_members() const;
	// A participant of those members as held now.
	void participant(std::int32_t cid, std::int64_t pid, bool withdrawn, bool restricted);
	struct Held {
		std::int32_t controller_id;
		std::int64_t participant_id;
		bool withdrawn, restricted;
	};
	void participants(const Held *rows, std::size_t n);

	// Once all of the above is in: judges every line. Then errors() and blocks() are ready.
	void judge();
	const std::vector<LineError> &errors() const noexcept { return errors_; }

	// The blocks (member, participant_id >> block_bits) the good lines fall in, ascending, with
	// the facts each brings (key order, one per key). 65536 ids a block: an import writes a few
	// rows per member (with blocks of 4096 ids, as the ledger's, the rows' own cost was 0.1 s
	// more per million facts).
	static constexpr int block_bits = 16;
	struct Block {
		std::int32_t controller_id;
		std::int32_t block;
		std::size_t first, count;  // its facts in chosen_
	};
	const std::vector<Block> &blocks() const noexcept { return blocks_; }
	// The facts a block brings (key order, one per key), made when asked for: a million of
	// them at once would be 100 MB.
	std::vector<Fact> incoming(const Block &b) const;
	// How many data lines the file has; reserve room for about n lines first (optional).
	void reserve(std::size_t n) { lines_.reserve(n); }
	std::size_t lines() const noexcept { return lines_.size(); }

private:
	// A line of the file (the fields of its fact, views into arena_).
	struct Line {
		int line_no;
		std::int32_t ref_slot = -1;  // its reference in refs_; -1: a line with a problem
		std::int32_t problem = -1;   // index into problems_
		int kind = 0, academic_year = 0, provider_ukprn = 0;
		bool has_name = false, has_value = false;
		std::string_view reference, measure, provider_name, value;
	};
	// The file's references by their exact binary form (pseudonym::reference_key); person: the slot in
	// people_ of the participant the ledger gives, -1 until matched.
	// (all zero: empty)
	struct RefSlot {
		std::uint64_t a, b, c;  // c = 0: empty
		std::int32_t person;    // 1 + the slot in people_; 0 until matched
	};
	struct PersonSlot {
		std::int64_t participant_id;
		std::int32_t controller_id;
		std::uint8_t state;  // 0: empty; else 1 | seen 2 | withdrawn 4 | restricted 8
	};
	std::size_t ref_home(std::uint64_t a, std::uint64_t b, std::uint64_t c) const noexcept;
	std::int32_t ref_find(std::uint64_t a, std::uint64_t b, std::uint64_t c) const noexcept;
	std::size_t person_home(std::int32_t cid, std::int64_t pid) const noexcept;
	std::int32_t person_find(std::int32_t cid, std::int64_t pid, bool add);
	void match_key(const pseudonym::ReferenceKey &key, std::int32_t cid, std::int64_t pid);

	std::string recipient_;
	std::int64_t import_id_, now_;
	Arena arena_;
	std::vector<Line> lines_;
	std::vector<std::string> problems_;
	ZeroedTable<RefSlot> refs_;
	ZeroedTable<PersonSlot> people_;
	std::vector<LineError> errors_;
	std::vector<Block> blocks_;
	struct Chosen {
		std::int64_t participant_id;
		std::int32_t line;  // index into lines_
	};
	std::vector<Chosen> chosen_;  // the first line of each fact, by member and fact
};

}  // namespace outreach::outcome_import

#include "cpp_only.hpp"
