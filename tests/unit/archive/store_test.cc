// The SQLite archive on a real file: migrations, dedup, grouping, the
// tamper-evidence chain, full-text search, and the writer's group commit.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "archive/backend_support.h"
#include "archive/hash_chain.h"
#include "archive/migrations.h"
#include "archive/sqlite_store.h"
#include "archive/writer.h"
#include "archive/test_records.h"

namespace sipwarden::archive {
namespace {

class TempDb {
 public:
  TempDb() {
    path_ = (std::filesystem::temp_directory_path() /
             ("sipwarden-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".db"))
                .string();
    remove();
  }
  ~TempDb() { remove(); }
  const std::string& path() const { return path_; }

 private:
  void remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  static inline int counter_ = 0;
  std::string path_;
};

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kMinute = 60 * 1000;
// The idle gap that ends a pager conversation, as the hop's default.
constexpr std::int64_t kIdleGap = 30 * kMinute;

MessageRecord record(std::uint32_t cseq, const std::string& text, std::int64_t timeMs = kT0) {
  MessageRecord r = testing::textMessage("call-" + std::to_string(cseq), cseq, timeMs, text);
  r.finalCode = 200;
  return r;
}

// A message of the session (a dialog's MESSAGEs, one conversation by
// Call-ID) "session-1".
MessageRecord sessionMessage(std::uint32_t cseq, const std::string& text, std::int64_t timeMs) {
  MessageRecord r = record(cseq, text, timeMs);
  r.session = true;
  r.callId = "session-1";
  return r;
}

// `records` in one transaction, in order.
void insertAll(SqliteStore& store, const std::vector<MessageRecord>& records) {
  store.begin();
  for (const MessageRecord& r : records) store.insertMessage(r);
  store.commit();
}

// Waits for a row like archive-before-forward does, never giving up.
class PromiseWaiter final : public CommitWaiter {
 public:
  bool claim() override { return true; }
  void committed(bool durable) override { done.set_value(durable); }
  std::promise<bool> done;
};

void execute(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// Messages "message 1" to "message `count`" (CSeq 1 to `count`), one
// transaction.
void insertNumbered(SqliteStore& store, std::uint32_t count) {
  store.begin();
  for (std::uint32_t i = 1; i <= count; ++i) store.insertMessage(record(i, "message " + std::to_string(i)));
  store.commit();
}

// An archive file holding those messages, closed again.
void writeNumbered(const std::string& path, std::uint32_t count) {
  SqliteStore store(path);
  insertNumbered(store, count);
}

// What verify says after `sql` edited the closed archive behind its back.
VerifyReport verifyAfter(const std::string& path, const std::string& sql) {
  execute(path, sql);
  return SqliteStore(path).verify();
}

std::int64_t scalar(SqliteStore& store, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(store.handle(), sql.c_str(), -1, &statement, nullptr), SQLITE_OK);
  std::int64_t value = -1;
  if (sqlite3_step(statement) == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  return value;
}

TEST(Store, MigratesAFreshArchiveAndRefusesANewerOne) {
  TempDb db;
  const int newest = migrations().back().version;
  { EXPECT_EQ(SqliteStore(db.path()).schemaVersion(), newest); }
  { EXPECT_EQ(SqliteStore(db.path()).schemaVersion(), newest) << "reopening applies nothing twice"; }
  execute(db.path(), "PRAGMA user_version = 99");
  try {
    SqliteStore again(db.path());
    FAIL() << "a newer schema must be refused";
  } catch (const ArchiveError& error) {
    EXPECT_NE(std::string(error.what()).find("schema version 99 is newer"), std::string::npos);
  }
}

TEST(Store, ArchivesARequestOnce) {
  TempDb db;
  SqliteStore store(db.path());
  store.begin();
  EXPECT_TRUE(store.insertMessage(record(1, "hello")));
  EXPECT_FALSE(store.insertMessage(record(1, "hello")));
  store.commit();
  EXPECT_EQ(store.messageCount(), 1);
}

TEST(Store, GroupsPagerMessagesUntilAnIdleGapAndSessionsByCallId) {
  TempDb db;
  SqliteStore store(db.path(), kIdleGap);
  insertAll(store, {record(1, "one", kT0), record(2, "two", kT0 + 10 * kMinute),
                    record(3, "three", kT0 + 50 * kMinute),  // 40 minutes later: new conversation
                    sessionMessage(4, "session text", kT0), sessionMessage(5, "more", kT0 + 90 * kMinute)});
  EXPECT_EQ(scalar(store, "SELECT count(DISTINCT conversation_id) FROM messages WHERE call_id LIKE 'call-%'"), 2);
  EXPECT_EQ(scalar(store, "SELECT count(DISTINCT conversation_id) FROM messages WHERE call_id = 'session-1'"), 1);
}

TEST(Store, ConversationLastTimeIsTheNewestMessage) {
  TempDb db;
  SqliteStore store(db.path(), kIdleGap);
  insertAll(store, {record(1, "one", kT0), record(2, "two", kT0 + 20 * kMinute),
                    record(3, "late arrival", kT0 + 5 * kMinute)});  // out of order: last_ms stays
  insertAll(store, {record(4, "next batch", kT0 + 40 * kMinute)});  // 20 minutes after the newest
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM conversations"), 1);
  EXPECT_EQ(scalar(store, "SELECT last_ms FROM conversations"), kT0 + 40 * kMinute);
  EXPECT_EQ(scalar(store, "SELECT started_ms FROM conversations"), kT0);
}

TEST(Store, PagerConversationContinuesAfterReopening) {
  TempDb db;
  {
    SqliteStore store(db.path(), kIdleGap);
    insertAll(store, {record(1, "before restart", kT0)});
  }
  SqliteStore store(db.path(), kIdleGap);
  MessageRecord session = sessionMessage(3, "session", kT0);
  insertAll(store, {record(2, "after restart", kT0 + 10 * kMinute), session});
  EXPECT_EQ(scalar(store, "SELECT count(DISTINCT conversation_id) FROM messages WHERE call_id LIKE 'call-%'"), 1);
  store.begin();
  session.cseq = 4;
  store.insertMessage(session);
  store.commit();
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM conversations"), 2);
}

TEST(Store, RolledBackConversationsAreNotReused) {
  TempDb db;
  SqliteStore store(db.path(), kIdleGap);
  store.begin();
  store.insertMessage(record(1, "rolled back", kT0));
  MessageRecord session = sessionMessage(2, "rolled back too", kT0);
  store.insertMessage(session);
  store.rollback();
  store.begin();
  EXPECT_TRUE(store.insertMessage(record(1, "again", kT0 + 1000)));
  session.text = "again";
  EXPECT_TRUE(store.insertMessage(session));
  store.commit();
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM conversations"), 2);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"), 2);
  EXPECT_TRUE(store.verify().ok);
}

TEST(Store, SeesConversationsAnotherConnectionRemoved) {
  // The writer caches conversations; a purge by hand (another process)
  // must not leave it pointing at a deleted one.
  TempDb db;
  SqliteStore store(db.path(), kIdleGap);
  MessageRecord session = sessionMessage(2, "in a session", kT0);
  insertAll(store, {record(1, "first", kT0), session});
  execute(db.path(),
          "INSERT INTO tombstones (id, hash, purged_ms) SELECT id, hash, 0 FROM messages; "
          "DELETE FROM messages; DELETE FROM conversations;");
  store.begin();
  EXPECT_TRUE(store.insertMessage(record(3, "after the purge", kT0 + kMinute)));
  session.cseq = 4;
  EXPECT_TRUE(store.insertMessage(session));
  store.commit();
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"), 2);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM conversations"), 2);
}

TEST(Store, RowHashKeepsTheArchivedFormat) {
  // Values from the first implementation (Poco's SHA-256): archives written
  // by it must still verify.
  MessageRecord r;
  r.timeMs = 1'700'000'000'000;
  r.direction = "from_client";
  r.sender = "alice@example.com";
  r.senderName = "Alice";
  r.recipient = "bob@example.com";
  r.callId = "call-1";
  r.cseq = 4294967295u;
  r.contentType = "text/plain";
  r.text = "h\xc3\xa9llo, 5:x";
  r.originalText = "orig";
  r.verdict = "modified";
  r.rules = "a,b";
  r.tags = "k=v";
  r.source = "192.0.2.1:5060";
  r.transport = "UDP";
  const std::string first = rowHash("", r);
  EXPECT_EQ(first, "ab2820a7238bfe8583c9caecc3e97054ee92d61b86b37187208c68296aeae2be");
  EXPECT_EQ(rowHash(first, r), "b6df5afc3879ad1d7b3fcfbe5fec986dfb804e3659c7be9f627db78e0c2dd70e");
}

TEST(Store, UpgradesAVersion3Archive) {
  TempDb db;
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
    ASSERT_NO_FATAL_FAILURE(testing::migrateSqliteTo(raw, 3));
    ASSERT_EQ(sqlite3_exec(raw,
                           "PRAGMA user_version = 3; "
                           "INSERT INTO conversations (kind, call_id, participants, started_ms, last_ms) "
                           "VALUES ('pager', NULL, 'alice@example.com,bob@example.com', 1700000000000, 1700000000000)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  SqliteStore store(db.path(), kIdleGap);
  EXPECT_EQ(store.schemaVersion(), migrations().back().version);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM sqlite_master WHERE name IN ('conversations_call_id', "
                          "'conversations_participants') AND sql LIKE '% WHERE %'"),
            2);
  store.begin();
  store.insertMessage(record(1, "continues the old conversation", 1'700'000'000'000 + 60 * 1000));
  store.commit();
  EXPECT_EQ(scalar(store, "SELECT conversation_id FROM messages"), 1);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'continues'"), 1);
}

TEST(Store, FullTextIndexFindsWords) {
  TempDb db;
  SqliteStore store(db.path());
  store.begin();
  store.insertMessage(record(1, "the quarterly budget review"));
  store.insertMessage(record(2, "lunch at noon"));
  store.commit();
  EXPECT_EQ(scalar(store, "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'budget review'"), 1);
}

TEST(Store, VerifyPassesOnAnUntouchedArchive) {
  TempDb db;
  SqliteStore store(db.path());
  insertNumbered(store, 20);
  const VerifyReport report = store.verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.rows, 20);
}

TEST(Store, VerifyFindsAnEditedRow) {
  TempDb db;
  writeNumbered(db.path(), 10);
  const VerifyReport report = verifyAfter(db.path(), "UPDATE messages SET text = 'nothing to see' WHERE id = 4");
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, 4);
}

