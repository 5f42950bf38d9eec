// Which members (controllers) a role acts for, and at which level: the rule behind every
// row-level security policy on personal data (outreach.my_controller_ids, controller_visible).
// The glue (src/pg/controller_access.cpp) reads outreach.controller_role, asks PostgreSQL which
// of its roles the current role holds, and caches the answer; the rule itself is here.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace outreach::access_levels {

// The levels of outreach.controller_role, in this order (the glue's query numbers them so).
enum Level { reader, writer, dpo, analyst, level_count };

// "reader", "writer", "dpo" or "analyst" (exactly); anything else throws 22023 naming it.
Level parse_level(std::string_view name);

// A row of outreach.controller_role: the member, the level it grants, and whether the role
// asking holds the row's role (directly or through membership).
struct Grant {
	std::int32_t controller_id;
	Level level;
	bool held;
};

// The members a role acts for at each level, ascending and without repeats. A held row grants
// its level; a reader row also grants analyst to its holders, and grants reader and analyst
// to outreach_processor (is_processor: the role holds it) whether held or not.
struct Answer {
	std::vector<std::int32_t> ids[level_count];
};
Answer controller_ids(const std::vector<Grant> &grants, bool is_processor);

}  // namespace outreach::access_levels

#include "cpp_only.hpp"
