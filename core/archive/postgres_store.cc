// Over 500 lines because it is the whole PostgreSQL backend of the Store
// interface, as sqlite_store.cc is the SQLite one: writing, retention and
// holds, and verification share one connection, its prepared statements
// and the hop's chain state.
#include "archive/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "archive/audit_trail.h"
#include "archive/hash_chain.h"
#include "archive/migrations.h"

namespace sipwarden::archive {
namespace {

// pg_advisory_lock keys of our own; any constant no other tool uses.
constexpr std::int64_t kMigrationLock = 0x5349505741524431;  // "SIPWARD1"
// The migration that made holds and purges records of the audit trail.
constexpr int kStoryChainVersion = 3;

// One message row whose conversation ($1) is known: its hash covers it.
constexpr const char* kInsertRow =
    "INSERT INTO messages (conversation_id, time_ms, hop_id, direction, sender, sender_name, recipient, "
    "recipient_name, call_id, cseq, content_type, text, original_text, verdict, rules, tags, final_code, source, "
    "transport, hash, raw_body, received_content_type, content_encoding, unreadable, conversation_previous) "
    "VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11, $12, $13, $14, $15, $16, "
    "$17::integer, $18, $19, $20, $21::bytea, $22, $23, $24, $25) "
    "ON CONFLICT (call_id, cseq, sender) DO NOTHING RETURNING id";

// One row of a fetched batch, as the chain walks read rows (text(c),
// integer(c)).
struct BatchRow {
  const pg::Result& batch;
  int index;
  std::string text(int column) const { return batch.text(index, column); }
  std::int64_t integer(int column) const { return batch.integer(index, column); }
};

// Walks `select` through a cursor named `name` in batches, so a large
// archive is never one result; `feed` returns false to stop.
template <class Feed>
void forEachRow(pg::Connection& db, const std::string& name, const std::string& select, const pg::Params& params,
                Feed feed) {
  db.run("DECLARE " + name + " NO SCROLL CURSOR FOR " + select, params);
  for (bool more = true; more;) {
    const auto batch = db.run("FETCH 5000 FROM " + name);
    more = batch.rows() == 5000;
    for (int i = 0; i < batch.rows(); ++i) {
      if (!feed(BatchRow{batch, i})) {
        more = false;
        break;
      }
    }
  }
  db.script("CLOSE " + name);
}

}  // namespace

PostgresStore::PostgresStore(const std::string& uri, StoreOptions options) : db_(uri), options_(std::move(options)) {
  migrate();
  prepareStatements();
  if (!options_.hopId.empty()) claimHop();
}

void PostgresStore::adoptHoldsAndTombstones() {
  // Inside schema 003's own transaction, and only there (see the SQLite
  // store).
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const auto holds = db_.run("SELECT kind, value FROM holds ORDER BY id");
  for (int i = 0; i < holds.rows(); ++i) {
    appendAudit(AuditEntry{now, "migration", "hold",
                           holdRecordQuery(holds.text(i, 0), holds.text(i, 1), "held before schema 003"), 1},
                false);
  }
  const auto tombstones = db_.run("SELECT id, hash FROM tombstones ORDER BY id");
  std::vector<std::pair<std::int64_t, std::string>> gone;
  for (int i = 0; i < tombstones.rows(); ++i) gone.emplace_back(tombstones.integer(i, 0), tombstones.text(i, 1));
  if (!gone.empty()) {
    appendAudit(AuditEntry{now, "migration", "purge", purgeRecordQuery("purged before schema 003", 0, gone),
                           static_cast<std::int64_t>(gone.size())},
                false);
  }
}

void PostgresStore::appendAudit(const AuditEntry& entry, bool sign) {
  const auto head = db_.run(pg::numberPlaceholders(kAuditHeadPostgres));
  if (head.rows() != 1) throw ArchiveError("the audit trail's head is missing");
  const std::int64_t id = head.integer(0, 1);
  const std::string hash = auditHash(head.text(0, 0), id, entry);
  const std::string signature = sign && signer_ ? signer_(hash) : std::string();
  db_.run(pg::numberPlaceholders(kInsertAudit), pg::Params()
                                                    .number(id)
                                                    .number(entry.timeMs)
                                                    .text(entry.who)
                                                    .text(entry.action)
                                                    .text(entry.query)
                                                    .number(entry.results)
                                                    .text(hash)
                                                    .text(signature));
  db_.run(pg::numberPlaceholders(kMoveAuditHead), pg::Params().number(id).text(hash));
}

int PostgresStore::schemaVersion() {
  if (db_.run("SELECT to_regclass('schema_version') IS NULL").integer(0, 0) == 1) return 0;
  return static_cast<int>(db_.run("SELECT version FROM schema_version").integer(0, 0));
}

void PostgresStore::migrate() {
  // Two hops starting at once must not both create the tables.
  db_.run("SELECT pg_advisory_lock($1)", pg::Params().number(kMigrationLock));
  try {
    const int current = schemaVersion();
    const int newest = postgresMigrations().empty() ? 0 : postgresMigrations().back().version;
    if (current > newest) {
      throw ArchiveError("archive schema version " + std::to_string(current) + " is newer than this sipwarden (" +
                         std::to_string(newest) + "); use a newer sipwarden");
    }
    for (const Migration& migration : postgresMigrations()) {
      if (migration.version <= current) continue;
      db_.script("BEGIN");
      try {
        db_.script(migration.sql);
        if (migration.version == kStoryChainVersion) adoptHoldsAndTombstones();
        db_.run("UPDATE schema_version SET version = $1", pg::Params().number(migration.version));
        db_.script("COMMIT");
      } catch (const ArchiveError& error) {
        db_.script("ROLLBACK");
        throw ArchiveError(std::string("migration ") + migration.name + " failed: " + error.what());
      }
    }
  } catch (...) {
    db_.run("SELECT pg_advisory_unlock($1)", pg::Params().number(kMigrationLock));
    throw;
  }
  db_.run("SELECT pg_advisory_unlock($1)", pg::Params().number(kMigrationLock));
}

void PostgresStore::claimHop() {
  // Per schema: two archives in one database (schemas on search_path) are
  // two archives, each with its own hops.
  const auto claimed =
      db_.run("SELECT pg_try_advisory_lock(hashtextextended('sipwarden hop ' || current_schema() || ' ' || $1, 0))",
              pg::Params().text(options_.hopId));
  if (claimed.integer(0, 0) != 1) {
    throw ArchiveError("another sipwarden is writing this archive as hop '" + options_.hopId +
                       "': give each hop its own archive.hop_id");
  }
  db_.run("INSERT INTO chain_head (hop_id) VALUES ($1) ON CONFLICT DO NOTHING", pg::Params().text(options_.hopId));
  loadHeads();
}

void PostgresStore::prepareStatements() {
  db_.prepare("conversation_session",
              "INSERT INTO conversations (kind, call_id, participants, started_ms, last_ms) VALUES ('session', $1, "
              "$2, $3::bigint, $3::bigint) ON CONFLICT (call_id) WHERE kind = 'session' DO UPDATE SET last_ms = "
              "greatest(conversations.last_ms, excluded.last_ms) RETURNING id, last_hash");
  // The newest pager conversation of these participants continues if it was
  // active within the gap ($3); otherwise a new one starts, unless the
  // message is a duplicate: then its conversation (the original's) is
  // returned, and the row is not inserted.
  db_.prepare("conversation_pager",
              "WITH newest AS (SELECT id, last_ms FROM conversations WHERE kind = 'pager' AND "
              "participants = $1 ORDER BY last_ms DESC LIMIT 1), "
              "continued AS (UPDATE conversations c SET last_ms = greatest(c.last_ms, $2::bigint) FROM "
              "newest n WHERE c.id = n.id AND n.last_ms >= $2::bigint - $3::bigint RETURNING c.id, c.last_hash), "
              "existing AS (SELECT conversation_id AS id, '' AS last_hash FROM messages WHERE call_id = $4 AND "
              "cseq = $5::bigint AND sender = $6), "
              "created AS (INSERT INTO conversations (kind, participants, started_ms, last_ms) SELECT "
              "'pager', $1, $2::bigint, $2::bigint WHERE NOT EXISTS (SELECT 1 FROM continued) AND NOT "
              "EXISTS (SELECT 1 FROM existing) RETURNING id, last_hash) "
              "SELECT id, last_hash FROM continued UNION ALL SELECT id, last_hash FROM created UNION ALL "
              "SELECT id, last_hash FROM existing LIMIT 1");
  db_.prepare("link_conversation", "UPDATE conversations SET last_hash = $2 WHERE id = $1");
  db_.prepare("insert_row", kInsertRow);
  // The rows the codes name, in the order the codes came. The codes are not
  // written into the rows: an UPDATE rewrote each row and every index entry
  // of it (a third of the server's work per message); the newest outcome
  // record is the code (query/reader.cc).
  db_.prepare("final_codes",
              "SELECT m.id, m.hash, c.code FROM unnest($1::text[], $2::bigint[], $3::text[], $4::integer[]) "
              "WITH ORDINALITY AS c(call_id, cseq, sender, code, n) JOIN messages m ON m.call_id = c.call_id AND "
              "m.cseq = c.cseq AND m.sender = c.sender ORDER BY c.n");
  db_.prepare("outcomes",
              "WITH added AS (INSERT INTO outcomes (hop_id, message_id, final_code, hash) "
              "SELECT $1, o.message_id, o.code, o.hash FROM unnest($2::bigint[], $3::integer[], $4::text[]) "
              "WITH ORDINALITY AS o(message_id, code, hash, n) ORDER BY o.n RETURNING id) SELECT max(id) FROM added");
  // Each event writes what it knows; NULL (and '' / 0) keep what is there
  // (the SQLite statement in sqlite_store.cc, in this dialect).
  db_.prepare(
      "upsert_call",
      "INSERT INTO calls (call_id, caller, callee, invite_ms, ringing_ms, answer_ms, end_ms, disposition, end_code, "
      "ended_by, media) VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::text, 'in_progress'), "
      "coalesce($9::integer, 0), '', coalesce($11::text, '')) "
      "ON CONFLICT (call_id) DO UPDATE SET "
      "caller = CASE WHEN calls.caller = '' THEN excluded.caller ELSE calls.caller END, "
      "callee = CASE WHEN calls.callee = '' THEN excluded.callee ELSE calls.callee END, "
      "invite_ms = least(calls.invite_ms, excluded.invite_ms), "
      "ringing_ms = coalesce(calls.ringing_ms, excluded.ringing_ms), "
      "answer_ms = coalesce(calls.answer_ms, excluded.answer_ms), "
      "end_ms = coalesce(calls.end_ms, excluded.end_ms), "
      "disposition = CASE WHEN $8::text IS NULL OR calls.end_ms IS NOT NULL THEN calls.disposition ELSE $8::text END, "
      "end_code = CASE WHEN $9::integer IS NULL OR calls.end_ms IS NOT NULL THEN calls.end_code ELSE $9::integer END, "
      "ended_by = CASE WHEN $10::text IS NULL OR calls.ended_by <> '' THEN calls.ended_by "
      "  WHEN $10::text = calls.caller THEN 'caller' ELSE 'callee' END, "
      "media = CASE WHEN $11::text IS NULL THEN calls.media ELSE $11::text END, "
      "duration_ms = CASE WHEN coalesce(calls.end_ms, excluded.end_ms) IS NOT NULL "
      "  AND coalesce(calls.answer_ms, excluded.answer_ms) IS NOT NULL "
      "  THEN coalesce(calls.end_ms, excluded.end_ms) - coalesce(calls.answer_ms, excluded.answer_ms) ELSE NULL END");
  db_.prepare("file_transfer",
              "INSERT INTO file_transfers (call_id, name, size, blocked, time_ms) VALUES ($1, $2, $3, $4, $5)");
  db_.prepare("move_head",
              "UPDATE chain_head SET last_id = $2, last_hash = $3, rows = rows + $4, frontier = $5 WHERE hop_id = $1");
  db_.prepare("move_outcome_head",
              "UPDATE chain_head SET outcomes_last_id = $2, outcomes_last_hash = $3, outcomes_rows = outcomes_rows + $4 "
              "WHERE hop_id = $1");
}

void PostgresStore::loadHeads() {
  const auto head = db_.run("SELECT last_id, last_hash, outcomes_last_id, outcomes_last_hash, frontier, rows "
                            "FROM chain_head WHERE hop_id = $1",
                            pg::Params().text(options_.hopId));
  if (head.rows() == 0) throw ArchiveError("chain head of hop '" + options_.hopId + "' is missing");
  lastId_ = head.integer(0, 0);
  lastHash_ = head.text(0, 1);
  lastOutcomeId_ = head.integer(0, 2);
  lastOutcomeHash_ = head.text(0, 3);
  pendingLeaves_.clear();
  std::optional<merkle::Frontier> parsed = merkle::Frontier::parse(head.text(0, 4));
  if (parsed && static_cast<std::int64_t>(parsed->size()) == head.integer(0, 5)) {
    frontier_ = std::move(*parsed);
    return;
  }
  // Written before schema 003 (or altered): rebuilt from the chain, once.
  frontier_ = merkle::Frontier();
  for (const auto& [id, leaf] : chainLeaves(options_.hopId)) frontier_.append(merkle::leafHash(leaf));
}

void PostgresStore::begin(const std::vector<const MessageRecord*>& messages) {
  if (db_.ensureConnected()) {
    // A new server session: the hop lock went with the old one.
    if (!options_.hopId.empty()) claimHop();
  }
  db_.script("BEGIN");
  rowsAdded_ = 0;
  outcomesAdded_ = 0;
  codes_.clear();
  if (messages.empty()) return;
  std::vector<std::string> keys;
  keys.reserve(messages.size());
  for (const MessageRecord* message : messages) {
    keys.push_back(message->session ? "s:" + message->callId : "p:" + message->participants);
  }
  // Sorted by the lock key itself, so every hop takes its locks in the same
  // order; OFFSET 0 keeps the sorted subquery from being flattened away.
  db_.run("SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(x, 0) AS k "
          "FROM unnest($1::text[]) AS x ORDER BY k OFFSET 0) AS keys",
          pg::Params().text(pg::textArray(keys)));
}

void PostgresStore::commit() {
  flushCodes();
  merkle::Frontier grown = frontier_;
  if (rowsAdded_ > 0) {
    for (const std::string& leaf : pendingLeaves_) grown.append(merkle::leafHash(leaf));
    db_.runPrepared("move_head", pg::Params()
                                     .text(options_.hopId)
                                     .number(lastId_)
                                     .text(lastHash_)
                                     .number(rowsAdded_)
                                     .text(grown.serialize()));
  }
  if (outcomesAdded_ > 0) {
    db_.runPrepared("move_outcome_head", pg::Params()
                                             .text(options_.hopId)
                                             .number(lastOutcomeId_)
                                             .text(lastOutcomeHash_)
                                             .number(outcomesAdded_));
  }
  db_.script("COMMIT");
  frontier_ = std::move(grown);
  pendingLeaves_.clear();
  rowsAdded_ = 0;
  outcomesAdded_ = 0;
}

void PostgresStore::rollback() {
  try {
    if (db_.inTransaction()) db_.script("ROLLBACK");
  } catch (const ArchiveError&) {
    // A lost connection has nothing to roll back; begin() reconnects.
  }
  rowsAdded_ = 0;
  outcomesAdded_ = 0;
  codes_.clear();
  pendingLeaves_.clear();
  if (!options_.hopId.empty()) {
    try {
      loadHeads();
    } catch (const ArchiveError&) {
      // Read again after the reconnect in begin().
    }
  }
}

bool PostgresStore::insertMessage(const MessageRecord& r) {
  if (options_.hopId.empty()) throw ArchiveError("this archive connection has no hop id and cannot write messages");
  // The conversation first: the row's hash covers it.
  const auto conversation =
      r.session ? db_.runPrepared("conversation_session",
                                  pg::Params().text(r.callId).text(r.participants).number(r.timeMs))
                : db_.runPrepared("conversation_pager", pg::Params()
                                                            .text(r.participants)
                                                            .number(r.timeMs)
                                                            .number(options_.conversationGapMs)
                                                            .text(r.callId)
                                                            .number(r.cseq)
                                                            .text(r.sender));
  if (conversation.rows() == 0) throw ArchiveError("no conversation for a message");
  const std::int64_t conversationId = conversation.integer(0, 0);
  const std::string conversationPrevious = conversation.text(0, 1);
  char hex[64];
  hashRow(lastHash_, r, conversationId, conversationPrevious, hex);
  const std::string hash(hex, sizeof hex);
  pg::Params params;
  params.number(conversationId).number(r.timeMs).text(options_.hopId).text(r.direction).text(r.sender);
  params.text(r.senderName).text(r.recipient).text(r.recipientName).text(r.callId).number(r.cseq);
  params.text(r.contentType).text(r.text).textOrNull(r.originalText).text(r.verdict).text(r.rules).text(r.tags);
  params.number(r.finalCode).text(r.source).text(r.transport).text(hash);
  params.textOrNull(r.rawBody.empty() ? std::string() : pg::byteaLiteral(r.rawBody));
  params.text(r.receivedContentType).text(r.contentEncoding).text(r.unreadable).text(conversationPrevious);
  const auto inserted = db_.runPrepared("insert_row", params);
  if (inserted.rows() == 0) return false;  // archived before, by this hop or another
  db_.runPrepared("link_conversation", pg::Params().number(conversationId).text(hash));
  lastId_ = inserted.integer(0, 0);
  lastHash_ = hash;
  ++rowsAdded_;
  pendingLeaves_.push_back(fromHex(hash));
  // Sealed at commit with the batch's other codes (flushCodes).
  if (r.finalCode != 0) updateFinalCode(r.callId, r.cseq, r.sender, r.finalCode);
  return true;
}

void PostgresStore::updateFinalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender,
                                    int code) {
  codes_.push_back(PendingCode{callId, cseq, sender, code});
}

