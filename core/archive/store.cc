#include "archive/store.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include "archive/migrations.h"

namespace sipwarden::archive {
namespace {

void bindText(sqlite3_stmt* statement, int index, const std::string& value) {
  sqlite3_bind_text(statement, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

std::string columnText(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column))) : std::string();
}

}  // namespace

Store::Store(const std::string& path, std::int64_t conversationGapMs, std::int64_t maxPages) : gapMs_(conversationGapMs) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string error = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw ArchiveError("cannot open archive " + path + ": " + error);
  }
  try {
    setUp(maxPages);
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    close();
    throw;
  }
}

void Store::setUp(std::int64_t maxPages) {
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec("PRAGMA cache_size=-65536");  // 64 MiB: indexes and the FTS tree stay in memory
  exec("PRAGMA wal_autocheckpoint=10000");
  exec("PRAGMA foreign_keys=ON");
  migrate();
  if (maxPages > 0) exec(("PRAGMA max_page_count = " + std::to_string(maxPages)).c_str());
  insertMessage_ = prepare(
      "INSERT OR IGNORE INTO messages (conversation_id, time_ms, direction, sender, sender_name, recipient, "
      "recipient_name, call_id, cseq, content_type, text, original_text, verdict, rules, tags, final_code, source, "
      "transport, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  insertFts_ = prepare("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)");
  findSession_ = prepare("SELECT id FROM conversations WHERE kind = 'session' AND call_id = ? LIMIT 1");
  findPager_ = prepare(
      "SELECT id FROM conversations WHERE kind = 'pager' AND participants = ? AND last_ms >= ? "
      "ORDER BY last_ms DESC LIMIT 1");
  insertConversation_ =
      prepare("INSERT INTO conversations (kind, call_id, participants, started_ms, last_ms) VALUES (?,?,?,?,?)");
  touchConversation_ = prepare("UPDATE conversations SET last_ms = max(last_ms, ?) WHERE id = ?");
  updateFinal_ = prepare("UPDATE messages SET final_code = ? WHERE call_id = ? AND cseq = ? AND sender = ?");
  updateHead_ = prepare("UPDATE chain_head SET last_id = ?, last_hash = ?, rows = rows + ? WHERE id = 1");
  // Each event writes what it knows; NULL (and '' / 0) keep what is there.
  upsertCall_ = prepare(
      "INSERT INTO calls (call_id, caller, callee, invite_ms, ringing_ms, answer_ms, end_ms, disposition, end_code, "
      "ended_by, media) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, 'in_progress'), coalesce(?9, 0), '', "
      "coalesce(?11, '')) "
      "ON CONFLICT(call_id) DO UPDATE SET "
      "caller = CASE WHEN calls.caller = '' THEN excluded.caller ELSE calls.caller END, "
      "callee = CASE WHEN calls.callee = '' THEN excluded.callee ELSE calls.callee END, "
      "invite_ms = min(calls.invite_ms, excluded.invite_ms), "
      "ringing_ms = coalesce(calls.ringing_ms, excluded.ringing_ms), "
      "answer_ms = coalesce(calls.answer_ms, excluded.answer_ms), "
      "end_ms = coalesce(calls.end_ms, excluded.end_ms), "
      "disposition = CASE WHEN ?8 IS NULL OR calls.end_ms IS NOT NULL THEN calls.disposition ELSE ?8 END, "
      "end_code = CASE WHEN ?9 IS NULL OR calls.end_ms IS NOT NULL THEN calls.end_code ELSE ?9 END, "
      "ended_by = CASE WHEN ?10 IS NULL OR calls.ended_by <> '' THEN calls.ended_by "
      "  WHEN ?10 = calls.caller THEN 'caller' ELSE 'callee' END, "
      "media = CASE WHEN ?11 IS NULL THEN calls.media ELSE ?11 END, "
      "duration_ms = CASE WHEN coalesce(calls.end_ms, excluded.end_ms) IS NOT NULL "
      "  AND coalesce(calls.answer_ms, excluded.answer_ms) IS NOT NULL "
      "  THEN coalesce(calls.end_ms, excluded.end_ms) - coalesce(calls.answer_ms, excluded.answer_ms) ELSE NULL END");
  insertFile_ = prepare("INSERT INTO file_transfers (call_id, name, size, blocked, time_ms) VALUES (?,?,?,?,?)");
  closeStale_ = prepare(
      "UPDATE calls SET end_ms = ?1, duration_ms = ?1 - answer_ms, closed_by_timer = 1, ended_by = 'session_timer' "
      "WHERE end_ms IS NULL AND answer_ms IS NOT NULL AND answer_ms < ?1 - ?2");
  sqlite3_stmt* head = prepare("SELECT last_hash FROM chain_head WHERE id = 1");
  if (sqlite3_step(head) == SQLITE_ROW) lastHash_ = columnText(head, 0);
  sqlite3_finalize(head);
}