TEST(Store, VerdictIndexHoldsOnlyTheRareVerdicts) {
  TempDb db;
  SqliteStore store(db.path());
  store.begin();
  store.insertMessage(record(1, "a delivered one"));
  MessageRecord blocked = record(2, "a blocked one");
  blocked.verdict = "blocked";
  store.insertMessage(blocked);
  store.commit();
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM messages INDEXED BY messages_verdict "
                          "WHERE verdict <> 'delivered' AND verdict = 'blocked'"), 1);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM sqlite_master WHERE name = 'messages_verdict' "
                          "AND sql LIKE '%WHERE verdict <> ''delivered''%'"), 1);
}

TEST(Store, OutcomeHashKeepsItsFormat) {
  // Expected values from Python's hashlib over the same length-prefixed
  // fields: previous outcome hash, message id, message hash, final code.
  const std::string first = outcomeHash("", 7, std::string(64, 'a'), 200);
  EXPECT_EQ(first, "1a22424c1f4815f51a34699177f3ad6599c789c7a60565c0f8e22d8f0f2d2d43");
  EXPECT_EQ(outcomeHash(first, 8, std::string(64, 'b'), -1),
            "21d30228637982f4a6cfe3d2ced749e9c6e685c63197c2eb4f20a02145f2c9ba");
}

