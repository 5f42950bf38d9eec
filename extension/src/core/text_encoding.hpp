// The encoding of a member's file: spreadsheets are saved as UTF-8 (with or without a byte
// order mark), as UTF-16 with a byte order mark ("Unicode text" in Excel), or in the Windows
// code page of the machine (Windows-1252, a superset of Latin-1 for printable text). The import
// reads all three and says which it found; everything after this works on UTF-8.
//
// The rule (decide()): a UTF-16 byte order mark means UTF-16 (LE or BE); a UTF-8 byte order
// mark, or any valid multi-byte UTF-8 sequence in the file, means UTF-8 (a line with invalid
// UTF-8 in such a file is that line's fault, reported by the CSV reader); a file with bytes
// above 0x7F and not one valid UTF-8 sequence is Windows-1252; plain ASCII is UTF-8.
#pragma once
#include <string>
#include <string_view>

namespace outreach::text_encoding {

enum class Encoding { utf8, utf8_bom, utf16le, utf16be, windows1252 };

// How the file is named in reports: "UTF-8", "UTF-8 with BOM", "UTF-16LE", "UTF-16BE",
// "Windows-1252".
const char *name(Encoding e) noexcept;

Encoding decide(std::string_view bytes) noexcept;

// The file as UTF-8 (without a byte order mark). UTF-16 that is not well formed (an odd
// number of bytes, a lone surrogate) throws outreach::Error 22021 naming the byte offset.
// UTF-8 input is returned unchanged but for its byte order mark (bad lines stay bad).
std::string to_utf8(std::string_view bytes, Encoding e);

}  // namespace outreach::text_encoding

#include "cpp_only.hpp"