Store::~Store() { close(); }

void Store::close() {
  for (sqlite3_stmt* statement : {insertMessage_, insertFts_, findSession_, findPager_, insertConversation_,
                                  touchConversation_, updateFinal_, upsertCall_, insertFile_, closeStale_,
                                  updateHead_}) {
    sqlite3_finalize(statement);  // a no-op for null
  }
  sqlite3_close(db_);
  db_ = nullptr;
}

void Store::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw ArchiveError(message);
  }
}

sqlite3_stmt* Store::prepare(const char* sql) const {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
    throw ArchiveError(std::string("cannot prepare statement: ") + sqlite3_errmsg(db_));
  }
  return statement;
}

int Store::schemaVersion() const {
  sqlite3_stmt* statement = prepare("PRAGMA user_version");
  int version = 0;
  if (sqlite3_step(statement) == SQLITE_ROW) version = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  return version;
}

void Store::migrate() {
  const int current = schemaVersion();
  const int newest = migrations().empty() ? 0 : migrations().back().version;
  if (current > newest) {
    throw ArchiveError("archive schema version " + std::to_string(current) + " is newer than this sipwarden (" +
                       std::to_string(newest) + "); use a newer sipwarden");
  }
  for (const Migration& migration : migrations()) {
    if (migration.version <= current) continue;
    exec("BEGIN IMMEDIATE");
    try {
      exec(migration.sql);
      exec(("PRAGMA user_version = " + std::to_string(migration.version)).c_str());
      exec("COMMIT");
    } catch (const ArchiveError& error) {
      exec("ROLLBACK");
      throw ArchiveError(std::string("migration ") + migration.name + " failed: " + error.what());
    }
  }
}

void Store::begin() {
  exec("BEGIN IMMEDIATE");
  rowsAdded_ = 0;
}

void Store::commit() {
  // The chain head moves once per transaction, with the rows it covers.
  if (rowsAdded_ > 0) {
    sqlite3_reset(updateHead_);
    sqlite3_bind_int64(updateHead_, 1, lastId_);
    bindText(updateHead_, 2, lastHash_);
    sqlite3_bind_int64(updateHead_, 3, rowsAdded_);
    if (sqlite3_step(updateHead_) != SQLITE_DONE) {
      throw ArchiveError(std::string("cannot update chain head: ") + sqlite3_errmsg(db_));
    }
    sqlite3_reset(updateHead_);
  }
  exec("COMMIT");
  rowsAdded_ = 0;
}
void Store::rollback() {
  // SQLite rolls back by itself on some errors (SQLITE_FULL); then there is
  // nothing left to roll back.
  if (sqlite3_get_autocommit(db_) == 0) exec("ROLLBACK");
  rowsAdded_ = 0;
  sqlite3_stmt* head = prepare("SELECT last_hash FROM chain_head WHERE id = 1");
  if (sqlite3_step(head) == SQLITE_ROW) lastHash_ = reinterpret_cast<const char*>(sqlite3_column_text(head, 0));
  sqlite3_finalize(head);
}

