#include "access_levels.hpp"

#include "error.hpp"

#include <algorithm>
#include <string>

namespace outreach::access_levels {

Level parse_level(std::string_view s) {
	if (s == "reader")
		return reader;
	if (s == "writer")
		return writer;
	if (s == "dpo")
		return dpo;
	if (s == "analyst")
		return analyst;
	throw Error(sqlstate::invalid_parameter_value, "unknown access level \"" + std::string(s.substr(0, 40)) + "\"", {},
	            "Levels are reader, writer, dpo and analyst.");
}

Answer controller_ids(const std::vector<Grant> &grants, bool is_processor) {
	Answer a;
	for (const Grant &g : grants) {
		if (g.held)
			a.ids[g.level].push_back(g.controller_id);
		if (g.level == reader && (g.held || is_processor)) {
			if (!g.held)
				a.ids[reader].push_back(g.controller_id);
			a.ids[analyst].push_back(g.controller_id);
		}
	}
	for (auto &ids : a.ids) {
		std::sort(ids.begin(), ids.end());
		ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
	}
	return a;
}

}  // namespace outreach::access_levels
