#include "outcome_import.hpp"

#include "csv.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <tuple>
#include <unordered_map>

#include <sys/mman.h>

namespace outreach::outcome_import {

using pseudonym::reference_key;
using pseudonym::ReferenceKey;
using pseudonym::well_formed_reference;

namespace {

// A power of two at least twice n (open addressing stays under half full).
std::size_t table_size(std::size_t n) {
	std::size_t size = 16;
	while (size < 2 * n)
		size *= 2;
	return size;
}

}  // namespace

std::size_t zeroed_pages_size(std::size_t bytes) noexcept {
	constexpr std::size_t huge = 2 << 20;
	return (bytes + huge - 1) / huge * huge;
}

void *zeroed_pages(std::size_t bytes) {
	if (bytes == 0)
		return nullptr;
	void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		throw std::bad_alloc();
	(void)madvise(p, bytes, MADV_HUGEPAGE);  // advice: without it, ordinary pages
	return p;
}

void free_zeroed_pages(void *p, std::size_t bytes) noexcept {
	if (p)
		munmap(p, bytes);
}

int kind_index(std::string_view kind) noexcept {
	for (std::size_t i = 0; i < std::size(kinds); ++i)
		if (kinds[i] == kind)
			return static_cast<int>(i);
	return -1;
}

std::string_view Arena::copy(std::string_view s) {
	if (s.empty())
		return {};
	if (s.size() > left_) {
		const std::size_t size = std::max<std::size_t>(s.size(), 1 << 20);
		chunks_.push_back(std::make_unique<char[]>(size));
		next_ = chunks_.back().get();
		left_ = size;
	}
	std::memcpy(next_, s.data(), s.size());
	const std::string_view out(next_, s.size());
	next_ += s.size();
	left_ -= s.size();
	return out;
}

bool key_less(const Fact &a, const Fact &b) noexcept {
	return std::tie(a.participant_id, a.kind, a.academic_year, a.measure, a.provider_ukprn) <
	       std::tie(b.participant_id, b.kind, b.academic_year, b.measure, b.provider_ukprn);
}

bool same_key(const Fact &a, const Fact &b) noexcept {
	return a.participant_id == b.participant_id && a.kind == b.kind && a.academic_year == b.academic_year &&
	       a.measure == b.measure && a.provider_ukprn == b.provider_ukprn;
}

Merged merge_block(const std::vector<Fact> &held, const std::vector<Fact> &incoming) {
	Merged m;
	m.facts.reserve(held.size() + incoming.size());
	std::size_t h = 0, i = 0;
	while (h < held.size() || i < incoming.size()) {
		if (i == incoming.size() || (h < held.size() && key_less(held[h], incoming[i]))) {
			m.facts.push_back(held[h++]);
		} else if (h == held.size() || key_less(incoming[i], held[h])) {
			m.facts.push_back(incoming[i++]);
			++m.inserted;
		} else if (held[h].value == incoming[i].value && held[h].provider_name == incoming[i].provider_name) {
			m.facts.push_back(held[h++]);
			++i;
			++m.unchanged;
		} else {
			m.facts.push_back(incoming[i++]);
			++h;
			++m.updated;
		}
	}
	return m;
}

namespace {

std::uint64_t mix(std::uint64_t h) noexcept {
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDULL;
	h ^= h >> 33;
	return h;
}

std::uint64_t hash_key(std::uint64_t a, std::uint64_t b, std::uint64_t c) noexcept {
	return mix(a * 0x9E3779B97F4A7C15ULL ^ b * 0xC2B2AE3D27D4EB4FULL ^ c);
}

}  // namespace

FileImport::FileImport(std::string recipient, std::int64_t import_id, std::int64_t now)
	: recipient_(std::move(recipient)), import_id_(import_id), now_(now) {}

void FileImport::add_line(int line_no, const outcome_lines::Fact &f) {
	Line l;
	l.line_no = line_no;
	if (!f.problem && (!f.kind || kind_index(*f.kind) < 0)) {  // (a kind no outcome table has)
		l.problem = static_cast<std::int32_t>(problems_.size());
		problems_.push_back("unknown outcome kind \"" + f.kind.value_or(std::string()) + "\"");
	} else if (f.problem) {
		l.problem = static_cast<std::int32_t>(problems_.size());
		problems_.push_back(*f.problem);
	} else {
		l.reference = arena_.copy(f.reference.value_or(std::string()));
		l.kind = kind_index(*f.kind);
		l.academic_year = f.academic_year.value_or(0);
		l.measure = arena_.copy(f.measure);
		l.provider_ukprn = f.provider_ukprn;
		l.has_name = f.provider_name.has_value();
		if (l.has_name)
			l.provider_name = arena_.copy(*f.provider_name);
		l.has_value = f.value.has_value();
		if (l.has_value)
			l.value = arena_.copy(*f.value);
	}
	lines_.push_back(l);
}

void FileImport::add_line(int line_no, const outcome_lines::FactView &f) {
	Line l;
	l.line_no = line_no;
	l.reference = f.reference;
	l.kind = kind_index(f.kind);
	if (l.kind < 0) {  // (a kind no outcome table has)
		l.problem = static_cast<std::int32_t>(problems_.size());
		problems_.push_back("unknown outcome kind \"" + std::string(f.kind) + "\"");
	}
	l.academic_year = f.academic_year;
	l.measure = f.measure;
	l.provider_ukprn = f.provider_ukprn;
	l.has_name = f.has_name;
	l.provider_name = f.provider_name;
	l.has_value = f.has_value;
	l.value = f.value;
	lines_.push_back(l);
}

void FileImport::read(std::string_view bytes, int header_line, const outcome_lines::Layout &layout, void (*tick)(void *),
                      void *tick_arg) {
	csv::CsvRecord rec;
	std::size_t pos = 0;
	int line = 1;
	{  // up to and including the header record
		csv::CsvReader reader(bytes);
		while (reader.next(rec) && rec.line_no < header_line) {
		}
		pos = reader.position();
		line = reader.line();
	}
	std::vector<std::string_view> fields;
	outcome_lines::FactView view;
	std::uint32_t count = 0;
	while (pos < bytes.size()) {
		if (tick && (++count & 65535) == 0)
			tick(tick_arg);
		const void *nl = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
		if (nl) {
			const std::size_t end = static_cast<std::size_t>(static_cast<const char *>(nl) - bytes.data());
			std::size_t content_end = end;
			if (content_end > pos && bytes[content_end - 1] == '\r')
				--content_end;
			const std::string_view content = bytes.substr(pos, content_end - pos);
			if (!content.empty() && content.size() <= csv::max_record_bytes && outcome_lines::split_plain_line(content, fields) &&
			    outcome_lines::quick_check(layout, fields.data(), fields.size(), view)) {
				add_line(line, view);
				pos = end + 1;
				++line;
				continue;
			}
		}
		// Anything else (quoting, other characters, a problem, the last line without LF): by
		// the reader and check_line(), for their exact messages.
		csv::CsvReader reader(bytes, pos, line);
		if (!reader.next(rec))
			break;  // (a single empty line at the very end)
		add_line(rec.line_no, outcome_lines::check_line(layout, rec.ok() ? &rec.fields : nullptr, rec.error, rec.terminated));
		pos = reader.position();
		line = reader.line();
	}
}

std::size_t FileImport::ref_home(std::uint64_t a, std::uint64_t b, std::uint64_t c) const noexcept {
	return hash_key(a, b, c) & (refs_.size() - 1);
}

std::int32_t FileImport::ref_find(std::uint64_t a, std::uint64_t b, std::uint64_t c) const noexcept {
	const std::size_t mask = refs_.size() - 1;
	for (std::size_t s = ref_home(a, b, c);; s = (s + 1) & mask) {
		const RefSlot &slot = refs_[s];
		if (slot.c == 0 || (slot.a == a && slot.b == b && slot.c == c))
			return static_cast<std::int32_t>(s);
	}
}

// Probing ahead: the home slots of the next keys are fetched into the cache while this one is
// looked up (each probe of a 100 MB table is otherwise a wait on memory).
constexpr std::size_t ahead = 16;

void FileImport::index_references() {
	refs_.reset(table_size(lines_.size()));
	people_.reset(table_size(lines_.size()));
	std::optional<ReferenceKey> keys[ahead];
	for (std::size_t start = 0; start < lines_.size(); start += ahead) {
		const std::size_t end = std::min(lines_.size(), start + ahead);
		for (std::size_t k = start; k < end; ++k) {
			// (a line with a problem, or a reference never sent: no reference of the ledger has its form)
			keys[k - start] = lines_[k].problem < 0 ? reference_key(lines_[k].reference) : std::nullopt;
			if (const auto &key = keys[k - start])
				__builtin_prefetch(&refs_[ref_home(key->a, key->b, key->c)], 1);
		}
		for (std::size_t k = start; k < end; ++k) {
			const auto &key = keys[k - start];
			if (!key)
				continue;
			const std::int32_t s = ref_find(key->a, key->b, key->c);
			RefSlot &slot = refs_[static_cast<std::size_t>(s)];
			slot.a = key->a, slot.b = key->b, slot.c = key->c;
			lines_[k].ref_slot = s;
		}
	}
}

void FileImport::match_key(const ReferenceKey &key, std::int32_t cid, std::int64_t pid) {
	RefSlot &slot = refs_[static_cast<std::size_t>(ref_find(key.a, key.b, key.c))];
	if (slot.c == 0)
		return;  // not in the file
	if (slot.person > 0) {
		// Sent more than once (several exports): the same participant. Were it ever another
		// one, the lowest (member, participant) is taken, as 0.4.0's min() did.
		const PersonSlot &p = people_[static_cast<std::size_t>(slot.person - 1)];
		if (std::tie(p.controller_id, p.participant_id) <= std::tie(cid, pid))
			return;
	}
	slot.person = 1 + person_find(cid, pid, true);
}

void FileImport::match(std::string_view r, std::int32_t cid, std::int64_t pid) { match(&r, &pid, 1, cid); }

void FileImport::match(const std::string_view *refs, const std::int64_t *pids, std::size_t n, std::int32_t cid) {
	if (refs_.empty())
		index_references();
	std::optional<ReferenceKey> keys[ahead];
	for (std::size_t start = 0; start < n; start += ahead) {
		const std::size_t end = std::min(n, start + ahead);
		for (std::size_t k = start; k < end; ++k) {
			keys[k - start] = reference_key(refs[k]);
			if (const auto &key = keys[k - start]) {
				__builtin_prefetch(&refs_[ref_home(key->a, key->b, key->c)]);
				__builtin_prefetch(&people_[person_home(cid, pids[k])], 1);
			}
		}
		for (std::size_t k = start; k < end; ++k)
			if (const auto &key = keys[k - start])
				match_key(*key, cid, pids[k]);
	}
}

std::size_t FileImport::person_home(std::int32_t cid, std::int64_t pid) const noexcept {
	return mix(static_cast<std::uint64_t>(pid) * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint32_t>(cid)) &
	       (people_.size() - 1);
}

std::int32_t FileImport::person_find(std::int32_t cid, std::int64_t pid, bool add) {
	if (people_.empty())
		return -1;
	const std::size_t mask = people_.size() - 1;
	for (std::size_t s = person_home(cid, pid);; s = (s + 1) & mask) {
		PersonSlot &p = people_[s];
		if (p.state == 0) {
			if (!add)
				return -1;
			p.participant_id = pid, p.controller_id = cid, p.state = 1;
			return static_cast<std::int32_t>(s);
		}
		if (p.participant_id == pid && p.controller_id == cid)
			return static_cast<std::int32_t>(s);
	}
}

std::vector<std::int32_t> FileImport::matched_members() const {
	std::vector<std::int32_t> out;
	for (std::size_t s = 0; s < people_.size(); ++s)
		if (people_[s].state != 0)
			out.push_back(people_[s].controller_id);
	std::sort(out.begin(), out.end());
	out.erase(std::unique(out.begin(), out.end()), out.end());
	return out;
}

void FileImport::participant(std::int32_t cid, std::int64_t pid, bool withdrawn, bool restricted) {
	const Held one{cid, pid, withdrawn, restricted};
	participants(&one, 1);
}

void FileImport::participants(const Held *rows, std::size_t n) {
	if (people_.empty())
		return;  // nobody matched
	for (std::size_t k = 0; k < n; ++k) {
		if (k + ahead < n)
			__builtin_prefetch(&people_[person_home(rows[k + ahead].controller_id, rows[k + ahead].participant_id)]);
		const Held &h = rows[k];
		const std::int32_t s = person_find(h.controller_id, h.participant_id, false);
		if (s >= 0)
			people_[static_cast<std::size_t>(s)].state =
				static_cast<std::uint8_t>(1 | 2 | (h.withdrawn ? 4 : 0) | (h.restricted ? 8 : 0));
	}
}

void FileImport::judge() {
	if (refs_.empty())
		index_references();  // (an empty ledger: match() was never called)
	errors_.clear();
	blocks_.clear();
	chosen_.clear();
	auto fail = [&](const Line &l, const char *status, std::string reason) {
		errors_.push_back(LineError{l.line_no, status, std::move(reason)});
	};
	const std::size_t n = lines_.size();
	// Each line's participant (the slot in people_, or -1), probing ahead.
	std::vector<std::int32_t> person(n, -1);
	for (std::size_t k = 0; k < n; ++k) {
		if (k + ahead < n && lines_[k + ahead].ref_slot >= 0)
			__builtin_prefetch(&refs_[static_cast<std::size_t>(lines_[k + ahead].ref_slot)]);
		if (lines_[k].ref_slot >= 0)
			person[k] = refs_[static_cast<std::size_t>(lines_[k].ref_slot)].person - 1;
	}

	// The good lines, with what they are sorted by: member, fact (the measure by its rank among
	// the file's measures, in byte order), line.
	struct Good {
		std::int64_t participant_id;
		std::int32_t controller_id, line, academic_year, provider_ukprn;
		std::uint32_t measure;
		std::int32_t kind;
	};
	std::vector<Good> good;
	good.reserve(n);
	std::unordered_map<std::string_view, std::uint32_t> measure_ids;
	std::vector<std::string_view> measures;
	for (std::size_t k = 0; k < n; ++k) {
		if (k + ahead < n && person[k + ahead] >= 0)
			__builtin_prefetch(&people_[static_cast<std::size_t>(person[k + ahead])]);
		const Line &l = lines_[k];
		if (l.problem >= 0) {
			fail(l, "rejected", problems_[static_cast<std::size_t>(l.problem)]);
		} else if (person[k] < 0) {
			if (!well_formed_reference(l.reference))
				fail(l, "rejected", "malformed reference \"" + std::string(outcome_lines::left_chars(l.reference, 50)) + "\"");
			else
				fail(l, "unknown_reference", "reference " + std::string(l.reference) + " was never sent to " + recipient_);
		} else {
			const PersonSlot &p = people_[static_cast<std::size_t>(person[k])];
			if (!(p.state & 2)) {
				fail(l, "unknown_reference", "reference " + std::string(l.reference) + ": the participant's record has been deleted");
			} else if (p.state & 4) {
				fail(l, "rejected", "reference " + std::string(l.reference) + ": the participant has withdrawn; outcome not stored");
			} else if (p.state & 8) {
				fail(l, "rejected", "reference " + std::string(l.reference) + ": processing is restricted; outcome not stored");
			} else {
				const auto [it, fresh] = measure_ids.try_emplace(l.measure, static_cast<std::uint32_t>(measures.size()));
				if (fresh)
					measures.push_back(l.measure);
				good.push_back(Good{p.participant_id, p.controller_id, static_cast<std::int32_t>(k), l.academic_year,
				                    l.provider_ukprn, it->second, l.kind});
			}
		}
	}
	std::vector<std::uint32_t> order(measures.size()), rank(measures.size());
	for (std::uint32_t i = 0; i < order.size(); ++i)
		order[i] = i;
	std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) { return measures[x] < measures[y]; });
	for (std::uint32_t i = 0; i < order.size(); ++i)
		rank[order[i]] = i;
	for (Good &g : good)
		g.measure = rank[g.measure];

	// By member and fact, then line: the first line of a fact is imported, a later one is a
	// duplicate of it or a conflict with it.
	auto key = [](const Good &g) {
		return std::tie(g.controller_id, g.participant_id, g.kind, g.academic_year, g.measure, g.provider_ukprn);
	};
	// (one comparison of the key and the line: comparing the keys first and then the lines was
	// about 0.02 s slower on a million lines)
	std::sort(good.begin(), good.end(), [](const Good &a, const Good &b) {
		return std::tie(a.controller_id, a.participant_id, a.kind, a.academic_year, a.measure, a.provider_ukprn, a.line) <
		       std::tie(b.controller_id, b.participant_id, b.kind, b.academic_year, b.measure, b.provider_ukprn, b.line);
	});
	const Good *first = nullptr;
	for (const Good &g : good) {
		const Line &l = lines_[static_cast<std::size_t>(g.line)];
		if (first && key(*first) == key(g)) {
			const Line &f = lines_[static_cast<std::size_t>(first->line)];
			if (f.has_value == l.has_value && f.value == l.value && f.has_name == l.has_name && f.provider_name == l.provider_name)
				fail(l, "duplicate", "the same outcome as line " + std::to_string(f.line_no));
			else
				fail(l, "rejected", "conflicts with line " + std::to_string(f.line_no) + ": the same outcome with another value");
			continue;
		}
		first = &g;
		const auto block = static_cast<std::int32_t>(g.participant_id >> block_bits);
		if (blocks_.empty() || blocks_.back().controller_id != g.controller_id || blocks_.back().block != block)
			blocks_.push_back(Block{g.controller_id, block, chosen_.size(), 0});
		chosen_.push_back(Chosen{g.participant_id, g.line});
		++blocks_.back().count;
	}
	std::sort(errors_.begin(), errors_.end(), [](const LineError &a, const LineError &b) { return a.line_no < b.line_no; });
}

std::vector<Fact> FileImport::incoming(const Block &b) const {
	std::vector<Fact> out(b.count);
	for (std::size_t k = 0; k < b.count; ++k) {
		const Chosen &c = chosen_[b.first + k];
		const Line &l = lines_[static_cast<std::size_t>(c.line)];
		Fact &f = out[k];
		f.participant_id = c.participant_id;
		f.kind = l.kind;
		f.academic_year = l.academic_year;
		f.measure = l.measure;
		f.provider_ukprn = l.provider_ukprn;
		if (l.has_name)
			f.provider_name = l.provider_name;
		if (l.has_value)
			f.value = l.value;
		f.import_id = import_id_;
		f.line_no = l.line_no;
		f.updated_at = now_;
	}
	return out;
}

}  // namespace outreach::outcome_import