// A batch's final codes in two statements instead of two per code: one
// SELECT of the rows they name (id and hash, in the order the codes came),
// then their outcome records, chained here in that order. The rows may be
// another hop's: they are sealed into this hop's chain.
void PostgresStore::flushCodes() {
  if (codes_.empty()) return;
  std::vector<std::string> callIds;
  std::vector<std::string> senders;
  std::string cseqs = "{";
  std::string codes = "{";
  for (const PendingCode& pending : codes_) {
    callIds.push_back(pending.callId);
    senders.push_back(pending.sender);
    cseqs += (cseqs.size() > 1 ? "," : "") + std::to_string(pending.cseq);
    codes += (codes.size() > 1 ? "," : "") + std::to_string(pending.code);
  }
  codes_.clear();
  const auto updated = db_.runPrepared(
      "final_codes",
      pg::Params().text(pg::textArray(callIds)).text(cseqs + "}").text(pg::textArray(senders)).text(codes + "}"));
  if (updated.rows() == 0) return;  // none was archived
  std::string messageIds = "{";
  std::string finalCodes = "{";
  std::vector<std::string> hashes;
  for (int i = 0; i < updated.rows(); ++i) {
    const std::int64_t messageId = updated.integer(i, 0);
    const int code = static_cast<int>(updated.integer(i, 2));
    lastOutcomeHash_ = outcomeHash(lastOutcomeHash_, messageId, updated.text(i, 1), code);
    hashes.push_back(lastOutcomeHash_);
    messageIds += (i > 0 ? "," : "") + std::to_string(messageId);
    finalCodes += (i > 0 ? "," : "") + std::to_string(code);
  }
  const auto inserted = db_.runPrepared("outcomes", pg::Params()
                                                        .text(options_.hopId)
                                                        .text(messageIds + "}")
                                                        .text(finalCodes + "}")
                                                        .text(pg::textArray(hashes)));
  lastOutcomeId_ = inserted.integer(0, 0);
  outcomesAdded_ += updated.rows();
}

