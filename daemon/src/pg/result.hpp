// RAII over PGresult, with typed accessors. Owns exactly one result; PQclear on destruction.
#pragma once
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace outreachd::pg {

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r, &PQclear) {}

  explicit operator bool() const { return r_ != nullptr; }
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  int columns() const { return r_ ? PQnfields(r_.get()) : 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view text(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::optional<std::string> opt_text(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return std::string(text(row, col));
  }
  std::int64_t int64(int row, int col) const;  // 0 for NULL
  double float64(int row, int col) const;       // 0 for NULL
  bool boolean(int row, int col) const { return !is_null(row, col) && text(row, col) == "t"; }
  // Value of the first column of the first row (what "SELECT f(...)" returns).
  std::string_view scalar() const { return rows() > 0 ? text(0, 0) : std::string_view{}; }

 private:
  std::shared_ptr<PGresult> r_;
};

}  // namespace outreachd::pg
