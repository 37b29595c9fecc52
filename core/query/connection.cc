#include "query/connection.h"

#include <sqlite3.h>

#include <filesystem>

#include "archive/audit_trail.h"
#include "archive/migrations.h"
#include "archive/pg.h"
#include "archive/sqlite_statement.h"
#include "archive/store.h"

namespace sipwarden::query {
namespace {

class SqliteRows final : public Rows {
 public:
  SqliteRows(sqlite3* db, const std::string& sql, const std::vector<Value>& values)
      : statement_(db, sql), fullText_(sql.find(" MATCH ") != std::string::npos) {
    if (!statement_.prepared()) throw ArchiveReadError("archive: " + statement_.error());
    int index = 1;
    for (const auto& value : values) {
      if (!value.isText) {
        sqlite3_bind_int64(statement_.get(), index++, value.number);
      } else {
        const auto& text = value.text;
        sqlite3_bind_text(statement_.get(), index++, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
      }
    }
  }

  bool step() override {
    const int rc = statement_.step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string error = statement_.error();
    // A plain SQLITE_ERROR from a full-text query is the FTS5 parser
    // refusing the user's text ("unterminated string", "syntax error").
    if (rc == SQLITE_ERROR && fullText_) throw QueryError("text: " + error);
    throw ArchiveReadError("archive: " + error);
  }
  std::int64_t integer(int column) const override { return statement_.integer(column); }
  std::string text(int column) const override { return statement_.text(column); }
  bool null(int column) const override { return statement_.null(column); }

 private:
  archive::SqliteStatement statement_;
  bool fullText_;
};

sqlite3* openSqlite(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw ArchiveReadError("cannot open archive " + path + ": " + error);
  }
  // The writer holds its lock for one batch (milliseconds); wait that out.
  sqlite3_busy_timeout(db, 5000);
  return db;
}

// A read-only connection (WAL lets it read while the hop's writer commits;
// it never takes the write lock), plus a read-write one opened only to
// append audit rows.
class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(const std::string& path) : path_(path) {
    if (!std::filesystem::exists(path)) throw ArchiveReadError("no archive at " + path);
    read_ = openSqlite(path, SQLITE_OPEN_READONLY);
    int version = 0;
    {
      SqliteRows rows(read_, "PRAGMA user_version", {});
      if (rows.step()) version = static_cast<int>(rows.integer(0));
    }
    if (version < archive::migrations().back().version) {
      // An archive last opened by an older sipwarden: migrate it as the hop
      // would (the audit table is needed), then read on.
      sqlite3_close(read_);
      read_ = nullptr;
      try {
        archive::openStore(path, archive::StoreOptions{});
      } catch (const archive::ArchiveError& error) {
        throw ArchiveReadError(error.what());
      }
      read_ = openSqlite(path, SQLITE_OPEN_READONLY);
    }
    sqlite3_exec(read_, "PRAGMA cache_size=-32768", nullptr, nullptr, nullptr);
  }
  ~SqliteConnection() override {
    sqlite3_close(read_);
    sqlite3_close(write_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Dialect dialect() const override { return Dialect::kSqlite; }
  std::unique_ptr<Rows> query(const std::string& sql, const std::vector<Value>& values) override {
    return std::make_unique<SqliteRows>(read_, sql, values);
  }
  void appendAudit(const archive::AuditEntry& entry) override {
    if (!write_) {
      write_ = openSqlite(path_, SQLITE_OPEN_READWRITE);
      // The archive's own durability (WAL, synchronous=NORMAL: safe against a
      // crash, not against power loss before the next checkpoint). With the
      // default FULL, every audited search fsynced while holding the write
      // lock, and the hop's writer waited behind it.
      sqlite3_exec(write_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    }
    // IMMEDIATE: the head is read under the write lock, so two appenders
    // (this and the hop's retention, or two searches) never fork the chain.
    if (sqlite3_exec(write_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw ArchiveReadError(std::string("audit trail: ") + sqlite3_errmsg(write_));
    }
    try {
      std::string previous;
      std::int64_t id = 0;
      {
        SqliteRows head(write_, archive::kAuditHeadSqlite, {});
        if (!head.step()) throw ArchiveReadError("audit trail: its head is missing");
        previous = head.text(0);
        id = head.integer(1);
      }
      const std::string hash = archive::auditHash(previous, id, entry);
      SqliteRows(write_, archive::kInsertAudit,
                 {id, entry.timeMs, entry.who, entry.action, entry.query, entry.results, hash, std::string()})
          .step();
      SqliteRows(write_, archive::kMoveAuditHead, {id, hash}).step();
      if (sqlite3_exec(write_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw ArchiveReadError(std::string("audit trail: ") + sqlite3_errmsg(write_));
      }
    } catch (...) {
      sqlite3_exec(write_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

 private:
  std::string path_;
  sqlite3* read_ = nullptr;
  sqlite3* write_ = nullptr;
};

// PostgreSQL returns a whole result at once; pages are small (limit + 1).
class PostgresRows final : public Rows {
 public:
  explicit PostgresRows(archive::pg::Result result) : result_(std::move(result)) {}
  bool step() override { return ++row_ < result_.rows(); }
  std::int64_t integer(int column) const override { return result_.integer(row_, column); }
  std::string text(int column) const override { return result_.text(row_, column); }
  bool null(int column) const override { return result_.null(row_, column); }

 private:
  archive::pg::Result result_;
  int row_ = -1;
};

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(const std::string& uri) : db_(connect(uri)) {}

  Dialect dialect() const override { return Dialect::kPostgres; }
  std::unique_ptr<Rows> query(const std::string& sql, const std::vector<Value>& values) override {
    return std::make_unique<PostgresRows>(run(sql, values));
  }
  void appendAudit(const archive::AuditEntry& entry) override {
    try {
      db_->ensureConnected();
      db_->script("BEGIN");
      const auto head = db_->run(archive::pg::numberPlaceholders(archive::kAuditHeadPostgres));
      if (head.rows() != 1) throw archive::ArchiveError("its head is missing");
      const std::int64_t id = head.integer(0, 1);
      const std::string hash = archive::auditHash(head.text(0, 0), id, entry);
      db_->run(archive::pg::numberPlaceholders(archive::kInsertAudit), archive::pg::Params()
                                                                             .number(id)
                                                                             .number(entry.timeMs)
                                                                             .text(entry.who)
                                                                             .text(entry.action)
                                                                             .text(entry.query)
                                                                             .number(entry.results)
                                                                             .text(hash)
                                                                             .text(""));
      db_->run(archive::pg::numberPlaceholders(archive::kMoveAuditHead), archive::pg::Params().number(id).text(hash));
      db_->script("COMMIT");
    } catch (const archive::ArchiveError& error) {
      try {
        if (db_->inTransaction()) db_->script("ROLLBACK");
      } catch (const archive::ArchiveError&) {
      }
      throw ArchiveReadError(std::string("audit trail: ") + error.what());
    }
  }

 private:
  static std::unique_ptr<archive::pg::Connection> connect(const std::string& uri) {
    try {
      // Migrates an older schema first, as the hop would; then reads only.
      archive::openStore(uri, archive::StoreOptions{});
      return std::make_unique<archive::pg::Connection>(uri);
    } catch (const archive::ArchiveError& error) {
      throw ArchiveReadError(error.what());
    }
  }
  archive::pg::Result run(const std::string& sql, const std::vector<Value>& values) {
    archive::pg::Params params;
    for (const auto& value : values) {
      if (value.isText) {
        params.text(value.text);
      } else {
        params.number(value.number);
      }
    }
    try {
      // A server restarted since the last query: the failed query lost the
      // connection, this one makes it again.
      db_->ensureConnected();
      return db_->run(archive::pg::numberPlaceholders(sql), params);
    } catch (const archive::ArchiveError& error) {
      throw ArchiveReadError(std::string("archive: ") + error.what());
    }
  }

  std::unique_ptr<archive::pg::Connection> db_;
};

}  // namespace

std::unique_ptr<Connection> openConnection(const std::string& url) {
  archive::ArchiveLocation location;
  try {
    location = archive::parseArchiveLocation(url);
  } catch (const archive::ArchiveError& error) {
    throw ArchiveReadError(error.what());
  }
  if (location.postgres()) return std::make_unique<PostgresConnection>(location.target);
  return std::make_unique<SqliteConnection>(location.target);
}

}  // namespace sipwarden::query