TEST(Store, FinalCodesAreSealedAndAnEditedOneIsFound) {
  TempDb db;
  {
    SqliteStore store(db.path());
    store.begin();
    for (std::uint32_t i = 1; i <= 10; ++i) {
      MessageRecord r = record(i, "message " + std::to_string(i));
      r.finalCode = 0;  // as the archive plugin writes it: the code comes later
      store.insertMessage(r);
    }
    store.commit();
    store.begin();
    for (std::uint32_t i = 1; i <= 10; ++i) store.updateFinalCode("call-" + std::to_string(i), i, "alice@example.com", 200);
    store.updateFinalCode("call-3", 3, "alice@example.com", 486);  // a later code replaces it
    store.updateFinalCode("never-archived", 1, "alice@example.com", 503);
    store.commit();
    const VerifyReport report = store.verify();
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.outcomes, 11);
    EXPECT_EQ(report.unsealedCodes, 0);
    EXPECT_EQ(scalar(store, "SELECT final_code FROM messages WHERE id = 3"), 0)
        << "the row keeps the code it was written with; later ones are outcome records only";
    EXPECT_EQ(scalar(store, "SELECT final_code FROM outcomes WHERE message_id = 3 ORDER BY id DESC LIMIT 1"), 486);
  }
  VerifyReport report = verifyAfter(db.path(), "UPDATE messages SET final_code = 302 WHERE id = 3");
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, 3);
  EXPECT_NE(report.problem.find("final code 302"), std::string::npos) << report.problem;

  report = verifyAfter(db.path(),
                       "UPDATE messages SET final_code = 0 WHERE id = 3; UPDATE outcomes SET final_code = 200 WHERE id = 11");
  EXPECT_FALSE(report.ok) << "an edited outcome record breaks its chain";
  EXPECT_EQ(report.firstBadId, 3);

  report = verifyAfter(db.path(),
                       "UPDATE outcomes SET final_code = 486 WHERE id = 11; DELETE FROM outcomes WHERE id = 11; "
                       "UPDATE messages SET final_code = 0 WHERE id = 3");
  EXPECT_FALSE(report.ok) << "the newest outcome removed is seen at the head";
}