std::string Store::rowHash(const std::string& previousHash, const MessageRecord& r) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  const std::string fields[] = {previousHash, std::to_string(r.timeMs), r.direction, r.sender, r.senderName,
                                r.recipient, r.recipientName, r.callId, std::to_string(r.cseq), r.contentType,
                                r.text, r.originalText, r.verdict, r.rules, r.tags, r.source, r.transport};
  for (const auto& field : fields) {
    // Length-prefixed, so no choice of field contents can collide.
    const std::string length = std::to_string(field.size()) + ":";
    engine.update(length);
    engine.update(field);
  }
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::int64_t Store::conversationFor(const MessageRecord& record) {
  sqlite3_stmt* find = record.session ? findSession_ : findPager_;
  sqlite3_reset(find);
  if (record.session) {
    bindText(find, 1, record.callId);
  } else {
    bindText(find, 1, record.participants);
    sqlite3_bind_int64(find, 2, record.timeMs - gapMs_);
  }
  std::int64_t id = 0;
  if (sqlite3_step(find) == SQLITE_ROW) id = sqlite3_column_int64(find, 0);
  sqlite3_reset(find);
  if (id != 0) {
    sqlite3_reset(touchConversation_);
    sqlite3_bind_int64(touchConversation_, 1, record.timeMs);
    sqlite3_bind_int64(touchConversation_, 2, id);
    sqlite3_step(touchConversation_);
    sqlite3_reset(touchConversation_);
    return id;
  }
  sqlite3_reset(insertConversation_);
  bindText(insertConversation_, 1, record.session ? "session" : "pager");
  if (record.session) {
    bindText(insertConversation_, 2, record.callId);
  } else {
    sqlite3_bind_null(insertConversation_, 2);
  }
  bindText(insertConversation_, 3, record.participants);
  sqlite3_bind_int64(insertConversation_, 4, record.timeMs);
  sqlite3_bind_int64(insertConversation_, 5, record.timeMs);
  if (sqlite3_step(insertConversation_) != SQLITE_DONE) {
    throw ArchiveError(std::string("cannot insert conversation: ") + sqlite3_errmsg(db_));
  }
  sqlite3_reset(insertConversation_);
  return sqlite3_last_insert_rowid(db_);
}

bool Store::insertMessage(const MessageRecord& r) {
  const std::int64_t conversation = conversationFor(r);
  const std::string hash = rowHash(lastHash_, r);
  sqlite3_stmt* s = insertMessage_;
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, conversation);
  sqlite3_bind_int64(s, 2, r.timeMs);
  bindText(s, 3, r.direction);
  bindText(s, 4, r.sender);
  bindText(s, 5, r.senderName);
  bindText(s, 6, r.recipient);
  bindText(s, 7, r.recipientName);
  bindText(s, 8, r.callId);
  sqlite3_bind_int64(s, 9, r.cseq);
  bindText(s, 10, r.contentType);
  bindText(s, 11, r.text);
  if (r.originalText.empty()) {
    sqlite3_bind_null(s, 12);
  } else {
    bindText(s, 12, r.originalText);
  }
  bindText(s, 13, r.verdict);
  bindText(s, 14, r.rules);
  bindText(s, 15, r.tags);
  sqlite3_bind_int(s, 16, r.finalCode);
  bindText(s, 17, r.source);
  bindText(s, 18, r.transport);
  bindText(s, 19, hash);
  if (sqlite3_step(s) != SQLITE_DONE) throw ArchiveError(std::string("cannot insert message: ") + sqlite3_errmsg(db_));
  sqlite3_reset(s);
  if (sqlite3_changes(db_) == 0) return false;  // already archived
  const std::int64_t id = sqlite3_last_insert_rowid(db_);
  sqlite3_reset(insertFts_);
  sqlite3_bind_int64(insertFts_, 1, id);
  bindText(insertFts_, 2, r.text);
  if (sqlite3_step(insertFts_) != SQLITE_DONE) throw ArchiveError(std::string("cannot index: ") + sqlite3_errmsg(db_));
  sqlite3_reset(insertFts_);
  lastHash_ = hash;
  lastId_ = id;
  ++rowsAdded_;
  return true;
}

void Store::updateFinalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender, int code) {
  sqlite3_reset(updateFinal_);
  sqlite3_bind_int(updateFinal_, 1, code);
  bindText(updateFinal_, 2, callId);
  sqlite3_bind_int64(updateFinal_, 3, cseq);
  bindText(updateFinal_, 4, sender);
  if (sqlite3_step(updateFinal_) != SQLITE_DONE) {
    throw ArchiveError(std::string("cannot record final code: ") + sqlite3_errmsg(db_));
  }
  sqlite3_reset(updateFinal_);
}

namespace {

void bindOptionalText(sqlite3_stmt* statement, int index, const std::string& value) {
  if (value.empty()) {
    sqlite3_bind_null(statement, index);
  } else {
    bindText(statement, index, value);
  }
}

void bindOptionalInt(sqlite3_stmt* statement, int index, std::int64_t value) {
  if (value == 0) {
    sqlite3_bind_null(statement, index);
  } else {
    sqlite3_bind_int64(statement, index, value);
  }
}

}  // namespace