std::int64_t PostgresStore::messageCount() { return db_.run("SELECT count(*) FROM messages").integer(0, 0); }

void PostgresStore::upsertCall(const CallRecord& r) {
  pg::Params params;
  params.text(r.callId).text(r.caller).text(r.callee);
  params.number(r.inviteMs != 0 ? r.inviteMs : (r.endMs != 0 ? r.endMs : r.answerMs));
  params.numberOrNull(r.ringingMs).numberOrNull(r.answerMs).numberOrNull(r.endMs);
  params.textOrNull(r.disposition).numberOrNull(r.endCode).textOrNull(r.endedByAor).textOrNull(r.media);
  db_.runPrepared("upsert_call", params);
}

void PostgresStore::insertFileTransfer(const FileTransferRecord& r) {
  pg::Params params;
  params.text(r.callId).text(r.name);
  if (r.size < 0) {
    params.null();
  } else {
    params.number(r.size);
  }
  params.number(r.blocked ? 1 : 0).number(r.timeMs);
  db_.runPrepared("file_transfer", params);
}

void PostgresStore::closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) {
  db_.run("UPDATE calls SET end_ms = $1, duration_ms = $1 - answer_ms, closed_by_timer = 1, ended_by = 'session_timer' "
          "WHERE end_ms IS NULL AND answer_ms IS NOT NULL AND answer_ms < $1 - $2",
          pg::Params().number(nowMs).number(timeoutMs));
}

