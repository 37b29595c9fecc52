// Over 500 lines because it is the whole SQLite backend of the Store
// interface: writing (rows, conversations, outcomes, calls), retention and
// holds, and verification read the same prepared statements and caches.
#include "archive/sqlite_store.h"

#include "archive/audit_trail.h"
#include "archive/hash_chain.h"

#include <charconv>
#include <chrono>
#include <set>
#include <limits>

#include "archive/migrations.h"
#include "archive/sqlite_statement.h"

namespace sipwarden::archive {
namespace {

void bindText(sqlite3_stmt* statement, int index, const std::string& value) {
  sqlite3_bind_text(statement, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

// For values that outlive the statement's step (the record being written):
// SQLite reads them in place instead of copying each one.
void bindStatic(sqlite3_stmt* statement, int index, std::string_view value) {
  sqlite3_bind_text(statement, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
}

std::string columnText(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column))) : std::string();
}

// Bounds the final-code shortcut's memory (about 100 bytes a row).
constexpr std::size_t kRecentRows = 65536;

std::string requestKey(std::string_view callId, std::uint32_t cseq, std::string_view sender) {
  std::string key;
  key.reserve(callId.size() + sender.size() + 12);
  key.append(callId).push_back('\0');
  key.append(std::to_string(cseq)).push_back('\0');
  key.append(sender);
  return key;
}

}  // namespace

void tuneSqliteForProcess() {
  // SQLITE_MISUSE once SQLite is initialised: then the defaults stay.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

SqliteStore::SqliteStore(const std::string& path, std::int64_t conversationGapMs, std::int64_t maxPages) : gapMs_(conversationGapMs) {
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

void SqliteStore::setUp(std::int64_t maxPages) {
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec("PRAGMA cache_size=-65536");  // 64 MiB: indexes and the FTS tree stay in memory
  exec("PRAGMA wal_autocheckpoint=10000");
  exec("PRAGMA foreign_keys=ON");
  migrate();
  if (maxPages > 0) exec(("PRAGMA max_page_count = " + std::to_string(maxPages)).c_str());
  insertMessage_ = prepare(
      "INSERT INTO messages (conversation_id, time_ms, direction, sender, sender_name, recipient, "
      "recipient_name, call_id, cseq, content_type, text, original_text, verdict, rules, tags, final_code, source, "
      "transport, hash, id, raw_body, received_content_type, content_encoding, unreadable, conversation_previous) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT (call_id, cseq, sender) DO NOTHING");  // only a request seen before is skipped
  insertFts_ = prepare("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)");
  findSession_ = prepare("SELECT id FROM conversations WHERE kind = 'session' AND call_id = ? LIMIT 1");
  // The newest pager conversation of these participants (whether it is
  // recent enough is the caller's test): conversations_participants.
  findPager_ = prepare(
      "SELECT id, last_ms FROM conversations WHERE kind = 'pager' AND participants = ? "
      "ORDER BY last_ms DESC LIMIT 1");
  insertConversation_ =
      prepare("INSERT INTO conversations (kind, call_id, participants, started_ms, last_ms) VALUES (?,?,?,?,?)");
  touchConversation_ = prepare("UPDATE conversations SET last_ms = max(last_ms, ?) WHERE id = ?");
  conversationLastHash_ = prepare("SELECT last_hash FROM conversations WHERE id = ?");
  setConversationLastHash_ = prepare("UPDATE conversations SET last_hash = ? WHERE id = ?");
  findMessage_ = prepare("SELECT id, hash FROM messages WHERE call_id = ? AND cseq = ? AND sender = ?");
  insertOutcome_ = prepare("INSERT INTO outcomes (message_id, final_code, hash) VALUES (?, ?, ?)");
  updateOutcomeHead_ = prepare(
      "UPDATE chain_head SET outcomes_last_id = ?, outcomes_last_hash = ?, outcomes_rows = outcomes_rows + ? "
      "WHERE id = 1");
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
  newestConversation_ = prepare("SELECT max(last_ms) FROM conversations");
  readDataVersion_ = prepare("PRAGMA data_version");
  loadHeads();
  knownDataVersion_ = dataVersion();
  resetConversationCache();
}

void SqliteStore::adoptHoldsAndTombstones() {
  // Inside schema 008's own transaction, and only there: a flag an
  // administrator could reset would let the next start adopt tombstones
  // forged after the migration.
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  std::vector<std::pair<std::string, std::string>> holds;
  {
    SqliteStatement existing(db_, "SELECT kind, value FROM holds ORDER BY id");
    while (existing.step() == SQLITE_ROW) holds.emplace_back(existing.text(0), existing.text(1));
  }
  for (const auto& [kind, value] : holds) {
    appendAudit(AuditEntry{now, "migration", "hold", holdRecordQuery(kind, value, "held before schema 008"), 1}, false);
  }
  std::vector<std::pair<std::int64_t, std::string>> tombstones;
  {
    SqliteStatement existing(db_, "SELECT id, hash FROM tombstones ORDER BY id");
    while (existing.step() == SQLITE_ROW) tombstones.emplace_back(existing.integer(0), existing.text(1));
  }
  if (!tombstones.empty()) {
    appendAudit(AuditEntry{now, "migration", "purge", purgeRecordQuery("purged before schema 008", 0, tombstones),
                           static_cast<std::int64_t>(tombstones.size())},
                false);
  }
}

void SqliteStore::appendAudit(const AuditEntry& entry, bool sign) {
  SqliteStatement head(db_, kAuditHeadSqlite);
  if (!head.prepared() || head.step() != SQLITE_ROW) throw ArchiveError("cannot read the audit trail's head");
  const std::int64_t id = head.integer(1);
  const std::string hash = auditHash(head.text(0), id, entry);
  const std::string signature = sign && signer_ ? signer_(hash) : std::string();
  SqliteStatement insert(db_, kInsertAudit);
  sqlite3_bind_int64(insert.get(), 1, id);
  sqlite3_bind_int64(insert.get(), 2, entry.timeMs);
  bindText(insert.get(), 3, entry.who);
  bindText(insert.get(), 4, entry.action);
  bindText(insert.get(), 5, entry.query);
  sqlite3_bind_int64(insert.get(), 6, entry.results);
  bindText(insert.get(), 7, hash);
  bindText(insert.get(), 8, signature);
  SqliteStatement move(db_, kMoveAuditHead);
  sqlite3_bind_int64(move.get(), 1, id);
  bindText(move.get(), 2, hash);
  if (!insert.prepared() || !move.prepared() || insert.step() != SQLITE_DONE || move.step() != SQLITE_DONE) {
    throw ArchiveError(std::string("cannot append to the audit trail: ") + sqlite3_errmsg(db_));
  }
}

SqliteStore::~SqliteStore() { close(); }

void SqliteStore::close() {
  for (sqlite3_stmt* statement : {insertMessage_, insertFts_, findSession_, findPager_, insertConversation_,
                                  touchConversation_, findMessage_, upsertCall_, insertFile_, closeStale_,
                                  updateHead_, newestConversation_, readDataVersion_, insertOutcome_,
                                  updateOutcomeHead_, conversationLastHash_, setConversationLastHash_}) {
    sqlite3_finalize(statement);  // a no-op for null
  }
  sqlite3_close(db_);
  db_ = nullptr;
}

void SqliteStore::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw ArchiveError(message);
  }
}

sqlite3_stmt* SqliteStore::prepare(const char* sql) const {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
    throw ArchiveError(std::string("cannot prepare statement: ") + sqlite3_errmsg(db_));
  }
  return statement;
}