TEST(Store, FinalCodesOfAnArchiveOlderThanOutcomesAreCountedNotFailed) {
  TempDb db;
  {
    // A version-4 archive with two sealed rows and their final codes, as the
    // previous sipwarden wrote it (final_code outside any chain).
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
    ASSERT_NO_FATAL_FAILURE(testing::migrateSqliteTo(raw, 4));
    std::string previous;
    std::string sql = "PRAGMA user_version = 4; INSERT INTO conversations (id, kind, participants, started_ms, last_ms) "
                      "VALUES (1, 'pager', 'alice@example.com,bob@example.com', 0, 0);";
    for (std::uint32_t i = 1; i <= 2; ++i) {
      const MessageRecord r = record(i, "old " + std::to_string(i));
      previous = rowHash(previous, r);
      sql += "INSERT INTO messages (id, conversation_id, time_ms, direction, sender, recipient, call_id, cseq, "
             "content_type, text, verdict, final_code, hash) VALUES (" + std::to_string(i) + ", 1, " +
             std::to_string(r.timeMs) + ", 'from_client', 'alice@example.com', 'bob@example.com', '" + r.callId +
             "', " + std::to_string(i) + ", 'text/plain', '" + r.text + "', 'delivered', 200, '" + previous + "');";
    }
    // As the writer does, the text goes into the full-text index too.
    sql += "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages;";
    sql += "UPDATE chain_head SET last_id = 2, last_hash = '" + previous + "', rows = 2;";
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }
  SqliteStore store(db.path());
  VerifyReport report = store.verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.rows, 2);
  EXPECT_EQ(report.unsealedCodes, 2);
  EXPECT_EQ(report.outcomes, 0);
  store.begin();
  store.insertMessage(record(3, "new"));
  store.updateFinalCode("call-1", 1, "alice@example.com", 408);  // an old row's code, sealed from now on
  store.commit();
  report = store.verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.rows, 3);
  EXPECT_EQ(report.outcomes, 2);
  EXPECT_EQ(report.unsealedCodes, 1);
  EXPECT_EQ(scalar(store, "SELECT final_code FROM outcomes WHERE message_id = 1"), 408);
  report = verifyAfter(db.path(), "UPDATE outcomes SET final_code = 200 WHERE message_id = 1");
  EXPECT_FALSE(report.ok) << "an old row's code, once sealed, is covered";
  EXPECT_EQ(report.firstBadId, 1);
}

