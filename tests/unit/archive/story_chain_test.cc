// Issue 18's "everything that tells the story": a conversation move, holds,
// purges and the audit trail are covered by chains, on both backends; each
// tamper an administrator with the database could try is caught by verify
// (and, where the chains alone cannot see it, by signed checkpoints).
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "archive/hash_chain.h"
#include "archive/checkpoint.h"
#include "archive/migrations.h"
#include "archive/sqlite_statement.h"
#include "archive/sqlite_store.h"
#include "archive/store.h"
#include "backend_support.h"
#include "query/reader.h"
#include "test_records.h"

namespace sipwarden::archive {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kDay = 86'400'000;

class StoryChain : public testing::BothBackends {
 protected:
  void SetUp() override {
    BothBackends::SetUp();
    if (HasFatalFailure()) return;
    store_ = archive().open();
  }
  Store& store() { return *store_; }

  // `count` messages between alice and bob, one minute apart from `t0`.
  void write(int from, int to, std::int64_t t0, const std::string& peer = "bob@example.com") {
    for (int i = from; i <= to; ++i) {
      const MessageRecord r = testing::textMessage("call-" + std::to_string(i), 1, t0 + i * 60'000,
                                                   "message " + std::to_string(i), "alice@example.com", peer);
      store().begin({&r});
      store().insertMessage(r);
      store().commit();
    }
  }
  std::int64_t purge(std::int64_t cutoff) {
    store().begin();
    const std::int64_t purged = store().purgeBatch(cutoff, kT0 + 400 * kDay, 500);
    store().commit();
    return purged;
  }
  VerifyReport verify() { return archive().open("")->verify(); }
  // Issue 18's case 2 by hand: the hashes of the messages `where` selects
  // moved into tombstones and the messages deleted (with their final codes
  // and, on SQLite, their full-text entries), as if purged by retention.
  void forgeTombstones(const std::string& where) {
    if (postgres()) {
      archive().exec("INSERT INTO tombstones (id, hop_id, hash, purged_ms) SELECT id, hop_id, hash, 0 FROM messages "
                     "WHERE " + where);
    } else {
      archive().exec("INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', id, text FROM messages "
                     "WHERE " + where);
      archive().exec("INSERT INTO tombstones (id, hash, purged_ms) SELECT id, hash, 0 FROM messages WHERE " + where);
    }
    archive().exec("DELETE FROM outcomes WHERE message_id IN (SELECT id FROM messages WHERE " + where + ")");
    archive().exec("DELETE FROM messages WHERE " + where);
  }

 private:
  std::unique_ptr<Store> store_;
};

TEST_P(StoryChain, AnArchiveAfterPurgesHoldsAndSearchesVerifies) {
  write(1, 30, kT0);
  write(31, 40, kT0 + 200 * kDay, "carol@example.com");
  store().setHold("participant", "carol@example.com", true, kT0, "cli:tester", "case 7");
  EXPECT_EQ(purge(kT0 + 300 * kDay), 30) << "carol's rows are held";
  {
    query::Reader reader(archive().url());
    reader.recordAudit("cli:tester", "messages", "text=budget", 0);
  }
  store().setHold("participant", "carol@example.com", false, kT0, "cli:tester", "case closed");
  const VerifyReport report = verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.purgedRows, 30);
  EXPECT_EQ(report.purgeRecords, 1);
  EXPECT_EQ(report.auditRecords, 4) << "hold, purge, search, release";
  EXPECT_EQ(report.holds, 0);
}

TEST_P(StoryChain, AForgedTombstoneIsCaught) {
  write(1, 40, kT0);
  // Case 2: the row's hash moved into tombstones and the row deleted: it
  // looks purged by retention, but no purge record lists it.
  const std::int64_t victim = archive().scalar("SELECT min(id) FROM messages") + 6;
  forgeTombstones("id = " + std::to_string(victim));
  const VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, victim) << report.problem;
  EXPECT_NE(report.problem.find("no purge record accounts for"), std::string::npos) << report.problem;
}

TEST_P(StoryChain, ARangeOf21ForgedTombstonesIsCaughtAfterARealPurge) {
  write(1, 10, kT0);
  write(11, 50, kT0 + 300 * kDay);
  ASSERT_EQ(purge(kT0 + 100 * kDay), 10);
  ASSERT_TRUE(verify().ok);
  const std::int64_t first = archive().scalar("SELECT min(id) FROM messages") + 5;
  const std::string range = "id BETWEEN " + std::to_string(first) + " AND " + std::to_string(first + 20);
  forgeTombstones(range);
  const VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, first) << report.problem;
}