int SqliteStore::schemaVersion() {
  sqlite3_stmt* statement = prepare("PRAGMA user_version");
  int version = 0;
  if (sqlite3_step(statement) == SQLITE_ROW) version = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  return version;
}

// The migration that made holds and purges records of the audit trail.
constexpr int kStoryChainVersion = 8;

void SqliteStore::migrate() {
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
      if (migration.version == kStoryChainVersion) adoptHoldsAndTombstones();
      exec(("PRAGMA user_version = " + std::to_string(migration.version)).c_str());
      exec("COMMIT");
    } catch (const ArchiveError& error) {
      exec("ROLLBACK");
      throw ArchiveError(std::string("migration ") + migration.name + " failed: " + error.what());
    }
  }
}

void SqliteStore::begin(const std::vector<const MessageRecord*>& /*messages: one writer per file, nothing to serialise*/) {
  exec("BEGIN IMMEDIATE");
  rowsAdded_ = 0;
  outcomesAdded_ = 0;
  touched_.clear();
  // Another connection committed (a purge or hold by hand, an audit row):
  // the cached conversations may be gone, and the heads may have moved.
  const std::int64_t version = dataVersion();
  if (version != knownDataVersion_) {
    knownDataVersion_ = version;
    resetConversationCache();
    loadHeads();
  }
}

void SqliteStore::commit() {
  flushTouched();
  // Each chain's head moves once per transaction, with the rows it covers.
  auto moveHead = [this](sqlite3_stmt* update, std::int64_t id, const std::string& hash, std::int64_t added,
                         const char* chain) {
    if (added == 0) return;
    sqlite3_reset(update);
    sqlite3_bind_int64(update, 1, id);
    bindText(update, 2, hash);
    sqlite3_bind_int64(update, 3, added);
    if (sqlite3_step(update) != SQLITE_DONE) {
      throw ArchiveError(std::string("cannot update ") + chain + " head: " + sqlite3_errmsg(db_));
    }
    sqlite3_reset(update);
  };
  moveHead(updateHead_, lastId_, lastHash_, rowsAdded_, "chain");
  moveHead(updateOutcomeHead_, lastOutcomeId_, lastOutcomeHash_, outcomesAdded_, "outcome chain");
  merkle::Frontier grown = frontier_;
  if (!pendingLeaves_.empty()) {
    for (const std::string& leaf : pendingLeaves_) grown.append(merkle::leafHash(leaf));
    SqliteStatement store(db_, "UPDATE chain_head SET frontier = ? WHERE id = 1");
    bindText(store.get(), 1, grown.serialize());
    if (store.step() != SQLITE_DONE) throw ArchiveError(std::string("cannot update the Merkle tree: ") + sqlite3_errmsg(db_));
  }
  exec("COMMIT");
  frontier_ = std::move(grown);
  pendingLeaves_.clear();
  rowsAdded_ = 0;
  outcomesAdded_ = 0;
}

void SqliteStore::loadHeads() {
  // The next id follows every id ever used: SQLite's own choice (the largest
  // rowid + 1) would hand a purged row's id out again once a purge took the
  // newest rows, and its tombstone and outcome records still name it.
  sqlite3_stmt* head = prepare(
      "SELECT last_hash, outcomes_last_hash, 1 + max(last_id, coalesce((SELECT max(id) FROM messages), 0), "
      "coalesce((SELECT max(id) FROM tombstones), 0)), frontier, rows FROM chain_head WHERE id = 1");
  std::string frontier;
  std::int64_t rows = 0;
  if (sqlite3_step(head) == SQLITE_ROW) {
    lastHash_ = columnText(head, 0);
    lastOutcomeHash_ = columnText(head, 1);
    nextMessageId_ = sqlite3_column_int64(head, 2);
    frontier = columnText(head, 3);
    rows = sqlite3_column_int64(head, 4);
  }
  sqlite3_finalize(head);
  pendingLeaves_.clear();
  std::optional<merkle::Frontier> parsed = merkle::Frontier::parse(frontier);
  if (parsed && static_cast<std::int64_t>(parsed->size()) == rows) {
    frontier_ = std::move(*parsed);
    return;
  }
  // Written before schema 008 (or altered): rebuilt from the chain, once.
  frontier_ = merkle::Frontier();
  for (const auto& [id, leaf] : chainLeaves("")) frontier_.append(merkle::leafHash(leaf));
}
void SqliteStore::rollback() {
  // First, so that even a failing ROLLBACK leaves no code pointing at a row
  // that is gone.
  recent_.clear();
  // SQLite rolls back by itself on some errors (SQLITE_FULL); then there is
  // nothing left to roll back.
  if (sqlite3_get_autocommit(db_) == 0) exec("ROLLBACK");
  rowsAdded_ = 0;
  outcomesAdded_ = 0;
  // Conversations created in the rolled-back transaction are gone.
  resetConversationCache();
  loadHeads();
}

