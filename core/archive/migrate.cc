#include "archive/migrate.h"

#include <sqlite3.h>

#include "archive/pg.h"
#include "archive/postgres_store.h"
#include "archive/sqlite_statement.h"
#include "archive/sqlite_store.h"

namespace sipwarden::archive {
namespace {

struct Table {
  const char* name;
  const char* columns;  // the same in both schemas
  bool hop;             // PostgreSQL adds hop_id
  std::int64_t MigrateCounts::*count;
};

constexpr Table kTables[] = {
    {"conversations", "id, kind, call_id, participants, started_ms, last_ms, legal_hold, last_hash", false,
     &MigrateCounts::conversations},
    {"messages",
     "id, conversation_id, time_ms, direction, sender, sender_name, recipient, recipient_name, call_id, cseq, "
     "content_type, text, original_text, verdict, rules, tags, final_code, source, transport, hash, raw_body, "
     "received_content_type, content_encoding, unreadable, conversation_previous",
     true, &MigrateCounts::messages},
    {"tombstones", "id, hash, purged_ms", true, &MigrateCounts::tombstones},
    {"outcomes", "id, message_id, final_code, hash", true, &MigrateCounts::outcomes},
    {"calls",
     "id, call_id, caller, callee, invite_ms, ringing_ms, answer_ms, end_ms, duration_ms, disposition, end_code, "
     "ended_by, media, closed_by_timer",
     false, &MigrateCounts::calls},
    {"file_transfers", "id, call_id, name, size, blocked, time_ms", false, &MigrateCounts::fileTransfers},
    {"holds", "id, kind, value, created_ms", false, &MigrateCounts::holds},
    {"audit", "id, time_ms, who, action, query, results, hash, signature", false, &MigrateCounts::audit},
};

int columnCount(const char* columns) {
  int n = 1;
  for (const char* c = columns; *c; ++c) n += *c == ',' ? 1 : 0;
  return n;
}

// The source's rows, each column as PostgreSQL's text input (NULL kept).
class SqliteRows {
 public:
  SqliteRows(sqlite3* db, const std::string& sql) : statement_(db, sql) {
    if (!statement_.prepared()) throw ArchiveError("source: " + statement_.error());
  }
  bool next() { return statement_.step() == SQLITE_ROW; }
  void append(pg::Params& params, int column) const {
    if (statement_.null(column)) {
      params.null();
    } else if (sqlite3_column_type(statement_.get(), column) == SQLITE_BLOB) {
      params.text(pg::byteaLiteral(statement_.view(column)));  // raw_body: bytea's hex input
    } else {
      params.text(statement_.view(column));
    }
  }

 private:
  SqliteStatement statement_;
};

}  // namespace

MigrateCounts migrateArchive(const std::string& fromUrl, const std::string& toUrl, const std::string& hopId,
                             const std::function<void(const std::string&)>& progress) {
  const ArchiveLocation from = parseArchiveLocation(fromUrl);
  const ArchiveLocation to = parseArchiveLocation(toUrl);
  if (from.postgres() || !to.postgres()) {
    throw ArchiveError("archive migrate copies a SQLite archive into PostgreSQL (--from sqlite:///... --to postgresql://...)");
  }
  if (hopId.empty()) throw ArchiveError("--hop: the copied chain needs a hop id");
  SqliteStore source(from.target);  // brings an older file up to the newest schema first
  PostgresStore target(to.target, StoreOptions{});
  pg::Connection& db = target.connection();
  if (db.run("SELECT (SELECT count(*) FROM conversations) + (SELECT count(*) FROM tombstones) + "
             "(SELECT count(*) FROM calls) + (SELECT count(*) FROM chain_head)")
          .integer(0, 0) != 0) {
    throw ArchiveError("the target already holds an archive; migrate into an empty database (ids are kept)");
  }
  MigrateCounts counts;
  db.script("BEGIN");
  try {
    for (const Table& table : kTables) {
      const int columns = columnCount(table.columns);
      std::string insert = std::string("INSERT INTO ") + table.name + " (" + table.columns +
                           (table.hop ? ", hop_id" : "") + ") VALUES (";
      for (int i = 1; i <= columns + (table.hop ? 1 : 0); ++i) insert += (i > 1 ? ", $" : "$") + std::to_string(i);
      insert += ")";
      const std::string statement = std::string("copy_") + table.name;
      db.prepare(statement, insert);
      SqliteRows rows(source.handle(), std::string("SELECT ") + table.columns + " FROM " + table.name + " ORDER BY id");
      std::int64_t copied = 0;
      while (rows.next()) {
        pg::Params params;
        for (int i = 0; i < columns; ++i) rows.append(params, i);
        if (table.hop) params.text(hopId);
        db.runPrepared(statement, params);
        ++copied;
      }
      counts.*table.count = copied;
      // The next id a hop assigns follows the copied ones.
      db.run(std::string("SELECT setval(pg_get_serial_sequence('") + table.name + "', 'id'), " +
             "greatest((SELECT max(id) FROM " + table.name + "), 1))");
      if (progress) progress(std::string(table.name) + ": " + std::to_string(copied));
    }
    // The file's chain heads become the hop's.
    SqliteRows head(source.handle(), "SELECT last_id, last_hash, rows, outcomes_last_id, outcomes_last_hash, "
                                     "outcomes_rows, outcomes_from_id, conversations_from_id, frontier FROM chain_head "
                                     "WHERE id = 1");
    if (head.next()) {
      pg::Params params;
      params.text(hopId);
      for (int i = 0; i < 9; ++i) head.append(params, i);
      db.run("INSERT INTO chain_head (hop_id, last_id, last_hash, rows, outcomes_last_id, outcomes_last_hash, "
             "outcomes_rows, outcomes_from_id, conversations_from_id, frontier) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
             params);
    }
    // The audit trail's chain goes with its records.
    SqliteRows audit(source.handle(), "SELECT last_id, last_hash, rows, from_id FROM audit_head WHERE id = 1");
    if (audit.next()) {
      pg::Params params;
      for (int i = 0; i < 4; ++i) audit.append(params, i);
      db.run("UPDATE audit_head SET last_id = $1, last_hash = $2, rows = $3, from_id = $4 WHERE id = 1", params);
    }
    db.script("COMMIT");
  } catch (...) {
    target.rollback();
    throw;
  }
  return counts;
}

}  // namespace sipwarden::archive