TEST_P(StoryChain, ATombstoneWithAnotherHashOrWithoutItsRecordIsCaught) {
  write(1, 10, kT0);
  ASSERT_EQ(purge(kT0 + 100 * kDay), 10);
  const std::int64_t victim = archive().scalar("SELECT min(id) FROM tombstones") + 3;
  archive().exec("DELETE FROM tombstones WHERE id = " + std::to_string(victim));
  VerifyReport report = verify();
  EXPECT_FALSE(report.ok) << "a purged row's tombstone removed breaks the chain";
}

TEST_P(StoryChain, AHoldDeletedOrInventedIsCaught) {
  write(1, 5, kT0);
  store().setHold("participant", "alice@example.com", true, kT0, "cli:legal", "matter 12");
  ASSERT_TRUE(verify().ok);
  // Case 5: the hold removed by hand, so that retention takes the rows.
  archive().exec("DELETE FROM holds");
  VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("legal hold on participant alice@example.com"), std::string::npos) << report.problem;
  archive().exec(std::string("INSERT INTO holds (kind, value, created_ms) VALUES ('participant', 'alice@example.com', ") +
                 std::to_string(kT0) + ")");
  EXPECT_TRUE(verify().ok);
  archive().exec("INSERT INTO holds (kind, value, created_ms) VALUES ('conversation', '99', 0)");
  report = verify();
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("has no hold record"), std::string::npos) << report.problem;
}

TEST_P(StoryChain, DeletedOrEditedAuditRecordsAreCaught) {
  write(1, 3, kT0);
  {
    query::Reader reader(archive().url());
    for (int i = 0; i < 5; ++i) reader.recordAudit("api:carol", "messages", "participant=alice", 3);
  }
  ASSERT_TRUE(verify().ok);
  const std::int64_t third = archive().scalar("SELECT min(id) FROM audit") + 2;
  archive().exec("UPDATE audit SET who = 'api:nobody' WHERE id = " + std::to_string(third));
  VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("audit record " + std::to_string(third)), std::string::npos) << report.problem;
  archive().exec("UPDATE audit SET who = 'api:carol' WHERE id = " + std::to_string(third));
  ASSERT_TRUE(verify().ok);
  // The last two removed: the head says more.
  archive().exec("DELETE FROM audit WHERE id > " + std::to_string(third));
  report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("audit trail ends at record " + std::to_string(third)), std::string::npos)
      << report.problem;
  // All of it, head included.
  archive().exec("DELETE FROM audit");
  archive().exec("DELETE FROM audit_head");
  EXPECT_FALSE(verify().ok);
}

TEST_P(StoryChain, AMessageMovedBetweenConversationsOfTheSameParticipantsIsCaught) {
  write(1, 2, kT0);
  write(3, 4, kT0 + 2 * kDay);  // after the idle gap: a second conversation of the same two
  ASSERT_EQ(archive().scalar("SELECT count(*) FROM conversations"), 2);
  const std::int64_t moved = archive().scalar("SELECT min(id) FROM messages");
  archive().exec("UPDATE messages SET conversation_id = (SELECT max(id) FROM conversations) WHERE id = " +
                 std::to_string(moved));
  const VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, moved) << report.problem;
}

TEST_P(StoryChain, APurgeByHandIsNamedAndAForgedSignatureFails) {
  testing::TempDir dir;
  CheckpointKey::generate(dir.file("hop.key"));
  const CheckpointKey signer = CheckpointKey::loadPrivate(dir.file("hop.key"));
  write(1, 10, kT0);
  store().setRecordSigner([&signer](const std::string& hash) { return signer.signRecord(hash); });
  store().setPurgeIdentity("hop:hop-a", "retention 90 days");
  ASSERT_EQ(purge(kT0 + 100 * kDay), 10);
  write(11, 12, kT0 + 399 * kDay);
  store().setRecordSigner(nullptr);
  store().setPurgeIdentity("cli:mallory", "by hand, older than 0 days");
  ASSERT_EQ(purge(kT0 + 400 * kDay), 2);
  VerifyReport report = verify();
  ASSERT_TRUE(report.ok) << report.problem;
  ASSERT_EQ(report.handPurges.size(), 1u) << "the signed retention purge is not a hand purge";
  EXPECT_NE(report.handPurges[0].find("by cli:mallory: 2 rows older than 0 days"), std::string::npos)
      << report.handPurges[0];
  // A purge appended as if by the hop, chained properly, with a signature
  // copied from its real purge: the hash differs, so the signature fails.
  std::string realSignature;
  {
    const std::unique_ptr<Store> reader = archive().open("");
    for (const PurgeRecordSeal& seal : reader->verify().purgeSeals) {
      if (seal.who == "hop:hop-a") realSignature = seal.signature;
    }
  }
  ASSERT_FALSE(realSignature.empty());
  write(13, 14, kT0 + 399 * kDay);
  store().setRecordSigner([&realSignature](const std::string&) { return realSignature; });
  store().setPurgeIdentity("hop:hop-a", "retention 1 days");
  ASSERT_EQ(purge(kT0 + 400 * kDay), 2);
  const std::unique_ptr<Store> checker = archive().open("");
  report = checker->verify();
  ASSERT_TRUE(report.ok) << "the chain does not cover signatures: " << report.problem;
  // A checkpoint of hop-a, signed with its key, over the archive as it is.
  Checkpoint checkpoint;
  checkpoint.version = 2;
  checkpoint.hop = "hop-a";
  checkpoint.timeMs = kT0;
  checkpoint.heads = *checker->chainHeads("hop-a");
  signer.sign(checkpoint);
  const std::string file = dir.file("hop-a.checkpoints");
  { std::ofstream(file) << checkpointLine(checkpoint) << "\n"; }
  verifyCheckpoints(*checker, {file}, CheckpointKey::loadPublic(dir.file("hop.key.pub")), report);
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("has a signature this key did not make"), std::string::npos) << report.problem;
}