TEST(Store, VerifyFindsADeletedRowInTheMiddleAndAtTheEnd) {
  TempDb db;
  writeNumbered(db.path(), 10);
  VerifyReport report = verifyAfter(db.path(), "DELETE FROM messages WHERE id = 10");
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("rows were deleted"), std::string::npos) << report.problem;
  report = verifyAfter(db.path(), "DELETE FROM messages WHERE id = 6");
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, 7);
}

TEST(Store, AFullDiskIsAnError) {
  TempDb db;
  SqliteStore store(db.path());
  sqlite3_exec(store.handle(), "PRAGMA max_page_count = 30", nullptr, nullptr, nullptr);
  bool failed = false;
  try {
    store.begin();
    for (std::uint32_t i = 1; i <= 5000 && !failed; ++i) store.insertMessage(record(i, std::string(200, 'x')));
    store.commit();
  } catch (const ArchiveError& error) {
    failed = true;
    store.rollback();
  }
  EXPECT_TRUE(failed);
}

TEST(Writer, GroupCommitsEverythingSubmittedBeforeStop) {
  TempDb db;
  {
    Writer writer(WriterSettings{db.path(), 100, std::chrono::milliseconds(5), 100000, kIdleGap});
    for (std::uint32_t i = 1; i <= 1000; ++i) ASSERT_TRUE(writer.submit(record(i, "m" + std::to_string(i))));
    ASSERT_TRUE(writer.submit(record(1, "m1")));  // a second pass of the same request
    writer.finalCode("call-7", 7, "alice@example.com", 486);
    writer.drainAndStop();
    EXPECT_EQ(writer.counters().committed.load(), 1000u);
    EXPECT_EQ(writer.counters().duplicates.load(), 1u);
    EXPECT_GE(writer.counters().batches.load(), 10u);
  }
  SqliteStore store(db.path());
  EXPECT_EQ(store.messageCount(), 1000);
  EXPECT_TRUE(store.verify().ok) << "a final code recorded later does not break the chain";
  EXPECT_EQ(scalar(store, "SELECT o.final_code FROM outcomes o JOIN messages m ON m.id = o.message_id "
                          "WHERE m.call_id = 'call-7' ORDER BY o.id DESC LIMIT 1"), 486);
}

TEST(Writer, TellsWhoWaitsWhenTheRowIsDurable) {
  TempDb db;
  Writer writer(WriterSettings{db.path(), 100, std::chrono::milliseconds(5), 100000, kIdleGap});
  auto waiter = std::make_shared<PromiseWaiter>();
  auto future = waiter->done.get_future();
  ASSERT_TRUE(writer.submit(record(1, "wait for me"), waiter));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(future.get());
  EXPECT_EQ(SqliteStore(db.path()).messageCount(), 1);
}