std::int64_t PostgresStore::purgeBatch(std::int64_t cutoffMs, std::int64_t nowMs, int limit) {
  // SKIP LOCKED: another hop purging at the same time takes other rows.
  const auto purged = db_.run(
      "WITH victims AS (SELECT m.id FROM messages m WHERE m.time_ms < $1 "
      "AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.kind = 'conversation' AND h.value = m.conversation_id::text) "
      "AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.kind = 'participant' AND h.value IN (m.sender, m.recipient)) "
      "ORDER BY m.id LIMIT $2 FOR UPDATE SKIP LOCKED), "
      "gone AS (DELETE FROM messages m USING victims v WHERE m.id = v.id RETURNING m.id, m.hop_id, m.hash) "
      "INSERT INTO tombstones (id, hop_id, hash, purged_ms) SELECT id, hop_id, hash, $3 FROM gone "
      "RETURNING id, hash",
      pg::Params().number(cutoffMs).number(limit).number(nowMs));
  std::vector<std::pair<std::int64_t, std::string>> gone;
  for (int i = 0; i < purged.rows(); ++i) gone.emplace_back(purged.integer(i, 0), purged.text(i, 1));
  std::sort(gone.begin(), gone.end());
  if (!gone.empty()) {
    appendAudit(AuditEntry{nowMs, purgeWho_, "purge", purgeRecordQuery(purgeRule_, cutoffMs, gone),
                           static_cast<std::int64_t>(gone.size())},
                true);
  }
  db_.run("DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE invite_ms < $1 LIMIT $2)",
          pg::Params().number(cutoffMs).number(limit));
  // Only conversations that ended before the cutoff: a new one may still be
  // waiting for its first message from another hop's open transaction.
  db_.run("DELETE FROM conversations c WHERE c.last_ms < $1 "
          "AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = c.id) "
          "AND NOT EXISTS (SELECT 1 FROM holds WHERE kind = 'conversation' AND value = c.id::text)",
          pg::Params().number(cutoffMs));
  return static_cast<std::int64_t>(gone.size());
}

