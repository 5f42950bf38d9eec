// The one exception type of the extension. It carries what a PostgreSQL error report needs
// (SQLSTATE, message, detail, hint) so the boundary in src/pg can raise it faithfully.
#pragma once
#include <stdexcept>
#include <string>

namespace outreach {

// Five-character SQLSTATE codes used by the core; the glue maps them with MAKE_SQLSTATE.
namespace sqlstate {
inline constexpr const char *invalid_text_representation = "22P02";
inline constexpr const char *invalid_parameter_value = "22023";
inline constexpr const char *null_value_not_allowed = "22004";
inline constexpr const char *invalid_binary_representation = "22P03";
inline constexpr const char *datetime_field_overflow = "22008";
inline constexpr const char *string_data_right_truncation = "22001";
inline constexpr const char *numeric_value_out_of_range = "22003";
inline constexpr const char *program_limit_exceeded = "54000";
inline constexpr const char *insufficient_privilege = "42501";
inline constexpr const char *config_file_error = "F0000";
inline constexpr const char *undefined_object = "42704";
inline constexpr const char *feature_not_supported = "0A000";
inline constexpr const char *internal_error = "XX000";
inline constexpr const char *data_corrupted = "XX001";
}  // namespace sqlstate

class Error : public std::runtime_error {
public:
	Error(const char *code, std::string message, std::string detail = {}, std::string hint = {})
		: std::runtime_error(message), code_(code), detail_(std::move(detail)), hint_(std::move(hint)) {}
	const char *sqlstate() const noexcept { return code_; }
	const std::string &detail() const noexcept { return detail_; }
	const std::string &hint() const noexcept { return hint_; }

private:
	const char *code_;
	std::string detail_;
	std::string hint_;
};

}  // namespace outreach

#include "cpp_only.hpp"
