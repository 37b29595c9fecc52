#pragma once
// A read connection to the archive for the query code, over either backend.
// The queries are written once, with "?" placeholders and a few dialect
// words (dialect()); each backend runs them its own way. Errors are thrown
// as ArchiveReadError, or QueryError when the user's text-search syntax is
// what the database refused.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/hash_chain.h"
#include "query/filters.h"

namespace sipwarden::query {

// A bound value. (A std::variant here trips GCC 12's -Wmaybe-uninitialized.)
struct Value {
  Value(std::int64_t n) : number(n) {}
  Value(std::string t) : isText(true), text(std::move(t)) {}
  bool isText = false;
  std::int64_t number = 0;
  std::string text;
};

enum class Dialect { kSqlite, kPostgres };

// The rows of one statement, read forward once.
class Rows {
 public:
  virtual ~Rows() = default;
  // True for a row; false at the end.
  virtual bool step() = 0;
  virtual std::int64_t integer(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual bool null(int column) const = 0;
  std::optional<std::int64_t> optionalInteger(int column) const {
    return null(column) ? std::nullopt : std::optional<std::int64_t>(integer(column));
  }
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  virtual std::unique_ptr<Rows> query(const std::string& sql, const std::vector<Value>& values) = 0;
  // Appends one record to the audit trail's chain (archive/audit_trail.h),
  // in its own short write transaction.
  virtual void appendAudit(const archive::AuditEntry& entry) = 0;
};

// Opens the archive at `url` (a SQLite path or URL, or a PostgreSQL URI),
// bringing an older schema up to date first, as the hop would at start.
// Throws ArchiveReadError.
std::unique_ptr<Connection> openConnection(const std::string& url);

}  // namespace sipwarden::query