void PostgresStore::setHold(const std::string& kind, const std::string& value, bool held, std::int64_t nowMs,
                            const std::string& who, const std::string& reason) {
  if (kind != "participant" && kind != "conversation") throw ArchiveError("hold kind must be participant or conversation");
  // The hold and its record in one transaction: neither without the other.
  const bool own = !db_.inTransaction();
  if (own) db_.script("BEGIN");
  try {
    if (held) {
      db_.run("INSERT INTO holds (kind, value, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
              pg::Params().text(kind).text(value).number(nowMs));
    } else {
      db_.run("DELETE FROM holds WHERE kind = $1 AND value = $2", pg::Params().text(kind).text(value));
    }
    appendAudit(AuditEntry{nowMs, who, held ? "hold" : "release", holdRecordQuery(kind, value, reason), 1}, false);
    if (own) db_.script("COMMIT");
  } catch (...) {
    if (own) rollback();
    throw;
  }
}

VerifyReport PostgresStore::verify() {
  VerifyReport report;
  report.chains = 0;
  // One snapshot for every chain, and cursors so a large archive is read in
  // pieces rather than in one result.
  db_.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const auto orphans = db_.run(
        "SELECT hop_id FROM (SELECT DISTINCT hop_id FROM messages UNION SELECT DISTINCT hop_id FROM tombstones "
        "UNION SELECT DISTINCT hop_id FROM outcomes) h WHERE NOT EXISTS (SELECT 1 FROM chain_head c WHERE "
        "c.hop_id = h.hop_id) LIMIT 1");
    if (orphans.rows() > 0) {
      report.ok = false;
      report.problem = "rows of hop '" + orphans.text(0, 0) + "' have no chain head: the head was deleted";
    }
    const auto hops = db_.run("SELECT hop_id FROM chain_head ORDER BY hop_id");
    for (int i = 0; report.ok && i < hops.rows(); ++i) {
      ++report.chains;
      verifyChain(hops.text(i, 0), report);
      if (report.ok) verifyOutcomes(hops.text(i, 0), report);
    }
    if (report.ok) {
      // A row's own final_code is the code it was written with: 0, or one
      // that an outcome record of it seals (the newest record is what reads
      // show). Migrated rows from before their chain's outcome records are
      // not checked: their codes were never sealed (counted below).
      const auto edited = db_.run(
          "SELECT m.id, m.final_code FROM messages m JOIN chain_head h ON h.hop_id = m.hop_id "
          "WHERE m.final_code <> 0 AND m.id >= h.outcomes_from_id AND NOT EXISTS (SELECT 1 FROM outcomes o "
          "WHERE o.message_id = m.id AND o.final_code = m.final_code) ORDER BY m.id LIMIT 1");
      if (edited.rows() > 0) reportEditedFinalCode(report, edited.integer(0, 0), edited.integer(0, 1));
      const auto changed = db_.run(kChangedFinalCodes);
      for (int i = 0; i < changed.rows(); ++i) {
        addChangedFinalCode(report, changed.integer(i, 0), static_cast<int>(changed.integer(i, 1)));
      }
      report.unsealedCodes =
          db_.run("SELECT count(*) FROM messages m JOIN chain_head h ON h.hop_id = m.hop_id "
                  "WHERE m.id < h.outcomes_from_id AND m.final_code <> 0 "
                  "AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.message_id = m.id)")
              .integer(0, 0);
    }
    if (report.ok) {
      // Each message against its conversation; byte order (COLLATE "C"),
      // as the archive plugin sorts participants.
      const std::string participants =
          "(CASE WHEN m.sender COLLATE \"C\" <= m.recipient COLLATE \"C\" THEN m.sender || ',' || m.recipient "
          "ELSE m.recipient || ',' || m.sender END)";
      const auto moved = db_.run(
          "SELECT m.id, m.conversation_id FROM messages m LEFT JOIN conversations c ON c.id = m.conversation_id "
          "WHERE c.id IS NULL OR c.participants <> " + participants +
          " OR (c.kind = 'session' AND c.call_id IS DISTINCT FROM m.call_id) ORDER BY m.id LIMIT 1");
      if (moved.rows() > 0) reportConversationMismatch(report, moved.integer(0, 0), moved.integer(0, 1));
    }
    if (report.ok) verifyConversationLinks(report);
    if (report.ok) verifyTextSearch(report);
    if (report.ok) verifyAuditTrail(report);
    db_.script("COMMIT");
  } catch (...) {
    rollback();
    throw;
  }
  return report;
}

