#include "export_block.hpp"

#include <algorithm>
#include <numeric>

namespace outreach::export_block {

void Block::add(const Record &r, std::string_view reference, std::string_view line) {
	records_.push_back(Kept{r, text_.size(), reference.size(), text_.size() + reference.size(), line.size()});
	text_.append(reference);
	text_.append(line);
}

std::vector<std::size_t> Block::participant_order() const {
	std::vector<std::size_t> order(records_.size());
	std::iota(order.begin(), order.end(), std::size_t{0});
	std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
		return records_[a].fields.participant_id < records_[b].fields.participant_id;
	});
	return order;
}

std::string_view Block::reference(std::size_t i) const noexcept {
	return std::string_view(text_).substr(records_[i].reference_at, records_[i].reference_len);
}

std::string_view Block::line(std::size_t i) const noexcept {
	return std::string_view(text_).substr(records_[i].line_at, records_[i].line_len);
}

}  // namespace outreach::export_block
