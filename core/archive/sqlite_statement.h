#pragma once
// One prepared SQLite statement, finalized when its scope ends: for code
// that reads an archive row by row (the migrate command's source, the query
// tools). Errors are the caller's to word, so nothing here throws: check
// prepared() after constructing, and step()'s code.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sipwarden::archive {

class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK) {
      sqlite3_finalize(statement_);
      statement_ = nullptr;
    }
  }
  ~SqliteStatement() { sqlite3_finalize(statement_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  bool prepared() const { return statement_ != nullptr; }
  sqlite3_stmt* get() const { return statement_; }
  // sqlite3_step's code: SQLITE_ROW, SQLITE_DONE, or an error (error()).
  int step() { return sqlite3_step(statement_); }
  // The connection's last error, for a failed prepare or step.
  std::string error() const { return sqlite3_errmsg(db_); }

  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  bool null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  // Valid until the next step.
  std::string_view view(int column) const {
    const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    return bytes ? std::string_view(bytes, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)))
                 : std::string_view();
  }
  std::string text(int column) const { return std::string(view(column)); }

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

}  // namespace sipwarden::archive