void Store::upsertCall(const CallRecord& r) {
  sqlite3_stmt* s = upsertCall_;
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  bindText(s, 1, r.callId);
  bindText(s, 2, r.caller);
  bindText(s, 3, r.callee);
  sqlite3_bind_int64(s, 4, r.inviteMs != 0 ? r.inviteMs : (r.endMs != 0 ? r.endMs : r.answerMs));
  bindOptionalInt(s, 5, r.ringingMs);
  bindOptionalInt(s, 6, r.answerMs);
  bindOptionalInt(s, 7, r.endMs);
  bindOptionalText(s, 8, r.disposition);
  bindOptionalInt(s, 9, r.endCode);
  bindOptionalText(s, 10, r.endedByAor);
  bindOptionalText(s, 11, r.media);
  if (sqlite3_step(s) != SQLITE_DONE) throw ArchiveError(std::string("cannot write call: ") + sqlite3_errmsg(db_));
  sqlite3_reset(s);
}

void Store::insertFileTransfer(const FileTransferRecord& r) {
  sqlite3_stmt* s = insertFile_;
  sqlite3_reset(s);
  bindText(s, 1, r.callId);
  bindText(s, 2, r.name);
  if (r.size < 0) {
    sqlite3_bind_null(s, 3);
  } else {
    sqlite3_bind_int64(s, 3, r.size);
  }
  sqlite3_bind_int(s, 4, r.blocked ? 1 : 0);
  sqlite3_bind_int64(s, 5, r.timeMs);
  if (sqlite3_step(s) != SQLITE_DONE) throw ArchiveError(std::string("cannot write transfer: ") + sqlite3_errmsg(db_));
  sqlite3_reset(s);
}

void Store::closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) {
  sqlite3_reset(closeStale_);
  sqlite3_bind_int64(closeStale_, 1, nowMs);
  sqlite3_bind_int64(closeStale_, 2, timeoutMs);
  if (sqlite3_step(closeStale_) != SQLITE_DONE) throw ArchiveError(std::string("cannot close calls: ") + sqlite3_errmsg(db_));
  sqlite3_reset(closeStale_);
}

std::int64_t Store::purgeBatch(std::int64_t cutoffMs, std::int64_t nowMs, int limit) {
  static const char* kVictims =
      "SELECT m.id, m.hash, m.text FROM messages m "
      "WHERE m.time_ms < ?1 "
      "AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.kind = 'conversation' AND h.value = CAST(m.conversation_id AS TEXT)) "
      "AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.kind = 'participant' AND h.value IN (m.sender, m.recipient)) "
      "ORDER BY m.id LIMIT ?2";
  sqlite3_stmt* victims = prepare(kVictims);
  sqlite3_bind_int64(victims, 1, cutoffMs);
  sqlite3_bind_int(victims, 2, limit);
  sqlite3_stmt* tombstone = prepare("INSERT INTO tombstones (id, hash, purged_ms) VALUES (?, ?, ?)");
  sqlite3_stmt* unindex = prepare("INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', ?, ?)");
  sqlite3_stmt* remove = prepare("DELETE FROM messages WHERE id = ?");
  std::int64_t purged = 0;
  while (sqlite3_step(victims) == SQLITE_ROW) {
    const std::int64_t id = sqlite3_column_int64(victims, 0);
    sqlite3_reset(tombstone);
    sqlite3_bind_int64(tombstone, 1, id);
    bindText(tombstone, 2, columnText(victims, 1));
    sqlite3_bind_int64(tombstone, 3, nowMs);
    sqlite3_reset(unindex);
    sqlite3_bind_int64(unindex, 1, id);
    bindText(unindex, 2, columnText(victims, 2));
    sqlite3_reset(remove);
    sqlite3_bind_int64(remove, 1, id);
    if (sqlite3_step(tombstone) != SQLITE_DONE || sqlite3_step(unindex) != SQLITE_DONE ||
        sqlite3_step(remove) != SQLITE_DONE) {
      const std::string error = sqlite3_errmsg(db_);
      for (auto* statement : {victims, tombstone, unindex, remove}) sqlite3_finalize(statement);
      throw ArchiveError("purge failed: " + error);
    }
    ++purged;
  }
  for (auto* statement : {victims, tombstone, unindex, remove}) sqlite3_finalize(statement);
  exec(("DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE invite_ms < " + std::to_string(cutoffMs) +
        " LIMIT " + std::to_string(limit) + ")").c_str());
  exec("DELETE FROM conversations WHERE NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = conversations.id)"
       " AND NOT EXISTS (SELECT 1 FROM holds WHERE kind = 'conversation' AND value = CAST(conversations.id AS TEXT))");
  return purged;
}