void PostgresStore::verifyTextSearch(VerifyReport& report) {
  // text_search is a generated column: nobody can UPDATE it, but an owner
  // can drop its expression and then rewrite it, or the whole column.
  const auto generated = db_.run(
      "SELECT a.attgenerated::text, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
      "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
      "WHERE a.attrelid = 'messages'::regclass AND a.attname = 'text_search' AND NOT a.attisdropped");
  if (generated.rows() == 0 || generated.text(0, 0) != "s" ||
      generated.text(0, 1).find("to_tsvector('simple'") == std::string::npos) {
    reportTextIndexMismatch(report, 0, "messages.text_search is no longer computed from the text");
    return;
  }
  const auto differs = db_.run(
      "SELECT id FROM messages WHERE text_search IS DISTINCT FROM (to_tsvector('simple', text) || "
      "to_tsvector('simple', regexp_replace(text, '[[:punct:]]+', ' ', 'g'))) ORDER BY id LIMIT 1");
  if (differs.rows() > 0) reportTextIndexMismatch(report, differs.integer(0, 0), "its text_search differs from its text");
}

void PostgresStore::verifyConversationLinks(VerifyReport& report) {
  // Every hop's rows at once, in id order: a conversation's rows may come
  // from several hops, serialised by the conversation's advisory lock.
  ConversationLinkCheck links(report);
  const auto tombstones = db_.run("SELECT id, hash FROM tombstones");
  for (int i = 0; i < tombstones.rows(); ++i) links.tombstone(tombstones.integer(i, 0), tombstones.text(i, 1));
  bool intact = true;
  forEachRow(db_, "links",
             "SELECT m.id, m.conversation_id, m.hash, m.conversation_previous, (m.id >= h.conversations_from_id)::int "
             "FROM messages m JOIN chain_head h ON h.hop_id = m.hop_id ORDER BY m.id",
             {}, [&](const BatchRow& row) {
               intact = links.row(row.integer(0), row.integer(1), row.text(2), row.text(3), row.integer(4) != 0);
               return intact;
             });
  if (!intact) return;
  const auto conversations = db_.run("SELECT id, last_hash FROM conversations ORDER BY id");
  for (int i = 0; i < conversations.rows(); ++i) {
    if (!links.conversation(conversations.integer(i, 0), conversations.text(i, 1))) return;
  }
}