TEST_P(StoryChain, RaisingTheAuditTrailsStartToUnchainRecordsIsCaught) {
  write(1, 3, kT0);
  store().setHold("participant", "alice@example.com", true, kT0, "cli:legal", "matter 12");
  {
    query::Reader reader(archive().url());
    reader.recordAudit("api:carol", "messages", "participant=alice", 3);
  }
  ASSERT_TRUE(verify().ok);
  // Every record below a raised start, the head reset, the hold deleted.
  archive().exec("UPDATE audit_head SET from_id = 1 + (SELECT max(id) FROM audit), last_id = 0, last_hash = '', "
                 "rows = 0");
  archive().exec("DELETE FROM holds");
  const VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("the start was moved"), std::string::npos) << report.problem;
}

TEST_P(StoryChain, AConversationsLinkAlteredToLeaveAMessageOutIsCaught) {
  write(1, 3, kT0);
  ASSERT_TRUE(verify().ok);
  // The writer would link the next message to the first, skipping the
  // second and third: caught before the next message...
  archive().exec("UPDATE conversations SET last_hash = (SELECT hash FROM messages ORDER BY id LIMIT 1)");
  VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("conversations.last_hash was altered"), std::string::npos) << report.problem;
  // ...and after it, at the row that links the wrong one.
  std::unique_ptr<Store> writer = archive().open("hop-b");
  const MessageRecord r = testing::textMessage("call-4", 1, kT0 + 4 * 60'000, "message 4");
  writer->begin({&r});
  writer->insertMessage(r);
  writer->commit();
  report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, archive().scalar("SELECT max(id) FROM messages")) << report.problem;
  EXPECT_NE(report.problem.find("does not follow the row before it"), std::string::npos) << report.problem;
}

TEST_P(StoryChain, AFinalCodeChangedLaterIsNamed) {
  write(1, 2, kT0);
  const std::int64_t first = archive().scalar("SELECT min(id) FROM messages");
  const MessageRecord r = testing::textMessage("call-1", 1, 0, "");
  store().begin();
  store().updateFinalCode(r.callId, 1, r.sender, 200);
  store().commit();
  store().begin();
  store().updateFinalCode(r.callId, 1, r.sender, 403);
  store().commit();
  const VerifyReport report = verify();
  ASSERT_TRUE(report.ok) << report.problem;
  ASSERT_EQ(report.changedFinalCodes.size(), 1u);
  EXPECT_EQ(report.changedFinalCodes[0], "row " + std::to_string(first) + ": 200 then 403");
}

// SQLite compares a BLOB and TEXT of the same bytes as different: a hold or
// a sender stored as a BLOB reads the same to every hash, but would stop
// holding rows or drop them from searches.
TEST(StoryChainSqlite, ValuesStoredAsBlobsAreCaughtAndHoldsStillHold) {
  testing::TempDir dir;
  const std::string path = dir.file("types.db");
  {
    SqliteStore store(path);
    for (int i = 1; i <= 3; ++i) {
      const MessageRecord r = testing::textMessage("t-" + std::to_string(i), 1, kT0 + i, "m");
      store.begin({&r});
      store.insertMessage(r);
      store.commit();
    }
    store.setHold("participant", "alice@example.com", true, kT0, "cli:legal", "");
  }
  auto exec = [&path](const char* sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  };
  exec("UPDATE holds SET value = CAST(value AS BLOB)");
  {
    SqliteStore store(path);
    const VerifyReport report = store.verify();
    ASSERT_FALSE(report.ok);
    EXPECT_NE(report.problem.find("stored as another type"), std::string::npos) << report.problem;
    store.begin();
    EXPECT_EQ(store.purgeBatch(kT0 + 100 * kDay, kT0 + 100 * kDay, 500), 0) << "the hold still holds";
    store.commit();
  }
  exec("UPDATE holds SET value = CAST(value AS TEXT); UPDATE messages SET sender = CAST(sender AS BLOB) WHERE id = 2");
  SqliteStore store(path);
  const VerifyReport report = store.verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, 2) << report.problem;
}

