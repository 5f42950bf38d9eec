// The records of one member's block of participant ids that an export sends
// (outreach.export_block, extension/sql/current/52_exports.sql): a record goes out only
// when its content changed since the recipient last received it, and a block's records go out
// in participant-id order. The glue (src/pg/export_block.cpp) hashes each line with
// PostgreSQL's hashtextextended(), the hash the ledger keeps, and builds the arrays.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outreach::export_block {

// The unchanged-record rule: sent before with the same content hash (previous_hash: the hash
// of what the recipient last received, nullopt when never sent).
inline bool unchanged(std::optional<std::int64_t> previous_hash, std::int64_t content_hash) noexcept {
	return previous_hash && *previous_hash == content_hash;
}

class Block {
public:
	struct Record {
		std::int64_t participant_id;
		std::int32_t cohort_year;
		std::uint32_t src_xmin;
		std::int64_t content_hash;
	};
	// A record to send (one not unchanged()): its fields, reference and line are copied.
	void add(const Record &r, std::string_view reference, std::string_view line);
	bool empty() const noexcept { return records_.empty(); }
	// The records' indices in participant-id order (the order of export_block_data's arrays).
	std::vector<std::size_t> participant_order() const;
	const Record &record(std::size_t i) const noexcept { return records_[i].fields; }
	std::string_view reference(std::size_t i) const noexcept;
	std::string_view line(std::size_t i) const noexcept;

private:
	struct Kept {
		Record fields;
		std::size_t reference_at, reference_len, line_at, line_len;  // in text_
	};
	std::vector<Kept> records_;
	std::string text_;  // references and lines, back to back
};

}  // namespace outreach::export_block

#include "cpp_only.hpp"