TEST(Writer, CheckpointsOnItsOwnConnection) {
  TempDb db;
  Writer writer(WriterSettings{db.path(), 100, std::chrono::milliseconds(5), 100000, kIdleGap});
  for (std::uint32_t i = 1; i <= 500; ++i) ASSERT_TRUE(writer.submit(record(i, "m" + std::to_string(i))));
  for (int i = 0; i < 300 && writer.counters().checkpoints.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(writer.counters().checkpoints.load(), 0u);
  writer.drainAndStop();
  EXPECT_EQ(SqliteStore(db.path()).messageCount(), 500);
}

TEST(Writer, RefusesWhenTheQueueIsFull) {
  TempDb db;
  Writer writer(WriterSettings{db.path(), 10, std::chrono::milliseconds(200), 3, kIdleGap});
  int accepted = 0;
  for (std::uint32_t i = 1; i <= 50; ++i) accepted += writer.submit(record(i, "x")) ? 1 : 0;
  EXPECT_LT(accepted, 50);
  EXPECT_GT(writer.counters().refused.load(), 0u);
}

}  // namespace
}  // namespace sipwarden::archive

namespace sipwarden::archive {
namespace {

TEST(Writer, RecoversByItselfWhenSpaceReturns) {
  TempDb db;
  Writer writer(WriterSettings{db.path(), 1, std::chrono::milliseconds(1), 100000, kIdleGap, 40});
  auto commitOne = [&](std::uint32_t cseq) {
    auto waiter = std::make_shared<PromiseWaiter>();
    auto future = waiter->done.get_future();
    if (!writer.submit(record(cseq, std::string(500, 'x')), waiter)) return false;
    return future.wait_for(std::chrono::seconds(5)) == std::future_status::ready && future.get();
  };
  std::uint32_t cseq = 1;
  while (commitOne(cseq) && cseq < 2000) ++cseq;
  ASSERT_LT(cseq, 2000u) << "the quota must fill";
  EXPECT_FALSE(writer.healthy());
  // An operator frees space (here: from another connection).
  execute(db.path(), "DELETE FROM messages_fts; DELETE FROM messages WHERE id > 1");
  bool recovered = false;
  for (int attempt = 0; attempt < 40 && !recovered; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    recovered = commitOne(100000 + static_cast<std::uint32_t>(attempt));
  }
  EXPECT_TRUE(recovered);
  EXPECT_TRUE(writer.healthy());
}

}  // namespace
}  // namespace sipwarden::archive

namespace sipwarden::archive {
namespace {

// Rows from 2001, and a time long after them.
constexpr std::int64_t kLongAgo = 1'000'000'000'000;
constexpr std::int64_t kLongAfter = 1'900'000'000'000;

// Retention's purge at `now` of what is a second older, `batch` rows at a
// time, in one transaction; how many rows it took.
std::int64_t purgeBefore(SqliteStore& store, std::int64_t now, int batch) {
  store.begin();
  const std::int64_t purged = store.purgeBatch(now - 1000, now, batch);
  store.commit();
  return purged;
}

TEST(Store, PurgeKeepsHeldConversationsAndParticipantsAndTheChainVerifies) {
  TempDb db;
  SqliteStore store(db.path());
  store.begin();
  for (std::uint32_t i = 1; i <= 10; ++i) store.insertMessage(record(i, "old " + std::to_string(i), kLongAgo + i));
  MessageRecord carol = record(11, "old but held", kLongAgo + 11);
  carol.sender = "carol@example.com";
  carol.participants = "bob@example.com,carol@example.com";
  store.insertMessage(carol);
  store.insertMessage(record(12, "recent", kLongAfter));
  store.commit();
  store.setHold("participant", "carol@example.com", true, kLongAfter);
  EXPECT_EQ(purgeBefore(store, kLongAfter, 4), 4) << "small batches";
  EXPECT_EQ(purgeBefore(store, kLongAfter, 500), 6);
  EXPECT_EQ(store.messageCount(), 2);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM messages WHERE sender = 'carol@example.com'"), 1);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'old'"), 1);
  const VerifyReport report = store.verify();
  EXPECT_TRUE(report.ok) << report.problem;
  store.setHold("participant", "carol@example.com", false, kLongAfter);
  EXPECT_EQ(purgeBefore(store, kLongAfter, 500), 1);
  EXPECT_TRUE(store.verify().ok);
}