void Store::setHold(const std::string& kind, const std::string& value, bool held, std::int64_t nowMs) {
  if (kind != "participant" && kind != "conversation") throw ArchiveError("hold kind must be participant or conversation");
  sqlite3_stmt* statement = prepare(held ? "INSERT OR IGNORE INTO holds (kind, value, created_ms) VALUES (?, ?, ?)"
                                         : "DELETE FROM holds WHERE kind = ? AND value = ?");
  bindText(statement, 1, kind);
  bindText(statement, 2, value);
  if (held) sqlite3_bind_int64(statement, 3, nowMs);
  const int rc = sqlite3_step(statement);
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) throw ArchiveError(std::string("cannot change hold: ") + sqlite3_errmsg(db_));
}

std::int64_t Store::messageCount() const {
  sqlite3_stmt* statement = prepare("SELECT count(*) FROM messages");
  std::int64_t n = 0;
  if (sqlite3_step(statement) == SQLITE_ROW) n = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  return n;
}

VerifyReport Store::verify() const {
  VerifyReport report;
  // Purged rows are tombstones (their hash only): the chain steps over them.
  sqlite3_stmt* rows = prepare(
      "SELECT id, time_ms, direction, sender, sender_name, recipient, recipient_name, call_id, cseq, content_type, "
      "text, coalesce(original_text, ''), verdict, rules, tags, final_code, source, transport, hash, 0 "
      "FROM messages UNION ALL "
      "SELECT id, 0, '', '', '', '', '', '', 0, '', '', '', '', '', '', 0, '', '', hash, 1 FROM tombstones "
      "ORDER BY 1");
  std::string previous;
  std::int64_t lastId = 0;
  while (sqlite3_step(rows) == SQLITE_ROW) {
    MessageRecord r;
    const std::int64_t id = sqlite3_column_int64(rows, 0);
    r.timeMs = sqlite3_column_int64(rows, 1);
    r.direction = columnText(rows, 2);
    r.sender = columnText(rows, 3);
    r.senderName = columnText(rows, 4);
    r.recipient = columnText(rows, 5);
    r.recipientName = columnText(rows, 6);
    r.callId = columnText(rows, 7);
    r.cseq = static_cast<std::uint32_t>(sqlite3_column_int64(rows, 8));
    r.contentType = columnText(rows, 9);
    r.text = columnText(rows, 10);
    r.originalText = columnText(rows, 11);
    r.verdict = columnText(rows, 12);
    r.rules = columnText(rows, 13);
    r.tags = columnText(rows, 14);
    r.finalCode = sqlite3_column_int(rows, 15);
    r.source = columnText(rows, 16);
    r.transport = columnText(rows, 17);
    const std::string stored = columnText(rows, 18);
    const bool purged = sqlite3_column_int(rows, 19) != 0;
    ++report.rows;
    if (!purged && rowHash(previous, r) != stored) {
      report.ok = false;
      report.firstBadId = id;
      report.problem = "row " + std::to_string(id) +
                       " does not match its hash: it was edited, or a row before it was inserted or deleted";
      break;
    }
    previous = stored;
    lastId = id;
  }
  sqlite3_finalize(rows);
  if (report.ok) {
    sqlite3_stmt* head = prepare("SELECT last_id, last_hash, rows FROM chain_head WHERE id = 1");
    if (sqlite3_step(head) == SQLITE_ROW) {
      const std::int64_t headId = sqlite3_column_int64(head, 0);
      const std::string headHash = columnText(head, 1);
      const std::int64_t headRows = sqlite3_column_int64(head, 2);
      if (headId != lastId || headHash != previous || headRows != report.rows) {
        report.ok = false;
        report.firstBadId = lastId + 1;
        report.problem = "the chain ends at row " + std::to_string(lastId) + " but the archive recorded row " +
                         std::to_string(headId) + " (" + std::to_string(headRows) +
                         " rows) as its last: rows were deleted or the head was altered";
      }
    }
    sqlite3_finalize(head);
  }
  return report;
}

}  // namespace sipwarden::archive