void PostgresStore::verifyAuditTrail(VerifyReport& report) {
  const auto head = db_.run("SELECT last_id, last_hash, rows, from_id FROM audit_head WHERE id = 1");
  if (head.rows() != 1) {
    report.ok = false;
    report.problem = "the audit trail's head is missing: it was deleted";
    return;
  }
  AuditTrailCheck trail(report, head.integer(0, 3));
  forEachRow(db_, "audit_chain", std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY id", {},
             [&trail](const BatchRow& row) { return trail.feed(row); });
  trail.head(head.integer(0, 0), head.text(0, 1), head.integer(0, 2));
  std::set<std::pair<std::string, std::string>> holds;
  const auto table = db_.run("SELECT kind, value FROM holds");
  for (int i = 0; i < table.rows(); ++i) holds.insert({table.text(i, 0), table.text(i, 1)});
  trail.holds(holds);
  const auto stones = db_.run("SELECT id, hash FROM tombstones ORDER BY id");
  std::vector<std::pair<std::int64_t, std::string>> tombstones;
  for (int i = 0; i < stones.rows(); ++i) tombstones.emplace_back(stones.integer(i, 0), stones.text(i, 1));
  trail.tombstones(tombstones);
}

void PostgresStore::verifyChain(const std::string& hop, VerifyReport& report) {
  const std::int64_t from =
      db_.run("SELECT conversations_from_id FROM chain_head WHERE hop_id = $1", pg::Params().text(hop)).integer(0, 0);
  report.conversationsFromId = std::max(report.conversationsFromId, from);
  MessageChainCheck chain(report, " of hop '" + hop + "'", from);
  forEachRow(db_, "chain",
             std::string("SELECT ") + MessageChainCheck::rowColumns(true) +
                 " FROM messages WHERE hop_id = $1 UNION ALL SELECT " + MessageChainCheck::kTombstoneColumns +
                 " FROM tombstones WHERE hop_id = $1 ORDER BY 1",
             pg::Params().text(hop), [&chain](const BatchRow& row) { return chain.feed(row); });
  if (!report.ok) return;
  const auto head =
      db_.run("SELECT last_id, last_hash, rows, frontier FROM chain_head WHERE hop_id = $1", pg::Params().text(hop));
  chain.head(head.integer(0, 0), head.text(0, 1), head.integer(0, 2));
  chain.frontier(head.text(0, 3));
}