// An archive written before schema 008, with a hold, a purged row and an
// audit row, migrates: its holds and tombstones become records in the
// migration's own transaction, so it verifies; a tombstone forged
// afterwards is caught, and no later start adopts it.
TEST(StoryChainMigration, AnOlderArchiveIsAdoptedOnceAndForgeriesAfterwardAreCaught) {
  testing::TempDir dir;
  const std::string path = dir.file("old.db");
  std::vector<std::string> hashes;
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_NO_FATAL_FAILURE(testing::migrateSqliteTo(raw, 7));
    std::string sql = "PRAGMA user_version = 7; INSERT INTO conversations (id, kind, participants, started_ms, "
                      "last_ms) VALUES (1, 'pager', 'alice@example.com,bob@example.com', " +
                      std::to_string(kT0 + 1) + ", " + std::to_string(kT0 + 4) + ");";
    std::string previous;
    for (int i = 1; i <= 4; ++i) {
      const MessageRecord r = testing::textMessage("old-" + std::to_string(i), 1, kT0 + i, "old " + std::to_string(i));
      previous = rowHash(previous, r);  // as schema 7 hashed: no conversation
      hashes.push_back(previous);
      if (i == 2) {
        sql += "INSERT INTO tombstones (id, hash, purged_ms) VALUES (2, '" + previous + "', 0);";
        continue;
      }
      sql += "INSERT INTO messages (id, conversation_id, time_ms, direction, sender, sender_name, recipient, "
             "recipient_name, call_id, cseq, content_type, text, verdict, rules, tags, source, transport, hash) "
             "VALUES (" + std::to_string(i) + ", 1, " + std::to_string(r.timeMs) + ", '" + r.direction + "', '" +
             r.sender + "', '" + r.senderName + "', '" + r.recipient + "', '" + r.recipientName + "', '" + r.callId +
             "', 1, '" + r.contentType + "', '" + r.text + "', '" + r.verdict + "', '" + r.rules + "', '" + r.tags +
             "', '" + r.source + "', '" + r.transport + "', '" + previous + "');";
    }
    sql += "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages;";
    sql += "UPDATE chain_head SET last_id = 4, last_hash = '" + previous + "', rows = 4, outcomes_from_id = 5;";
    sql += "INSERT INTO holds (kind, value, created_ms) VALUES ('participant', 'carol@example.com', 0);";
    sql += "INSERT INTO audit (time_ms, who, action, query, results) VALUES (0, 'cli:old', 'messages', 'text=x', 1);";
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }
  {
    SqliteStore store(path);  // migrates to 008, adopting the hold and the tombstone
    const VerifyReport report = store.verify();
    ASSERT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.purgedRows, 1);
    EXPECT_EQ(report.holds, 1);
    EXPECT_EQ(report.unchainedAudit, 1) << "the old search is counted, not chained";
    EXPECT_EQ(report.conversationsFromId, 5);
    // New rows after the migration cover their conversation, and the first
    // links the conversation's newest older row (the migration seeded it).
    const MessageRecord r = testing::textMessage("new-1", 1, kT0 + 10, "new");
    store.begin({&r});
    store.insertMessage(r);
    store.commit();
    ASSERT_TRUE(store.verify().ok);
    SqliteStatement link(store.handle(), "SELECT conversation_previous FROM messages WHERE call_id = 'new-1'");
    ASSERT_EQ(link.step(), SQLITE_ROW);
    EXPECT_EQ(link.text(0), hashes[3]);
  }
  // A tombstone forged after the migration: no later start adopts it.
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    const char* forge =
        "INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', id, text FROM messages WHERE id = 3;"
        "INSERT INTO tombstones (id, hash, purged_ms) SELECT id, hash, 0 FROM messages WHERE id = 3;"
        "DELETE FROM messages WHERE id = 3;";
    ASSERT_EQ(sqlite3_exec(raw, forge, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }
  for (int start = 0; start < 2; ++start) {
    SqliteStore store(path);
    const VerifyReport report = store.verify();
    ASSERT_FALSE(report.ok);
    EXPECT_EQ(report.firstBadId, 3) << report.problem;
  }
}

INSTANTIATE_TEST_SUITE_P(Archive, StoryChain, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sipwarden::archive
