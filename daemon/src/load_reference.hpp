// `outreachd load-reference --kind onspd|polar4|tundra|imd [--vintage V] [--index I] FILE`:
// streams a neighbourhood look-up file to the database in chunks cut at line ends
// (outreach.area_lookup_stage, area_lookup_append, load_area_lookup), never holding the whole
// file, and prints every line not loaded with its number and reason, then the summary.
#pragma once
#include "asio.hpp"
#include "runtime.hpp"

#include <optional>
#include <string>

namespace outreachd {

struct ReferenceLoad {
  std::string kind;
  std::optional<std::string> vintage;
  std::optional<std::string> index;
  std::string path;
};

// Exit codes: 0 every line loaded, 3 loaded with some lines left out (listed), 1 the file was
// refused whole (wrong header, nothing loadable) or could not be read or sent.
awaitable<int> load_reference(Runtime& rt, const ReferenceLoad& load);

}  // namespace outreachd