void PostgresStore::verifyOutcomes(const std::string& hop, VerifyReport& report) {
  db_.run("DECLARE outcome_chain NO SCROLL CURSOR FOR "
          "SELECT o.id, o.message_id, o.final_code, o.hash, coalesce(m.hash, t.hash) FROM outcomes o "
          "LEFT JOIN messages m ON m.id = o.message_id LEFT JOIN tombstones t ON t.id = o.message_id "
          "WHERE o.hop_id = $1 ORDER BY o.id",
          pg::Params().text(hop));
  OutcomeChainCheck chain(report, " of hop '" + hop + "'");
  for (bool more = true; more && report.ok;) {
    const auto batch = db_.run("FETCH 5000 FROM outcome_chain");
    more = batch.rows() == 5000;
    for (int i = 0; i < batch.rows(); ++i) {
      const std::string messageHash = batch.text(i, 4);
      if (!chain.record(batch.integer(i, 0), batch.integer(i, 1), static_cast<int>(batch.integer(i, 2)),
                        batch.text(i, 3), batch.null(i, 4) ? nullptr : &messageHash)) {
        break;
      }
    }
  }
  db_.script("CLOSE outcome_chain");
  if (!report.ok) return;
  const auto head = db_.run("SELECT outcomes_last_id, outcomes_last_hash, outcomes_rows FROM chain_head WHERE hop_id = $1",
                            pg::Params().text(hop));
  chain.head(head.integer(0, 0), head.text(0, 1), head.integer(0, 2));
}

// Signed checkpoints (checkpoint.h): each hop has its own pair of chains.
std::optional<ChainHeads> PostgresStore::chainHeads(const std::string& hop) {
  const auto head = db_.run("SELECT c.last_id, c.last_hash, c.rows, c.outcomes_last_id, c.outcomes_last_hash, "
                            "c.outcomes_rows, a.last_id, a.last_hash, a.rows, c.frontier FROM chain_head c, audit_head a "
                            "WHERE c.hop_id = $1 AND a.id = 1",
                            pg::Params().text(hop));
  if (head.rows() == 0) return std::nullopt;
  std::string root;
  const std::int64_t rows = head.integer(0, 2);
  if (rows == 0) {
    // Nothing to commit to: an empty chain's heads are all empty.
  } else if (hop == options_.hopId && static_cast<std::int64_t>(frontier_.size()) == rows) {
    root = toHex(frontier_.root());
  } else if (const auto parsed = merkle::Frontier::parse(head.text(0, 9));
             parsed && static_cast<std::int64_t>(parsed->size()) == rows) {
    root = toHex(parsed->root());
  }
  return ChainHeads{head.integer(0, 0), head.text(0, 1), head.integer(0, 2), head.integer(0, 3),
                    head.text(0, 4),    head.integer(0, 5), head.integer(0, 6), head.text(0, 7),
                    head.integer(0, 8), root};
}

std::optional<std::string> PostgresStore::chainedAuditHash(std::int64_t id) {
  const auto hash = db_.run("SELECT hash FROM audit WHERE id = $1", pg::Params().number(id));
  if (hash.rows() == 0) return std::nullopt;
  return hash.text(0, 0);
}

std::vector<std::pair<std::int64_t, std::string>> PostgresStore::chainLeaves(const std::string& hop) {
  std::vector<std::pair<std::int64_t, std::string>> leaves;
  const auto rows = db_.run("SELECT id, hash FROM messages WHERE hop_id = $1 UNION ALL "
                            "SELECT id, hash FROM tombstones WHERE hop_id = $1 ORDER BY 1",
                            pg::Params().text(hop));
  leaves.reserve(static_cast<std::size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) leaves.emplace_back(rows.integer(i, 0), fromHex(rows.text(i, 1)));
  return leaves;
}

std::optional<std::string> PostgresStore::chainedMessageHash(const std::string& hop, std::int64_t id) {
  const auto hash = db_.run("SELECT hash FROM messages WHERE id = $1 AND hop_id = $2 UNION ALL "
                            "SELECT hash FROM tombstones WHERE id = $1 AND hop_id = $2",
                            pg::Params().number(id).text(hop));
  if (hash.rows() == 0) return std::nullopt;
  return hash.text(0, 0);
}

std::optional<std::string> PostgresStore::chainedOutcomeHash(const std::string& hop, std::int64_t id) {
  const auto hash = db_.run("SELECT hash FROM outcomes WHERE id = $1 AND hop_id = $2", pg::Params().number(id).text(hop));
  if (hash.rows() == 0) return std::nullopt;
  return hash.text(0, 0);
}

}  // namespace sipwarden::archive