// A row as the archive plugin writes it: its final code comes later.
MessageRecord awaitingCode(std::uint32_t cseq, const std::string& text, std::int64_t timeMs = kT0) {
  return testing::textMessage("call-" + std::to_string(cseq), cseq, timeMs, text);
}

void commitLaterCode(SqliteStore& store, std::uint32_t cseq, int code) {
  store.begin();
  store.updateFinalCode("call-" + std::to_string(cseq), cseq, "alice@example.com", code);
  store.commit();
}

TEST(Store, IdsAreNotReusedWhenAPurgeTookTheNewestRows) {
  // An archive idle for longer than its retention loses every row; the next
  // message must not take a purged row's id (its tombstone and its outcome
  // records still name it).
  TempDb db;
  SqliteStore store(db.path());
  store.begin();
  for (std::uint32_t i = 1; i <= 3; ++i) store.insertMessage(record(i, "old " + std::to_string(i), kLongAgo + i));
  store.commit();
  EXPECT_EQ(purgeBefore(store, kLongAfter, 500), 3);
  store.begin();
  store.insertMessage(awaitingCode(4, "after the purge", kLongAfter));
  store.commit();
  EXPECT_EQ(scalar(store, "SELECT id FROM messages"), 4);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM outcomes WHERE message_id = 4"), 0)
      << "no purged message's code shows as this one's";
  const VerifyReport report = store.verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.rows, 4);
  SqliteStore reopened(db.path());
  reopened.begin();
  reopened.insertMessage(record(5, "and after a restart", kLongAfter + 1));
  reopened.commit();
  EXPECT_EQ(scalar(reopened, "SELECT max(id) FROM messages"), 5);
}

// The final code of CSeq 1, arriving once its row is gone, records no
// outcome (`countOutcomes` counts where it would be) and the chain verifies.
void expectALateCodeIsDropped(SqliteStore& store, const std::string& countOutcomes) {
  commitLaterCode(store, 1, 200);
  EXPECT_EQ(scalar(store, countOutcomes), 0);
  EXPECT_TRUE(store.verify().ok);
}

TEST(Store, ALaterCodeForAPurgedRowIsNotRecorded) {
  TempDb db;
  SqliteStore store(db.path());
  insertAll(store, {awaitingCode(1, "code still to come", kLongAgo), record(2, "kept", kLongAfter)});
  EXPECT_EQ(purgeBefore(store, kLongAfter, 500), 1);
  expectALateCodeIsDropped(store, "SELECT count(*) FROM outcomes WHERE message_id = 1");
}

TEST(Store, ALaterCodeForARolledBackRowIsNotRecorded) {
  TempDb db;
  SqliteStore store(db.path());
  store.begin();
  store.insertMessage(awaitingCode(1, "rolled back"));
  store.rollback();
  expectALateCodeIsDropped(store, "SELECT count(*) FROM outcomes");
}

TEST(Store, TwoWritersOnOneFileTakeTurnsWithoutLosingARow) {
  // Not a configuration sipwarden asks for (a hop has its own file), but
  // a second process on the same file must neither lose rows nor break
  // the chain: each transaction starts from the heads the other left.
  TempDb db;
  SqliteStore first(db.path());
  SqliteStore second(db.path());
  for (std::uint32_t i = 1; i <= 6; ++i) {
    SqliteStore& store = i % 2 == 1 ? first : second;
    store.begin();
    EXPECT_TRUE(store.insertMessage(record(i, "turn " + std::to_string(i))));
    store.commit();
  }
  EXPECT_EQ(first.messageCount(), 6);
  const VerifyReport report = first.verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.rows, 6);
  EXPECT_EQ(report.outcomes, 6);
}

}  // namespace
}  // namespace sipwarden::archive
