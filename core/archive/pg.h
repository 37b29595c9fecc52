#pragma once
// A thin owner of one libpq connection: statements with parameters, results
// read by row and column, errors as exceptions carrying the SQLSTATE. The
// PostgreSQL store and the PostgreSQL query connection both use it; neither
// hands a PGconn or PGresult to anyone else.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "archive/store.h"

namespace sipwarden::archive::pg {

// An ArchiveError, so the writer's retry and the failure modes treat a lost
// server like a full disk.
class Error : public ArchiveError {
 public:
  Error(const std::string& message, std::string sqlState) : ArchiveError(message), sqlState_(std::move(sqlState)) {}
  const std::string& sqlState() const { return sqlState_; }

 private:
  std::string sqlState_;
};

// Parameters in text form, as libpq sends them. Numbers are formatted here;
// text is copied (the statements are small, a message row at most 64 KiB).
class Params {
 public:
  Params& text(std::string_view value);
  Params& number(std::int64_t value);
  Params& null();
  // Empty text as NULL (columns where absence means "keep what is there").
  Params& textOrNull(std::string_view value) { return value.empty() ? null() : text(value); }
  Params& numberOrNull(std::int64_t value) { return value == 0 ? null() : number(value); }
  int size() const { return static_cast<int>(values_.size()); }
  // Valid until the next change to this object.
  std::vector<const char*> pointers() const;
  std::vector<int> lengths() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

class Result {
 public:
  explicit Result(PGresult* result) : result_(result, PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;  // 0 for NULL
  std::optional<std::int64_t> optionalInteger(int row, int column) const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class Connection {
 public:
  // Connects (a libpq URI or key=value string). Throws Error.
  explicit Connection(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One or more statements without parameters (schema scripts, BEGIN).
  void script(const std::string& sql);
  Result run(const std::string& sql, const Params& params = {});
  // Prepares once per connection (and again after a reconnect).
  void prepare(const std::string& name, const std::string& sql);
  Result runPrepared(const std::string& name, const Params& params);
  bool inTransaction() const;
  // After a lost connection: reconnects, forgetting prepared statements.
  // Returns true if the connection had to be made again.
  bool ensureConnected();

 private:
  Result check(PGresult* result, std::string_view what);

  PGconn* connection_ = nullptr;
  std::string conninfo_;
  // Every statement ever prepared (name -> SQL), and those the current
  // server session has: after a reconnect they are prepared again on use.
  std::vector<std::pair<std::string, std::string>> prepared_;
  std::vector<std::string> live_;
};

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db".
std::string redact(const std::string& uri);

// An array literal for an array parameter ($1::text[]), built an element at
// a time: {"a",NULL,"b"} with quotes and backslashes escaped, or {1,2}.
// Bulk statements send a batch's columns as one array each.
class ArrayLiteral {
 public:
  ArrayLiteral& text(std::string_view value);
  ArrayLiteral& null();
  ArrayLiteral& number(std::int64_t value);
  std::string str() const { return out_ + "}"; }

 private:
  void separate() {
    if (out_.size() > 1) out_ += ',';
  }
  std::string out_ = "{";
};

// Bytes as bytea's text input ("\\x" and two hex digits a byte): a text
// parameter cannot carry a NUL, and PostgreSQL refuses invalid UTF-8 in text.
std::string byteaLiteral(std::string_view bytes);

std::string textArray(const std::vector<std::string>& values);
std::string numberArray(const std::vector<std::int64_t>& values);

// Rewrites "?" placeholders (outside quoted strings) as "$1", "$2", ...: the
// query code writes one SQL text for both dialects.
std::string numberPlaceholders(std::string_view sql);

}  // namespace sipwarden::archive::pg
