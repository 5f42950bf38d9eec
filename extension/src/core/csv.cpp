#include "csv.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace outreach::csv {
namespace {

// Bytes that force quoting anywhere in a field.
constexpr std::array<bool, 256> make_special() {
	std::array<bool, 256> t{};
	t[','] = t['"'] = t['\r'] = t['\n'] = true;
	return t;
}
constexpr std::array<bool, 256> special = make_special();  // also where an unquoted field stops

// Offset of the first invalid UTF-8 sequence or NUL byte among the sequences that start in
// s[0, n), or npos. A sequence may run past n up to hard_end (the record's bytes were cut at an
// error position, not at a character boundary). nul tells which of the two was found.
std::size_t find_invalid(const char *s, std::size_t n, std::size_t hard_end, bool &nul) noexcept {
	constexpr std::uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	std::size_t i = 0;
	while (i < n) {
		if (n - i >= 8) {  // fast path: eight ASCII bytes, none of them NUL
			std::uint64_t w;
			std::memcpy(&w, s + i, 8);
			if ((w & high) == 0 && ((w - ones) & ~w & high) == 0) {
				i += 8;
				continue;
			}
		}
		const auto b0 = static_cast<unsigned char>(s[i]);
		if (b0 < 0x80) {
			if (b0 == 0) {
				nul = true;
				return i;
			}
			++i;
			continue;
		}
		std::size_t len;
		std::uint32_t cp;
		if (b0 >= 0xC2 && b0 <= 0xDF) {
			len = 2;
			cp = b0 & 0x1Fu;
		} else if (b0 >= 0xE0 && b0 <= 0xEF) {
			len = 3;
			cp = b0 & 0x0Fu;
		} else if (b0 >= 0xF0 && b0 <= 0xF4) {
			len = 4;
			cp = b0 & 0x07u;
		} else {
			return i;  // continuation byte, C0/C1 (overlong 2-byte) or F5..FF
		}
		if (hard_end - i < len)
			return i;
		for (std::size_t k = 1; k < len; ++k) {
			const auto b = static_cast<unsigned char>(s[i + k]);
			if ((b & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (b & 0x3Fu);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return i;
		i += len;
	}
	return std::string::npos;
}

// The i-th field of rec, emptied, keeping the string's capacity from earlier records.
inline std::string &slot(std::vector<std::string> &fields, std::size_t i) {
	if (i < fields.size()) {
		fields[i].clear();
		return fields[i];
	}
	return fields.emplace_back();
}

inline int count_lf(const char *p, std::size_t n) noexcept {
	return static_cast<int>(std::count(p, p + n, '\n'));
}

}  // namespace

bool needs_quoting(std::string_view field) noexcept {
	if (field.empty())
		return false;
	if (field.front() == ' ' || field.back() == ' ')
		return true;
	// A leading U+FEFF would be taken for a byte order mark at the start of a file.
	if (field.size() >= 3 && field.compare(0, 3, "\xEF\xBB\xBF") == 0)
		return true;
	for (char c : field)
		if (special[static_cast<unsigned char>(c)])
			return true;
	return false;
}

void append_csv_field(std::string &out, std::string_view field) {
	if (!needs_quoting(field)) {
		out.append(field);
		return;
	}
	out.push_back('"');
	std::size_t from = 0;
	for (std::size_t q; (q = field.find('"', from)) != std::string_view::npos; from = q + 1) {
		out.append(field.data() + from, q + 1 - from);  // up to and including the quote
		out.push_back('"');
	}
	out.append(field.data() + from, field.size() - from);
	out.push_back('"');
}

void append_csv_record(std::string &out, const std::vector<std::optional<std::string_view>> &fields) {
	if (fields.size() == 1 && (!fields[0] || fields[0]->empty())) {
		out.append("\"\"");  // not an empty line, which is no record at all
		return;
	}
	std::size_t bytes = fields.size() + 2;  // commas, and room for one quoted field
	for (const auto &f : fields)
		if (f)
			bytes += f->size();
	out.reserve(out.size() + bytes);
	bool first = true;
	for (const auto &f : fields) {
		if (!first)
			out.push_back(',');
		first = false;
		if (f)
			append_csv_field(out, *f);
	}
}

std::string csv_record(const std::vector<std::optional<std::string_view>> &fields) {
	std::string out;
	append_csv_record(out, fields);
	return out;
}

CsvReader::CsvReader(std::string_view bytes) noexcept : in_(bytes) {
	if (in_.size() >= 3 && std::memcmp(in_.data(), "\xEF\xBB\xBF", 3) == 0)
		pos_ = 3;
}

bool CsvReader::next(CsvRecord &rec) {
	const char *const data = in_.data();
	const std::size_t size = in_.size();
	if (pos_ >= size)
		return false;
	const std::size_t start = pos_;
	int line = line_;
	rec.line_no = line;
	rec.error.clear();
	rec.terminated = true;

	if (data[start] == '\n' || (data[start] == '\r' && start + 1 < size && data[start + 1] == '\n')) {
		pos_ = start + (data[start] == '\n' ? 1 : 2);
		++line_;
		if (pos_ == size)
			return false;  // a single empty line at the end: ignored
		rec.fields.clear();
		rec.error = "empty line";
		return true;
	}

	// Parsing stops at window: the end of input, or (capped) one byte past the longest record
	// allowed, so that reaching a capped window means the record is too long.
	const bool capped = size - start > max_record_bytes;
	const std::size_t window = capped ? start + max_record_bytes + 1 : size;
	std::size_t p = start;
	std::size_t nfields = 0;
	std::size_t content_end = 0;  // where the record's bytes end (before its terminator)
	std::string message;          // set on a structural error, found at byte error_at
	std::size_t error_at = 0;

	auto fail = [&](std::size_t at, std::string m) {
		error_at = at;
		message = std::move(m);
	};
	auto field_no = [&] { return " (field " + std::to_string(nfields) + ")"; };

	for (;;) {
		if (nfields == max_fields) {
			fail(p, "record has more than " + std::to_string(max_fields) + " fields");
			break;
		}
		std::string &f = slot(rec.fields, nfields++);
		char c;
		if (p < window && data[p] == '"') {
			++p;
			bool closed = false;
			while (!closed) {
				const void *q = std::memchr(data + p, '"', window - p);
				if (!q) {
					line += count_lf(data + p, window - p);
					p = window;
					break;
				}
				const std::size_t qi = static_cast<std::size_t>(static_cast<const char *>(q) - data);
				line += count_lf(data + p, qi - p);
				f.append(data + p, qi - p);
				p = qi + 1;
				if (p < window && data[p] == '"') {
					f.push_back('"');
					++p;
				} else {
					closed = true;
				}
			}
			if (!closed) {
				if (!capped)
					fail(size, "unterminated quoted field (truncated file?)");
				else
					fail(window, "record longer than " + std::to_string(max_record_bytes) + " bytes");
				break;
			}
			if (p == window) {
				if (!capped) {
					content_end = p;
					rec.terminated = false;
				} else {
					fail(window, "record longer than " + std::to_string(max_record_bytes) + " bytes");
				}
				break;
			}
			c = data[p];
			if (c == ',') {
				++p;
				continue;
			}
			if (c == '\n' || (c == '\r' && p + 1 < size && data[p + 1] == '\n')) {
				content_end = p;
				p += c == '\n' ? 1 : 2;
				++line;
				break;
			}
			fail(p, "unexpected text after closing quote" + field_no());
			break;
		}
		std::size_t q = p;
		while (q < window && !special[static_cast<unsigned char>(data[q])])
			++q;
		f.assign(data + p, q - p);
		p = q;
		if (p == window) {
			if (!capped) {
				content_end = p;
				rec.terminated = false;
			} else {
				fail(window, "record longer than " + std::to_string(max_record_bytes) + " bytes");
			}
			break;
		}
		c = data[p];
		if (c == ',') {
			++p;
			continue;
		}
		if (c == '\n') {
			content_end = p++;
			++line;
			break;
		}
		if (c == '\r') {
			if (p + 1 < size && data[p + 1] == '\n') {
				content_end = p;
				p += 2;
				++line;
			} else {
				fail(p, "lone carriage return in unquoted field" + field_no());
			}
			break;
		}
		fail(p, "unexpected double quote in unquoted field" + field_no());  // c == '"'
		break;
	}

	// Invalid UTF-8 or a NUL byte before the structural error (or anywhere in a good record)
	// is the record's first problem.
	const std::size_t checked_end = message.empty() ? content_end : error_at;
	bool nul = false;
	const std::size_t bad = find_invalid(data + start, checked_end - start, size - start, nul);
	if (bad != std::string::npos) {
		rec.error = (nul ? "NUL byte at byte offset " : "invalid UTF-8 at byte offset ") + std::to_string(bad) +
		            " of the record";
		if (message.empty()) {  // the record's extent is known: continue after it
			rec.fields.clear();
			pos_ = p;
			line_ = line;
			return true;
		}
	} else if (message.empty()) {
		rec.fields.resize(nfields);
		pos_ = p;
		line_ = line;
		return true;
	} else {
		rec.error = std::move(message);
	}

	// A structural error: resynchronise at the next physical line.
	rec.fields.clear();
	const void *lf = error_at < size ? std::memchr(data + error_at, '\n', size - error_at) : nullptr;
	if (lf) {
		pos_ = static_cast<std::size_t>(static_cast<const char *>(lf) - data) + 1;
		line_ = line + 1;
		rec.terminated = true;
	} else {
		pos_ = size;
		line_ = line;
		rec.terminated = false;
	}
	return true;
}

}  // namespace outreach::csv