std::int64_t SqliteStore::insertConversation(const MessageRecord& record) {
  sqlite3_reset(insertConversation_);
  bindStatic(insertConversation_, 1, record.session ? std::string_view("session") : std::string_view("pager"));
  if (record.session) {
    bindStatic(insertConversation_, 2, record.callId);
  } else {
    sqlite3_bind_null(insertConversation_, 2);
  }
  bindStatic(insertConversation_, 3, record.participants);
  sqlite3_bind_int64(insertConversation_, 4, record.timeMs);
  sqlite3_bind_int64(insertConversation_, 5, record.timeMs);
  if (sqlite3_step(insertConversation_) != SQLITE_DONE) {
    throw ArchiveError(std::string("cannot insert conversation: ") + sqlite3_errmsg(db_));
  }
  sqlite3_reset(insertConversation_);
  createdConversation_ = sqlite3_last_insert_rowid(db_);
  return createdConversation_;
}

namespace {

// Bounds on the conversation cache; past them it sheds what it can.
constexpr std::size_t kMaxSessions = 100'000;
constexpr std::size_t kMaxPagers = 100'000;

}  // namespace

std::int64_t SqliteStore::conversationFor(const MessageRecord& record) {
  newestMs_ = std::max(newestMs_, record.timeMs);
  if (record.session) {
    if (auto found = sessions_.find(record.callId); found != sessions_.end()) {
      touch(found->second, record.timeMs);
      return found->second;
    }
    sqlite3_reset(findSession_);
    bindStatic(findSession_, 1, record.callId);
    std::int64_t id = 0;
    if (sqlite3_step(findSession_) == SQLITE_ROW) id = sqlite3_column_int64(findSession_, 0);
    sqlite3_reset(findSession_);
    if (id != 0) {
      touch(id, record.timeMs);
    } else {
      id = insertConversation(record);
    }
    if (sessions_.size() >= kMaxSessions) sessions_.clear();  // misses read the table again
    sessions_.emplace(record.callId, id);
    return id;
  }
  const std::int64_t earliest = record.timeMs - gapMs_;  // the oldest last_ms that still continues
  auto found = pagers_.find(record.participants);
  if (found == pagers_.end() && earliest <= pagerFloorMs_) {
    // A conversation this cache has not seen may continue: read the newest
    // one for these participants (conversations_participants).
    sqlite3_reset(findPager_);
    bindStatic(findPager_, 1, record.participants);
    PagerEntry entry{0, 0};
    if (sqlite3_step(findPager_) == SQLITE_ROW) {
      entry = {sqlite3_column_int64(findPager_, 0), sqlite3_column_int64(findPager_, 1)};
    }
    sqlite3_reset(findPager_);
    if (entry.id != 0) found = pagers_.emplace(record.participants, entry).first;
  }
  if (found != pagers_.end() && found->second.lastMs >= earliest) {
    PagerEntry& entry = found->second;
    entry.lastMs = std::max(entry.lastMs, record.timeMs);
    touch(entry.id, record.timeMs);
    return entry.id;
  }
  const std::int64_t id = insertConversation(record);
  if (found != pagers_.end()) {
    found->second = {id, record.timeMs};
    return id;
  }
  if (pagers_.size() >= kMaxPagers) {
    // Shed the conversations that new messages can no longer continue; what
    // is shed is looked up again, so the floor rises to their last_ms.
    const std::int64_t stale = newestMs_ - gapMs_;
    for (auto it = pagers_.begin(); it != pagers_.end();) {
      if (it->second.lastMs < stale) {
        pagerFloorMs_ = std::max(pagerFloorMs_, it->second.lastMs);
        it = pagers_.erase(it);
      } else {
        ++it;
      }
    }
    if (pagers_.size() >= kMaxPagers) {
      for (const auto& [participants, entry] : pagers_) pagerFloorMs_ = std::max(pagerFloorMs_, entry.lastMs);
      pagers_.clear();
    }
  }
  pagers_.emplace(record.participants, PagerEntry{id, record.timeMs});
  return id;
}

void SqliteStore::touch(std::int64_t id, std::int64_t timeMs) {
  auto [slot, added] = touched_.try_emplace(id, timeMs);
  if (!added) slot->second = std::max(slot->second, timeMs);
}

void SqliteStore::flushTouched() {
  for (const auto& [id, lastMs] : touched_) {
    sqlite3_reset(touchConversation_);
    sqlite3_bind_int64(touchConversation_, 1, lastMs);
    sqlite3_bind_int64(touchConversation_, 2, id);
    if (sqlite3_step(touchConversation_) != SQLITE_DONE) {
      throw ArchiveError(std::string("cannot update conversation: ") + sqlite3_errmsg(db_));
    }
    sqlite3_reset(touchConversation_);
  }
  touched_.clear();
  for (const std::int64_t id : linked_) {
    sqlite3_reset(setConversationLastHash_);
    bindText(setConversationLastHash_, 1, conversationHashes_.at(id));
    sqlite3_bind_int64(setConversationLastHash_, 2, id);
    if (sqlite3_step(setConversationLastHash_) != SQLITE_DONE) {
      throw ArchiveError(std::string("cannot update conversation: ") + sqlite3_errmsg(db_));
    }
    sqlite3_reset(setConversationLastHash_);
  }
  linked_.clear();
}

