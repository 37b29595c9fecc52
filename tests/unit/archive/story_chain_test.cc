// Issue 18's "everything that tells the story": a conversation move, holds,
// purges and the audit trail are covered by chains, on both backends; each
// tamper an administrator with the database could try is caught by verify
// (and, where the chains alone cannot see it, by signed checkpoints).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "archive/checkpoint.h"
#include "archive/store.h"
#include "backend_support.h"
#include "query/reader.h"
#include "test_records.h"

namespace sipwarden::archive {
namespace {

using testing::TestArchive;

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kDay = 86'400'000;

class KeyDir {
 public:
  KeyDir() : path_(std::filesystem::temp_directory_path() / ("sipwarden-story-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~KeyDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

class StoryChain : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres" && testing::postgresServer() == nullptr) {
      GTEST_FAIL() << "SIPWARDEN_TEST_PG_URL is not set (scripts/test.sh sets it)";
    }
    archive_ = std::make_unique<TestArchive>(GetParam());
    store_ = archive_->open();
  }
  TestArchive& archive() { return *archive_; }
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
  VerifyReport verify() { return archive_->open("")->verify(); }

 private:
  std::unique_ptr<TestArchive> archive_;
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
  const std::string row = "id = " + std::to_string(victim);
  if (archive().postgres()) {
    archive().exec("INSERT INTO tombstones (id, hop_id, hash, purged_ms) SELECT id, hop_id, hash, 0 FROM messages "
                   "WHERE " + row);
  } else {
    archive().exec("INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', id, text FROM messages "
                   "WHERE " + row);
    archive().exec("INSERT INTO tombstones (id, hash, purged_ms) SELECT id, hash, 0 FROM messages WHERE " + row);
  }
  archive().exec("DELETE FROM outcomes WHERE message_id = " + std::to_string(victim));
  archive().exec("DELETE FROM messages WHERE " + row);
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
  if (archive().postgres()) {
    archive().exec("INSERT INTO tombstones (id, hop_id, hash, purged_ms) SELECT id, hop_id, hash, 0 FROM messages "
                   "WHERE " + range);
  } else {
    archive().exec("INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', id, text FROM messages "
                   "WHERE " + range);
    archive().exec("INSERT INTO tombstones (id, hash, purged_ms) SELECT id, hash, 0 FROM messages WHERE " + range);
  }
  archive().exec("DELETE FROM outcomes WHERE message_id IN (SELECT id FROM messages WHERE " + range + ")");
  archive().exec("DELETE FROM messages WHERE " + range);
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
  KeyDir dir;
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
  // A signature copied from the signed purge onto the hand purge.
  archive().exec("UPDATE audit SET signature = (SELECT signature FROM audit WHERE who = 'hop:hop-a') "
                 "WHERE who = 'cli:mallory'");
  const std::unique_ptr<Store> checker = archive().open("");
  report = checker->verify();
  ASSERT_TRUE(report.ok) << "the chain does not cover signatures: " << report.problem;
  const std::string none = dir.file("none.checkpoints");
  { std::ofstream(none) << ""; }
  verifyCheckpoints(*checker, {none}, CheckpointKey::loadPublic(dir.file("hop.key.pub")), report);
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("has a signature this key did not make"), std::string::npos) << report.problem;
}

INSTANTIATE_TEST_SUITE_P(Archive, StoryChain, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sipwarden::archive