void SqliteStore::resetConversationCache() {
  recent_.clear();
  sessions_.clear();
  pagers_.clear();
  touched_.clear();
  conversationHashes_.clear();
  linked_.clear();
  pagerFloorMs_ = std::numeric_limits<std::int64_t>::max();  // until read below: every miss looks
  sqlite3_reset(newestConversation_);
  if (sqlite3_step(newestConversation_) == SQLITE_ROW) {
    pagerFloorMs_ = sqlite3_column_type(newestConversation_, 0) == SQLITE_NULL
                        ? std::numeric_limits<std::int64_t>::min()
                        : sqlite3_column_int64(newestConversation_, 0);
  }
  sqlite3_reset(newestConversation_);
}

std::int64_t SqliteStore::dataVersion() {
  sqlite3_reset(readDataVersion_);
  std::int64_t version = -1;
  if (sqlite3_step(readDataVersion_) == SQLITE_ROW) version = sqlite3_column_int64(readDataVersion_, 0);
  sqlite3_reset(readDataVersion_);
  return version;
}

bool SqliteStore::insertMessage(const MessageRecord& r) {
  createdConversation_ = 0;
  const std::int64_t conversation = conversationFor(r);
  // The row before this one in its conversation: the writer's cache, or
  // what the conversation row says (written at each commit).
  auto known = conversationHashes_.find(conversation);
  if (known == conversationHashes_.end()) {
    std::string stored;
    sqlite3_reset(conversationLastHash_);
    sqlite3_bind_int64(conversationLastHash_, 1, conversation);
    if (sqlite3_step(conversationLastHash_) == SQLITE_ROW) stored = columnText(conversationLastHash_, 0);
    sqlite3_reset(conversationLastHash_);
    known = conversationHashes_.emplace(conversation, std::move(stored)).first;
  }
  const std::string conversationPrevious = known->second;
  char hash[64];
  hashRow(lastHash_, r, conversation, conversationPrevious, hash);
  sqlite3_stmt* s = insertMessage_;
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, conversation);
  sqlite3_bind_int64(s, 2, r.timeMs);
  bindStatic(s, 3, r.direction);
  bindStatic(s, 4, r.sender);
  bindStatic(s, 5, r.senderName);
  bindStatic(s, 6, r.recipient);
  bindStatic(s, 7, r.recipientName);
  bindStatic(s, 8, r.callId);
  sqlite3_bind_int64(s, 9, r.cseq);
  bindStatic(s, 10, r.contentType);
  bindStatic(s, 11, r.text);
  if (r.originalText.empty()) {
    sqlite3_bind_null(s, 12);
  } else {
    bindStatic(s, 12, r.originalText);
  }
  bindStatic(s, 13, r.verdict);
  bindStatic(s, 14, r.rules);
  bindStatic(s, 15, r.tags);
  sqlite3_bind_int(s, 16, r.finalCode);
  bindStatic(s, 17, r.source);
  bindStatic(s, 18, r.transport);
  bindStatic(s, 19, std::string_view(hash, sizeof hash));
  sqlite3_bind_int64(s, 20, nextMessageId_);
  // A BLOB: bytes as received, NULs and invalid UTF-8 included.
  if (r.rawBody.empty()) {
    sqlite3_bind_null(s, 21);
  } else {
    sqlite3_bind_blob(s, 21, r.rawBody.data(), static_cast<int>(r.rawBody.size()), SQLITE_STATIC);
  }
  bindStatic(s, 22, r.receivedContentType);
  bindStatic(s, 23, r.contentEncoding);
  bindStatic(s, 24, r.unreadable);
  bindStatic(s, 25, conversationPrevious);
  if (sqlite3_step(s) != SQLITE_DONE) throw ArchiveError(std::string("cannot insert message: ") + sqlite3_errmsg(db_));
  sqlite3_reset(s);
  if (sqlite3_changes(db_) == 0) {  // already archived
    // A second pass after the idle gap opened a conversation for a row that
    // is not written: take it back (rare; the cache is read again after).
    if (createdConversation_ != 0) {
      flushTouched();
      exec(("DELETE FROM conversations WHERE id = " + std::to_string(createdConversation_)).c_str());
      resetConversationCache();
    }
    return false;
  }
  const std::int64_t id = nextMessageId_++;
  sqlite3_reset(insertFts_);
  sqlite3_bind_int64(insertFts_, 1, id);
  bindStatic(insertFts_, 2, r.text);
  if (sqlite3_step(insertFts_) != SQLITE_DONE) throw ArchiveError(std::string("cannot index: ") + sqlite3_errmsg(db_));
  sqlite3_reset(insertFts_);
  lastHash_.assign(hash, sizeof hash);
  lastId_ = id;
  ++rowsAdded_;
  known->second = lastHash_;
  linked_.insert(conversation);
  pendingLeaves_.push_back(fromHex(std::string_view(hash, sizeof hash)));
  if (r.finalCode != 0) {
    appendOutcome(id, std::string_view(hash, sizeof hash), r.finalCode);
  } else {
    if (recent_.size() >= kRecentRows) recent_.clear();
    recent_.insert_or_assign(requestKey(r.callId, r.cseq, r.sender), RecentRow{id, std::string(hash, sizeof hash)});
  }
  return true;
}

void SqliteStore::appendOutcome(std::int64_t messageId, std::string_view messageHash, int finalCode) {
  const std::string hash = outcomeHash(lastOutcomeHash_, messageId, messageHash, finalCode);
  sqlite3_reset(insertOutcome_);
  sqlite3_bind_int64(insertOutcome_, 1, messageId);
  sqlite3_bind_int(insertOutcome_, 2, finalCode);
  bindStatic(insertOutcome_, 3, hash);
  if (sqlite3_step(insertOutcome_) != SQLITE_DONE) {
    throw ArchiveError(std::string("cannot record outcome: ") + sqlite3_errmsg(db_));
  }
  sqlite3_reset(insertOutcome_);
  lastOutcomeHash_ = hash;
  lastOutcomeId_ = sqlite3_last_insert_rowid(db_);
  ++outcomesAdded_;
}

void SqliteStore::updateFinalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender, int code) {
  // The row keeps the code it was written with; a later one is an outcome
  // record only (the newest is what reads show), so the row is not written
  // twice. A row of the last batches is found in memory.
  if (auto found = recent_.find(requestKey(callId, cseq, sender)); found != recent_.end()) {
    const RecentRow row = std::move(found->second);
    recent_.erase(found);
    appendOutcome(row.id, row.hash, code);
    return;
  }
  sqlite3_reset(findMessage_);
  bindText(findMessage_, 1, callId);
  sqlite3_bind_int64(findMessage_, 2, cseq);
  bindText(findMessage_, 3, sender);
  const int rc = sqlite3_step(findMessage_);
  if (rc == SQLITE_ROW) {  // at most one row: (call_id, cseq, sender) is unique
    const std::int64_t id = sqlite3_column_int64(findMessage_, 0);
    const std::string messageHash = columnText(findMessage_, 1);
    sqlite3_reset(findMessage_);
    appendOutcome(id, messageHash, code);
    return;
  }
  const std::string error = rc == SQLITE_DONE ? std::string() : sqlite3_errmsg(db_);
  sqlite3_reset(findMessage_);
  if (!error.empty()) throw ArchiveError("cannot record final code: " + error);
  // No such message: it was never archived.
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

void SqliteStore::upsertCall(const CallRecord& r) {
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

void SqliteStore::insertFileTransfer(const FileTransferRecord& r) {
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

void SqliteStore::closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) {
  sqlite3_reset(closeStale_);
  sqlite3_bind_int64(closeStale_, 1, nowMs);
  sqlite3_bind_int64(closeStale_, 2, timeoutMs);
  if (sqlite3_step(closeStale_) != SQLITE_DONE) throw ArchiveError(std::string("cannot close calls: ") + sqlite3_errmsg(db_));
  sqlite3_reset(closeStale_);
}

std::int64_t SqliteStore::purgeBatch(std::int64_t cutoffMs, std::int64_t nowMs, int limit) {
  static const char* kVictims =
      "SELECT m.id, m.hash, m.text FROM messages m "
      "WHERE m.time_ms < ?1 "
      // Every side as TEXT: in SQLite a value stored as a BLOB (or a number)
      // never equals the same bytes as TEXT, and a hold rewritten so would
      // stop holding while reading the same (issue 18 red team).
      "AND NOT EXISTS (SELECT 1 FROM holds h WHERE CAST(h.kind AS TEXT) = 'conversation' "
      "AND CAST(h.value AS TEXT) = CAST(m.conversation_id AS TEXT)) "
      "AND NOT EXISTS (SELECT 1 FROM holds h WHERE CAST(h.kind AS TEXT) = 'participant' "
      "AND CAST(h.value AS TEXT) IN (CAST(m.sender AS TEXT), CAST(m.recipient AS TEXT))) "
      "ORDER BY m.id LIMIT ?2";
  sqlite3_stmt* victims = prepare(kVictims);
  sqlite3_bind_int64(victims, 1, cutoffMs);
  sqlite3_bind_int(victims, 2, limit);
  sqlite3_stmt* tombstone = prepare("INSERT INTO tombstones (id, hash, purged_ms) VALUES (?, ?, ?)");
  sqlite3_stmt* unindex = prepare("INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', ?, ?)");
  sqlite3_stmt* remove = prepare("DELETE FROM messages WHERE id = ?");
  recent_.clear();  // a later code must not be recorded for a purged row
  std::int64_t purged = 0;
  std::vector<std::pair<std::int64_t, std::string>> gone;
  while (sqlite3_step(victims) == SQLITE_ROW) {
    const std::int64_t id = sqlite3_column_int64(victims, 0);
    gone.emplace_back(id, columnText(victims, 1));
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
  if (!gone.empty()) {
    appendAudit(AuditEntry{nowMs, purgeWho_, "purge", purgeRecordQuery(purgeRule_, cutoffMs, gone), purged}, true);
  }
  exec(("DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE invite_ms < " + std::to_string(cutoffMs) +
        " LIMIT " + std::to_string(limit) + ")").c_str());
  flushTouched();
  exec("DELETE FROM conversations WHERE NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = conversations.id)"
       " AND NOT EXISTS (SELECT 1 FROM holds WHERE CAST(kind AS TEXT) = 'conversation' "
       "AND CAST(value AS TEXT) = CAST(conversations.id AS TEXT))");
  resetConversationCache();  // some cached conversations may be gone
  return purged;
}

void SqliteStore::setHold(const std::string& kind, const std::string& value, bool held, std::int64_t nowMs,
                          const std::string& who, const std::string& reason) {
  if (kind != "participant" && kind != "conversation") throw ArchiveError("hold kind must be participant or conversation");
  // The hold and its record in one transaction: neither without the other.
  const bool own = sqlite3_get_autocommit(db_) != 0;
  if (own) exec("BEGIN IMMEDIATE");
  try {
    sqlite3_stmt* statement = prepare(held ? "INSERT OR IGNORE INTO holds (kind, value, created_ms) VALUES (?, ?, ?)"
                                           : "DELETE FROM holds WHERE kind = ? AND value = ?");
    bindText(statement, 1, kind);
    bindText(statement, 2, value);
    if (held) sqlite3_bind_int64(statement, 3, nowMs);
    const int rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) throw ArchiveError(std::string("cannot change hold: ") + sqlite3_errmsg(db_));
    appendAudit(AuditEntry{nowMs, who, held ? "hold" : "release", holdRecordQuery(kind, value, reason), 1}, false);
    if (own) exec("COMMIT");
  } catch (...) {
    if (own && sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::int64_t SqliteStore::messageCount() {
  sqlite3_stmt* statement = prepare("SELECT count(*) FROM messages");
  std::int64_t n = 0;
  if (sqlite3_step(statement) == SQLITE_ROW) n = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  return n;
}

VerifyReport SqliteStore::verify() {
  VerifyReport report;
  // Purged rows are tombstones (their hash only): the chain steps over them.
  SqliteStatement rows(db_, std::string("SELECT ") + MessageChainCheck::rowColumns(false) + " FROM messages UNION ALL SELECT " +
                                MessageChainCheck::kTombstoneColumns + " FROM tombstones ORDER BY 1");
  if (!rows.prepared()) throw ArchiveError("cannot verify: " + rows.error());
  {
    SqliteStatement from(db_, "SELECT conversations_from_id FROM chain_head WHERE id = 1");
    if (from.prepared() && from.step() == SQLITE_ROW) report.conversationsFromId = from.integer(0);
  }
  MessageChainCheck chain(report, "", report.conversationsFromId);
  while (rows.step() == SQLITE_ROW) {
    if (!chain.feed(rows)) break;
  }
  if (report.ok) {
    SqliteStatement head(db_, "SELECT last_id, last_hash, rows, frontier FROM chain_head WHERE id = 1");
    if (head.step() == SQLITE_ROW) {
      chain.head(head.integer(0), head.text(1), head.integer(2));
      chain.frontier(head.text(3));
    }
  }
  if (report.ok) verifyStorageTypes(report);
  if (report.ok) verifyOutcomes(report);
  if (report.ok) verifyConversations(report);
  if (report.ok) verifyTextIndex(report);
  if (report.ok) verifyAuditTrail(report);
  return report;
}

void SqliteStore::verifyStorageTypes(VerifyReport& report) const {
  // The hashes cover bytes, and a BLOB reads as the same bytes as TEXT; but
  // SQL compares them as different, so a sender or a hold stored as a BLOB
  // would drop out of searches and purges' hold checks while every hash
  // still matched.
  SqliteStatement messages(
      db_, "SELECT id FROM messages WHERE typeof(sender) <> 'text' OR typeof(recipient) <> 'text' OR "
           "typeof(call_id) <> 'text' OR typeof(text) <> 'text' OR typeof(direction) <> 'text' OR "
           "typeof(verdict) <> 'text' OR typeof(rules) <> 'text' OR typeof(tags) <> 'text' OR "
           "typeof(sender_name) <> 'text' OR typeof(recipient_name) <> 'text' OR typeof(content_type) <> 'text' OR "
           "typeof(conversation_id) <> 'integer' OR typeof(time_ms) <> 'integer' OR typeof(cseq) <> 'integer' OR "
           "(original_text IS NOT NULL AND typeof(original_text) <> 'text') ORDER BY id LIMIT 1");
  if (messages.step() == SQLITE_ROW) {
    report.ok = false;
    report.firstBadId = messages.integer(0);
    report.problem = "row " + std::to_string(report.firstBadId) +
                     " has a field stored as another type than the archive writes (a BLOB for text): it would "
                     "read the same but drop out of searches and hold checks";
    return;
  }
  SqliteStatement holds(db_, "SELECT kind, value FROM holds WHERE typeof(kind) <> 'text' OR typeof(value) <> 'text' "
                             "LIMIT 1");
  if (holds.step() == SQLITE_ROW) {
    report.ok = false;
    report.firstBadId = 0;
    report.problem = "the legal hold on " + holds.text(0) + " " + holds.text(1) +
                     " is stored as another type than text: it would no longer hold any row";
  }
}

void SqliteStore::verifyAuditTrail(VerifyReport& report, const std::string& /*unused*/) const {
  SqliteStatement head(db_, "SELECT last_id, last_hash, rows, from_id FROM audit_head WHERE id = 1");
  if (!head.prepared() || head.step() != SQLITE_ROW) {
    report.ok = false;
    report.problem = "the audit trail's head is missing: it was deleted";
    return;
  }
  AuditTrailCheck trail(report, head.integer(3));
  SqliteStatement records(db_, std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY id");
  while (records.step() == SQLITE_ROW) {
    if (!trail.feed(records)) break;
  }
  trail.head(head.integer(0), head.text(1), head.integer(2));
  std::set<std::pair<std::string, std::string>> holds;
  SqliteStatement table(db_, "SELECT kind, value FROM holds");
  while (table.step() == SQLITE_ROW) holds.insert({table.text(0), table.text(1)});
  trail.holds(holds);
  std::vector<std::pair<std::int64_t, std::string>> tombstones;
  SqliteStatement stones(db_, "SELECT id, hash FROM tombstones ORDER BY id");
  while (stones.step() == SQLITE_ROW) tombstones.emplace_back(stones.integer(0), stones.text(1));
  trail.tombstones(tombstones);
}

void SqliteStore::verifyConversations(VerifyReport& report) const {
  SqliteStatement moved(db_, std::string("SELECT m.id, m.conversation_id FROM messages m LEFT JOIN conversations c "
                                         "ON c.id = m.conversation_id WHERE c.id IS NULL OR c.participants <> ") +
                                 kParticipantsOfRow +
                                 " OR (c.kind = 'session' AND c.call_id IS NOT m.call_id) ORDER BY m.id LIMIT 1");
  if (!moved.prepared()) throw ArchiveError("cannot verify conversations: " + moved.error());
  if (moved.step() == SQLITE_ROW) {
    reportConversationMismatch(report, moved.integer(0), moved.integer(1));
    return;
  }
  ConversationLinkCheck links(report);
  SqliteStatement tombstones(db_, "SELECT id, hash FROM tombstones");
  while (tombstones.step() == SQLITE_ROW) links.tombstone(tombstones.integer(0), tombstones.text(1));
  SqliteStatement rows(db_, "SELECT m.id, m.conversation_id, m.hash, m.conversation_previous, "
                            "m.id >= h.conversations_from_id FROM messages m, chain_head h WHERE h.id = 1 ORDER BY m.id");
  if (!rows.prepared()) throw ArchiveError("cannot verify conversations: " + rows.error());
  while (rows.step() == SQLITE_ROW) {
    if (!links.row(rows.integer(0), rows.integer(1), rows.text(2), rows.text(3), rows.integer(4) != 0)) return;
  }
  SqliteStatement conversations(db_, "SELECT id, last_hash FROM conversations ORDER BY id");
  while (conversations.step() == SQLITE_ROW) {
    if (!links.conversation(conversations.integer(0), conversations.text(1))) return;
  }
}

void SqliteStore::verifyTextIndex(VerifyReport& report) const {
  // Which rows the index holds, from its own token list; a probe index
  // with the same tokenizer tells a row the index lost from a row whose
  // text has no words (punctuation, emoji), which it never held.
  const char* setup =
      "CREATE VIRTUAL TABLE IF NOT EXISTS temp.verify_fts_instances USING fts5vocab(main, messages_fts, 'instance');"
      "CREATE TEMP TABLE IF NOT EXISTS verify_fts_docs(doc INTEGER PRIMARY KEY);"
      "DELETE FROM temp.verify_fts_docs;"
      "INSERT OR IGNORE INTO temp.verify_fts_docs SELECT doc FROM temp.verify_fts_instances;"
      "CREATE VIRTUAL TABLE IF NOT EXISTS temp.verify_fts_probe USING fts5(text);"
      "CREATE VIRTUAL TABLE IF NOT EXISTS temp.verify_fts_probe_words USING fts5vocab(temp, verify_fts_probe, 'instance');";
  char* error = nullptr;
  if (sqlite3_exec(db_, setup, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw ArchiveError("cannot verify the text index: " + message);
  }
  SqliteStatement invented(db_, "SELECT doc FROM temp.verify_fts_docs d WHERE NOT EXISTS "
                                "(SELECT 1 FROM messages m WHERE m.id = d.doc) ORDER BY doc LIMIT 1");
  if (invented.prepared() && invented.step() == SQLITE_ROW) {
    reportTextIndexMismatch(report, invented.integer(0), "the index holds words of a row that does not exist");
    return;
  }
  SqliteStatement missing(db_, "SELECT m.id, m.text FROM messages m WHERE m.text <> '' AND NOT EXISTS "
                               "(SELECT 1 FROM temp.verify_fts_docs d WHERE d.doc = m.id) ORDER BY m.id");
  SqliteStatement probe(db_, "INSERT INTO temp.verify_fts_probe(rowid, text) VALUES (1, ?)");
  SqliteStatement words(db_, "SELECT count(*) FROM temp.verify_fts_probe_words");
  SqliteStatement clear(db_, "DELETE FROM temp.verify_fts_probe");
  if (!missing.prepared() || !probe.prepared() || !words.prepared() || !clear.prepared()) {
    throw ArchiveError("cannot verify the text index: " + missing.error());
  }
  while (missing.step() == SQLITE_ROW) {
    const std::string_view text = missing.view(1);
    sqlite3_bind_text(probe.get(), 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    probe.step();
    sqlite3_reset(probe.get());
    const bool hasWords = words.step() == SQLITE_ROW && words.integer(0) > 0;
    sqlite3_reset(words.get());
    clear.step();
    sqlite3_reset(clear.get());
    if (hasWords) {
      reportTextIndexMismatch(report, missing.integer(0), "the index lost this row");
      return;
    }
  }
  // The index's own check against its content (words changed in place).
  // It writes nothing but needs a writable connection; a read-only one
  // keeps the row-by-row check above.
  char* checkError = nullptr;
  const int rc = sqlite3_exec(db_, "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)", nullptr,
                              nullptr, &checkError);
  const std::string message = checkError ? checkError : "";
  sqlite3_free(checkError);
  if (rc == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_CORRUPT) {
    reportTextIndexMismatch(report, 0, "the index's words differ from the rows' (FTS5 integrity-check: " + message + ")");
  }
}

void SqliteStore::verifyOutcomes(VerifyReport& report) const {
  // The outcome chain, each record bound to its message's hash (a purged
  // message's hash is its tombstone's).
  sqlite3_stmt* outcomes = prepare(
      "SELECT o.id, o.message_id, o.final_code, o.hash, coalesce(m.hash, t.hash) FROM outcomes o "
      "LEFT JOIN messages m ON m.id = o.message_id LEFT JOIN tombstones t ON t.id = o.message_id ORDER BY o.id");
  OutcomeChainCheck chain(report, "");
  while (sqlite3_step(outcomes) == SQLITE_ROW) {
    const bool known = sqlite3_column_type(outcomes, 4) != SQLITE_NULL;
    const std::string messageHash = columnText(outcomes, 4);
    if (!chain.record(sqlite3_column_int64(outcomes, 0), sqlite3_column_int64(outcomes, 1),
                      sqlite3_column_int(outcomes, 2), columnText(outcomes, 3), known ? &messageHash : nullptr)) {
      break;
    }
  }
  sqlite3_finalize(outcomes);
  if (!report.ok) return;
  sqlite3_stmt* head = prepare("SELECT outcomes_last_id, outcomes_last_hash, outcomes_rows FROM chain_head WHERE id = 1");
  if (sqlite3_step(head) == SQLITE_ROW) {
    chain.head(sqlite3_column_int64(head, 0), columnText(head, 1), sqlite3_column_int64(head, 2));
  }
  sqlite3_finalize(head);
  if (!report.ok) return;
  // A row's own final_code is the code it was written with: 0, or one that
  // an outcome record of it seals (the newest record is what reads show;
  // archives written before this rule hold the newest code, also sealed).
  // Rows from before the outcome chain are not checked: their codes were
  // never sealed (counted below), and a later one is an outcome record.
  sqlite3_stmt* codes = prepare(
      "SELECT m.id, m.final_code FROM messages m, chain_head h WHERE h.id = 1 AND m.final_code <> 0 "
      "AND m.id >= h.outcomes_from_id "
      "AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.message_id = m.id AND o.final_code = m.final_code) "
      "ORDER BY m.id LIMIT 1");
  if (sqlite3_step(codes) == SQLITE_ROW) {
    reportEditedFinalCode(report, sqlite3_column_int64(codes, 0), sqlite3_column_int64(codes, 1));
  }
  sqlite3_finalize(codes);
  SqliteStatement changed(db_, kChangedFinalCodes);
  while (changed.step() == SQLITE_ROW) addChangedFinalCode(report, changed.integer(0), static_cast<int>(changed.integer(1)));
  sqlite3_stmt* unsealed = prepare(
      "SELECT count(*) FROM messages m, chain_head h WHERE h.id = 1 AND m.id < h.outcomes_from_id "
      "AND m.final_code <> 0 AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.message_id = m.id)");
  if (sqlite3_step(unsealed) == SQLITE_ROW) report.unsealedCodes = sqlite3_column_int64(unsealed, 0);
  sqlite3_finalize(unsealed);
}

// Signed checkpoints (checkpoint.h): one file, one pair of chains, so the
// hop is not asked. Statements prepared per call: the writer asks once a
// batch at most, verify once a checkpoint.
std::optional<ChainHeads> SqliteStore::chainHeads(const std::string& /*hop: one chain per file*/) {
  SqliteStatement head(db_, "SELECT c.last_id, c.last_hash, c.rows, c.outcomes_last_id, c.outcomes_last_hash, "
                            "c.outcomes_rows, a.last_id, a.last_hash, a.rows, c.frontier FROM chain_head c, audit_head a "
                            "WHERE c.id = 1 AND a.id = 1");
  if (!head.prepared()) throw ArchiveError("cannot read the chain head: " + head.error());
  if (head.step() != SQLITE_ROW) return std::nullopt;
  return ChainHeads{head.integer(0), head.text(1), head.integer(2), head.integer(3), head.text(4), head.integer(5),
                    head.integer(6), head.text(7), head.integer(8), treeRoot(head.text(9), head.integer(2))};
}

std::string SqliteStore::treeRoot(const std::string& stored, std::int64_t rows) const {
  if (rows == 0) return std::string();  // nothing to commit to: an empty chain's heads are all empty
  // The writer's own tree is the newest; a store that only reads has the
  // committed one.
  if (static_cast<std::int64_t>(frontier_.size()) == rows) return toHex(frontier_.root());
  const std::optional<merkle::Frontier> parsed = merkle::Frontier::parse(stored);
  return parsed && static_cast<std::int64_t>(parsed->size()) == rows ? toHex(parsed->root()) : std::string();
}

std::optional<std::string> SqliteStore::chainedAuditHash(std::int64_t id) {
  SqliteStatement hash(db_, "SELECT hash FROM audit WHERE id = ?1");
  if (!hash.prepared()) throw ArchiveError("cannot read an audit record's hash: " + hash.error());
  sqlite3_bind_int64(hash.get(), 1, id);
  if (hash.step() != SQLITE_ROW) return std::nullopt;
  return hash.text(0);
}

std::vector<std::pair<std::int64_t, std::string>> SqliteStore::chainLeaves(const std::string& /*hop*/) {
  SqliteStatement rows(db_, "SELECT id, hash FROM messages UNION ALL SELECT id, hash FROM tombstones ORDER BY 1");
  if (!rows.prepared()) throw ArchiveError("cannot read the chain: " + rows.error());
  std::vector<std::pair<std::int64_t, std::string>> leaves;
  while (rows.step() == SQLITE_ROW) leaves.emplace_back(rows.integer(0), fromHex(rows.view(1)));
  return leaves;
}

std::optional<std::string> SqliteStore::chainedMessageHash(const std::string& /*hop*/, std::int64_t id) {
  SqliteStatement hash(db_, "SELECT hash FROM messages WHERE id = ?1 UNION ALL SELECT hash FROM tombstones WHERE id = ?1");
  if (!hash.prepared()) throw ArchiveError("cannot read a row's hash: " + hash.error());
  sqlite3_bind_int64(hash.get(), 1, id);
  if (hash.step() != SQLITE_ROW) return std::nullopt;
  return hash.text(0);
}

std::optional<std::string> SqliteStore::chainedOutcomeHash(const std::string& /*hop*/, std::int64_t id) {
  SqliteStatement hash(db_, "SELECT hash FROM outcomes WHERE id = ?1");
  if (!hash.prepared()) throw ArchiveError("cannot read a final-code record's hash: " + hash.error());
  sqlite3_bind_int64(hash.get(), 1, id);
  if (hash.step() != SQLITE_ROW) return std::nullopt;
  return hash.text(0);
}

}  // namespace sipwarden::archive
