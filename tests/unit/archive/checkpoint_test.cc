// Signed checkpoints (core/archive/checkpoint.h): keys, signatures, the
// hop's checkpoint writer, and the tamper suite on both backends: what an
// administrator with the archive but not the checkpoints can do, and that
// verify with checkpoints names it while an untouched archive passes.
#include "archive/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "archive/backend_support.h"
#include "archive/test_records.h"
#include "archive/writer.h"

namespace sipwarden::archive {
namespace {

using testing::TestArchive;

constexpr std::int64_t kT0 = 1'700'000'000'000;

using testing::TempDir;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(readFile(path));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void writeLines(const std::string& path, const std::vector<std::string>& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& line : content) out << line << "\n";
}

Checkpoint sample() {
  Checkpoint c;
  c.hop = "edge-1";
  c.timeMs = kT0;
  c.heads = ChainHeads{42, std::string(64, 'a'), 42, 7, std::string(64, 'b'), 7, 0, "", 0, ""};
  return c;
}

TEST(CheckpointKey, GeneratesAKeyPairThatSignsAndVerifies) {
  TempDir dir;
  const std::string path = dir.file("hop.key");
  CheckpointKey::generate(path);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u) << "only the hop reads the private key";
  EXPECT_NE(readFile(path).find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_NE(readFile(path + ".pub").find("BEGIN PUBLIC KEY"), std::string::npos);

  const CheckpointKey signer = CheckpointKey::loadPrivate(path);
  const CheckpointKey checker = CheckpointKey::loadPublic(path + ".pub");
  Checkpoint c = sample();
  signer.sign(c);
  EXPECT_EQ(c.signature.size(), 88u) << "64 bytes in base64";
  EXPECT_TRUE(checker.verify(c));

  // Through its line and back.
  std::string error;
  const auto parsed = parseCheckpointLine(checkpointLine(c), error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->heads, c.heads);
  EXPECT_EQ(parsed->hop, "edge-1");
  EXPECT_TRUE(checker.verify(*parsed));
}

TEST(CheckpointKey, NeverOverwritesAKey) {
  TempDir dir;
  const std::string path = dir.file("hop.key");
  CheckpointKey::generate(path);
  const std::string before = readFile(path);
  EXPECT_THROW(CheckpointKey::generate(path), ArchiveError);
  EXPECT_EQ(readFile(path), before);
}

TEST(CheckpointKey, RefusesAPrivateKeyOthersCanRead) {
  TempDir dir;
  const std::string path = dir.file("hop.key");
  CheckpointKey::generate(path);
  ::chmod(path.c_str(), 0640);
  try {
    CheckpointKey::loadPrivate(path);
    FAIL() << "a key the group can read must be refused";
  } catch (const ArchiveError& error) {
    EXPECT_NE(std::string(error.what()).find("chmod 600"), std::string::npos) << error.what();
  }
  EXPECT_THROW(CheckpointKey::loadPublic(path), ArchiveError) << "a private key is not a public key";
}

TEST(CheckpointKey, AnEditedCheckpointOrAnotherKeyFails) {
  TempDir dir;
  CheckpointKey::generate(dir.file("a.key"));
  CheckpointKey::generate(dir.file("b.key"));
  const CheckpointKey signer = CheckpointKey::loadPrivate(dir.file("a.key"));
  const CheckpointKey mine = CheckpointKey::loadPublic(dir.file("a.key.pub"));
  const CheckpointKey other = CheckpointKey::loadPublic(dir.file("b.key.pub"));
  Checkpoint c = sample();
  signer.sign(c);
  EXPECT_FALSE(other.verify(c)) << "signed with another key";
  for (auto edit : std::vector<std::function<void(Checkpoint&)>>{
           [](Checkpoint& x) { x.heads.rows -= 1; },
           [](Checkpoint& x) { x.heads.lastId -= 1; },
           [](Checkpoint& x) { x.heads.lastHash[0] = 'c'; },
           [](Checkpoint& x) { x.heads.outcomesRows += 1; },
           [](Checkpoint& x) { x.hop = "edge-2"; },
           [](Checkpoint& x) { x.timeMs += 1; },
           [](Checkpoint& x) { x.signature[3] = x.signature[3] == 'A' ? 'B' : 'A'; },
           [](Checkpoint& x) { x.signature = ""; },
       }) {
    Checkpoint edited = c;
    edit(edited);
    EXPECT_FALSE(mine.verify(edited)) << checkpointLine(edited);
  }
  std::string error;
  EXPECT_FALSE(parseCheckpointLine("{\"v\":2}", error));
  std::string withExtra = checkpointLine(c);
  withExtra.insert(1, "\"extra\":1,");
  EXPECT_FALSE(parseCheckpointLine(withExtra, error));
  EXPECT_NE(error.find("extra"), std::string::npos);
  std::string stringRows = checkpointLine(c);
  stringRows.replace(stringRows.find("\"rows\":42"), 9, "\"rows\":\"42\"");
  EXPECT_FALSE(parseCheckpointLine(stringRows, error));
}

TEST(CheckpointKey, TheSignedBytesAreLengthPrefixed) {
  Checkpoint c = sample();
  EXPECT_EQ(canonicalCheckpoint(c),
            "sipwarden-checkpoint-v1\n" "1:1" "6:edge-1" "13:1700000000000" "2:42" "64:" + std::string(64, 'a') +
                "2:42" "1:7" "64:" + std::string(64, 'b') + "1:7");
}

// ---------------------------------------------------------------------------
// The tamper suite, on both backends.

class Checkpoints : public testing::BothBackends {
 protected:
  void SetUp() override {
    BothBackends::SetUp();
    if (HasFatalFailure()) return;
    CheckpointKey::generate(dir_.file("hop.key"));
    signer_ = std::make_unique<CheckpointKey>(CheckpointKey::loadPrivate(dir_.file("hop.key")));
    checker_ = std::make_unique<CheckpointKey>(CheckpointKey::loadPublic(dir_.file("hop.key.pub")));
    store_ = archive().open("hop-a");
  }
  std::string headRow() const { return postgres() ? "hop_id = 'hop-a'" : "id = 1"; }
  std::string file() const { return dir_.file("hop-a.checkpoints"); }

  // Messages `from`..`to` (CSeq), each with a final code, one transaction.
  void write(int from, int to, std::int64_t timeMs = kT0, const std::string& textPrefix = "hello ") {
    std::vector<MessageRecord> records;
    for (int i = from; i <= to; ++i) {
      MessageRecord r = testing::textMessage("call-" + std::to_string(i), static_cast<std::uint32_t>(i),
                                             timeMs + i, textPrefix + std::to_string(i));
      r.finalCode = 200;
      records.push_back(std::move(r));
    }
    std::vector<const MessageRecord*> pointers;
    for (const auto& r : records) pointers.push_back(&r);
    store_->begin(pointers);
    store_->insertMessages(pointers);
    store_->commit();
  }
  // What the hop's checkpointer appends, for the heads now.
  void checkpoint() {
    Checkpoint c;
    c.hop = "hop-a";
    c.timeMs = kT0 + static_cast<std::int64_t>(lines(file()).size());
    c.heads = *store_->chainHeads("hop-a");
    signer_->sign(c);
    std::ofstream(file(), std::ios::app) << checkpointLine(c) << "\n";
  }
  VerifyReport verify(bool withCheckpoints = true) {
    auto store = archive().open("");
    VerifyReport report = store->verify();
    if (report.ok && withCheckpoints) verifyCheckpoints(*store, checkpointFiles(dir_.path()), *checker_, report);
    return report;
  }
  // For an edit the chains alone cannot see: the archive verifies without
  // its checkpoints (`why` says why), and with them checkpoint
  // `badCheckpoint` names row `firstBadId`. `caught`, when given, receives
  // the report for the test's own further checks.
  void expectOnlyTheCheckpointsCatch(const std::string& why, int badCheckpoint, std::int64_t firstBadId,
                                     VerifyReport* caught = nullptr) {
    EXPECT_TRUE(verify(false).ok) << why;
    const VerifyReport report = verify();
    ASSERT_FALSE(report.ok);
    EXPECT_EQ(report.badCheckpoint, badCheckpoint) << report.problem;
    EXPECT_EQ(report.firstBadId, firstBadId) << report.problem;
    if (caught != nullptr) *caught = report;
  }
  std::int64_t maxId() { return archive().scalar("SELECT max(id) FROM messages"); }
  // Deletes the messages after `keep` with their final codes (and, on
  // SQLite, their full-text entries), then sets both heads to what is left:
  // the edit that the chains alone cannot see.
  void deleteAfterAndRewind(std::int64_t keep) {
    if (!postgres()) {
      archive().exec("INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', id, text FROM messages "
                     "WHERE id > " + std::to_string(keep));
    }
    archive().exec("DELETE FROM outcomes WHERE message_id > " + std::to_string(keep));
    archive().exec("DELETE FROM messages WHERE id > " + std::to_string(keep));
    archive().exec(
        "UPDATE chain_head SET last_id = coalesce((SELECT max(id) FROM messages), 0), "
        "last_hash = coalesce((SELECT hash FROM messages ORDER BY id DESC LIMIT 1), ''), "
        "rows = (SELECT count(*) FROM messages), outcomes_last_id = coalesce((SELECT max(id) FROM outcomes), 0), "
        "outcomes_last_hash = coalesce((SELECT hash FROM outcomes ORDER BY id DESC LIMIT 1), ''), "
        "outcomes_rows = (SELECT count(*) FROM outcomes), "
        // The Merkle frontier blanked too, as one from before schema 008:
        // verify skips it then, and an attacker who knows that does it.
        "frontier = '' WHERE " + headRow());
    // Each conversation's link moved back to its newest remaining row.
    archive().exec("UPDATE conversations SET last_hash = coalesce((SELECT hash FROM messages WHERE "
                   "conversation_id = conversations.id ORDER BY id DESC LIMIT 1), '')");
  }

  TempDir dir_;
  std::unique_ptr<CheckpointKey> signer_;
  std::unique_ptr<CheckpointKey> checker_;
  std::unique_ptr<Store> store_;
};

TEST_P(Checkpoints, AnUntouchedArchivePasses) {
  write(1, 10);
  checkpoint();
  write(11, 20);
  checkpoint();
  write(21, 25);  // after the last checkpoint: extends it
  const VerifyReport report = verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints, 2);
}

TEST_P(Checkpoints, DeletedLastRowsWithARewoundHeadAreCaught) {
  write(1, 10);
  checkpoint();
  const std::int64_t last = maxId();
  deleteAfterAndRewind(last - 3);
  VerifyReport report;
  ASSERT_NO_FATAL_FAILURE(
      expectOnlyTheCheckpointsCatch("the chains alone cannot see this (issue 18, case 1)", 1, last - 2, &report));
  EXPECT_NE(report.problem.find("row " + std::to_string(last) + " (of 10 signed) is missing"), std::string::npos)
      << report.problem;
}

TEST_P(Checkpoints, TruncationToZeroIsCaught) {
  write(1, 10);
  checkpoint();
  deleteAfterAndRewind(0);
  expectOnlyTheCheckpointsCatch("an empty archive with a reset head verifies on its own", 1, 1);
}

TEST_P(Checkpoints, ARehashedChainIsCaughtFromTheLastMatchingCheckpoint) {
  write(1, 10);
  checkpoint();
  const std::int64_t firstCheckpointRow = maxId();
  write(11, 20);
  checkpoint();
  // Rewritten from row 15 on with the archive's own code: every hash after
  // it recomputed, heads and final codes consistent.
  const std::int64_t from = firstCheckpointRow + 5;
  deleteAfterAndRewind(from - 1);
  store_.reset();  // the heads it holds are gone; and one writer per hop
  store_ = archive().open("hop-a");
  write(15, 20, kT0, "edited ");
  expectOnlyTheCheckpointsCatch("re-hashed, the chains verify on their own", 2, firstCheckpointRow + 1);
}

TEST_P(Checkpoints, AForgedOrEditedCheckpointIsCaught) {
  write(1, 10);
  checkpoint();
  checkpoint();
  // Signed with a key of the administrator's own.
  CheckpointKey::generate(dir_.file("forger.key"));
  const CheckpointKey forger = CheckpointKey::loadPrivate(dir_.file("forger.key"));
  auto content = lines(file());
  std::string error;
  Checkpoint forged = *parseCheckpointLine(content[1], error);
  forged.heads.rows -= 1;
  forger.sign(forged);
  content[1] = checkpointLine(forged);
  writeLines(file(), content);
  VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.badCheckpoint, 2);
  EXPECT_NE(report.problem.find("checkpoint 2: bad signature"), std::string::npos) << report.problem;

  // An edited number under the right key's signature.
  content = lines(file());
  content[1] = content[0];
  const auto at = content[0].find("\"rows\":10");
  ASSERT_NE(at, std::string::npos);
  content[0].replace(at, 9, "\"rows\":9");
  writeLines(file(), content);
  report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.badCheckpoint, 1);
  EXPECT_NE(report.problem.find("bad signature"), std::string::npos) << report.problem;
}

TEST_P(Checkpoints, ReorderedCheckpointsAreCaught) {
  write(1, 10);
  checkpoint();
  write(11, 20);
  checkpoint();
  auto content = lines(file());
  std::swap(content[0], content[1]);
  writeLines(file(), content);
  const VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.badCheckpoint, 2);
  EXPECT_NE(report.problem.find("goes back"), std::string::npos) << report.problem;
}

TEST_P(Checkpoints, PassesAfterARetentionPurgeAndWithLegalHolds) {
  write(1, 10, kT0);
  write(11, 20, kT0 + 10 * 86400000LL);
  store_->setHold("participant", "carol@example.com", true, kT0);
  {
    MessageRecord held = testing::textMessage("held", 1, kT0 + 30, "keep me", "carol@example.com");
    held.finalCode = 200;
    store_->begin({&held});
    store_->insertMessage(held);
    store_->commit();
  }
  checkpoint();
  store_->begin();
  EXPECT_EQ(store_->purgeBatch(kT0 + 86400000LL, kT0 + 20 * 86400000LL, 500), 10);
  store_->commit();
  write(21, 25, kT0 + 11 * 86400000LL);
  checkpoint();
  VerifyReport report = verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints, 2);
  // Purge everything not held, including the rows the checkpoints name.
  store_->begin();
  store_->purgeBatch(kT0 + 100 * 86400000LL, kT0 + 200 * 86400000LL, 500);
  store_->commit();
  report = verify();
  EXPECT_TRUE(report.ok) << "a purged row's tombstone keeps its hash: " << report.problem;
}

// Cases one backend has: a file to copy (SQLite), hop chains (PostgreSQL).
class FileCheckpoints : public Checkpoints {};
class SharedCheckpoints : public Checkpoints {};

TEST_P(FileCheckpoints, AnOlderCopyOfTheFileIsCaught) {
  write(1, 10);
  checkpoint();
  store_.reset();  // everything in the database file
  std::filesystem::copy_file(archive().url(), dir_.file("old.db"));
  store_ = archive().open("hop-a");
  write(11, 20);
  checkpoint();
  store_.reset();
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(archive().url() + suffix);
  std::filesystem::copy_file(dir_.file("old.db"), archive().url(), std::filesystem::copy_options::overwrite_existing);
  expectOnlyTheCheckpointsCatch("the older copy is a consistent archive", 2, 11);
}

TEST_P(SharedCheckpoints, ADeletedHopChainIsCaught) {
  write(1, 3);
  checkpoint();
  archive().exec("DELETE FROM outcomes; DELETE FROM messages; DELETE FROM chain_head WHERE hop_id = 'hop-a'; "
                 "UPDATE conversations SET last_hash = ''");
  store_.reset();
  const VerifyReport report = verify();
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("no chain of hop 'hop-a'"), std::string::npos) << report.problem;
}

INSTANTIATE_TEST_SUITE_P(Archive, Checkpoints, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Archive, FileCheckpoints, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Archive, SharedCheckpoints, ::testing::Values("postgres"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------
// The hop's side: the writer signs as it commits, and at stop.

TEST(CheckpointWriter, SignsEveryNRowsAndAtStopAndTheArchiveVerifies) {
  TempDir dir;
  CheckpointKey::generate(dir.file("hop.key"));
  const std::string db = dir.file("archive.db");
  WriterSettings settings;
  settings.url = db;
  settings.batchRows = 10;
  settings.hopId = "edge/1";
  settings.checkpoints.keyPath = dir.file("hop.key");
  settings.checkpoints.dir = dir.path();
  settings.checkpoints.everyRows = 25;
  settings.checkpoints.every = std::chrono::seconds(3600);
  {
    Writer writer(settings);
    auto submit = [&writer](int from, int to) {
      for (int i = from; i <= to; ++i) {
        MessageRecord r = testing::textMessage("call-" + std::to_string(i), 1, kT0 + i, "m" + std::to_string(i));
        ASSERT_TRUE(writer.submit(r));
        writer.finalCode(r.callId, 1, r.sender, 200);
      }
    };
    submit(1, 30);
    // 30 rows are past every_rows: a checkpoint comes without a stop.
    for (int i = 0; i < 500 && writer.checkpointer()->written() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(writer.checkpointer()->written(), 1u) << "every_rows, not only at stop";
    submit(31, 100);
    writer.drainAndStop();
    EXPECT_GE(writer.checkpointer()->written(), 2u);
    EXPECT_EQ(writer.checkpointer()->failures(), 0u);
  }
  const std::string file = dir.file("edge_1.checkpoints");
  const auto content = lines(file);
  ASSERT_GE(content.size(), 2u) << "every 25 rows, and the last at stop";
  std::string error;
  const auto last = parseCheckpointLine(content.back(), error);
  ASSERT_TRUE(last) << error;
  EXPECT_EQ(last->heads.rows, 100) << "the stop signs everything committed";
  EXPECT_EQ(last->heads.outcomesRows, 100);
  EXPECT_EQ(last->hop, "edge/1");

  const auto store = openStore(db, StoreOptions{});
  const CheckpointKey checker = CheckpointKey::loadPublic(dir.file("hop.key.pub"));
  VerifyReport report = store->verify();
  verifyCheckpoints(*store, {file}, checker, report);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints, static_cast<std::int64_t>(content.size()));

  // Restarted with nothing new: nothing to sign.
  {
    Writer writer(settings);
    writer.drainAndStop();
    EXPECT_EQ(writer.checkpointer()->written(), 0u);
  }
  EXPECT_EQ(lines(file).size(), content.size());
}

TEST(CheckpointWriter, SignsAPostgresHopsChain) {
  if (testing::postgresServer() == nullptr) GTEST_SKIP() << "SIPWARDEN_TEST_PG_URL is not set";
  TestArchive archive("postgres");
  TempDir dir;
  CheckpointKey::generate(dir.file("hop.key"));
  WriterSettings settings;
  settings.url = archive.url();
  settings.hopId = "edge-2";
  settings.checkpoints.keyPath = dir.file("hop.key");
  settings.checkpoints.dir = dir.path();
  {
    // Another hop's rows in the same archive: not this hop's checkpoints'.
    auto other = archive.open("edge-1");
    const MessageRecord r = testing::textMessage("other", 1, kT0, "other hop");
    other->begin({&r});
    other->insertMessage(r);
    other->commit();
  }
  {
    Writer writer(settings);
    for (int i = 1; i <= 20; ++i) {
      const MessageRecord r = testing::textMessage("pg-" + std::to_string(i), 1, kT0 + i, "m");
      ASSERT_TRUE(writer.submit(r));
      writer.finalCode(r.callId, 1, r.sender, 200);
    }
  }
  const std::string file = dir.file("edge-2.checkpoints");
  std::string error;
  const auto last = parseCheckpointLine(lines(file).back(), error);
  ASSERT_TRUE(last) << error;
  EXPECT_EQ(last->heads.rows, 20);
  EXPECT_EQ(last->heads.outcomesRows, 20);
  const auto store = archive.open("");
  VerifyReport report = store->verify();
  verifyCheckpoints(*store, {file}, CheckpointKey::loadPublic(dir.file("hop.key.pub")), report);
  EXPECT_TRUE(report.ok) << report.problem;
  // The other hop's chain rewound does not touch this one's checkpoints;
  // this hop's does.
  archive.exec("DELETE FROM outcomes WHERE message_id = (SELECT max(id) FROM messages WHERE hop_id = 'edge-2')");
  archive.exec("DELETE FROM messages WHERE id = (SELECT max(id) FROM messages WHERE hop_id = 'edge-2')");
  archive.exec("UPDATE chain_head SET last_id = (SELECT max(id) FROM messages WHERE hop_id = 'edge-2'), "
               "last_hash = (SELECT hash FROM messages WHERE hop_id = 'edge-2' ORDER BY id DESC LIMIT 1), rows = 19, "
               "outcomes_last_id = (SELECT max(id) FROM outcomes WHERE hop_id = 'edge-2'), "
               "outcomes_last_hash = (SELECT hash FROM outcomes WHERE hop_id = 'edge-2' ORDER BY id DESC LIMIT 1), "
               "outcomes_rows = 19, frontier = '' WHERE hop_id = 'edge-2'");
  archive.exec("UPDATE conversations SET last_hash = coalesce((SELECT hash FROM messages WHERE "
                   "conversation_id = conversations.id ORDER BY id DESC LIMIT 1), '')");
  report = store->verify();
  EXPECT_TRUE(report.ok) << "the chains alone: " << report.problem;
  verifyCheckpoints(*store, {file}, CheckpointKey::loadPublic(dir.file("hop.key.pub")), report);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.badCheckpoint, 1) << report.problem;
}

TEST(CheckpointWriter, ACutLastLineIsRemovedAtStart) {
  TempDir dir;
  CheckpointKey::generate(dir.file("hop.key"));
  WriterSettings settings;
  settings.url = dir.file("archive.db");
  settings.checkpoints.keyPath = dir.file("hop.key");
  settings.checkpoints.dir = dir.path();
  {
    Writer writer(settings);
    ASSERT_TRUE(writer.submit(testing::textMessage("c1", 1, kT0, "one")));
  }
  const std::string file = dir.file("archive.checkpoints");
  ASSERT_EQ(lines(file).size(), 1u);
  std::ofstream(file, std::ios::app) << "{\"v\":1,\"hop\":\"arch";  // the machine stopped mid-line
  {
    Writer writer(settings);
    ASSERT_TRUE(writer.submit(testing::textMessage("c2", 1, kT0, "two")));
  }
  ASSERT_EQ(lines(file).size(), 2u);
  const auto store = openStore(settings.url, StoreOptions{});
  VerifyReport report = store->verify();
  verifyCheckpoints(*store, {file}, CheckpointKey::loadPublic(dir.file("hop.key.pub")), report);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints, 2);
}

TEST(CheckpointWriter, AWriterWithAnUnreadableKeyDoesNotStart) {
  TempDir dir;
  CheckpointKey::generate(dir.file("hop.key"));
  ::chmod(dir.file("hop.key").c_str(), 0644);
  WriterSettings settings;
  settings.url = dir.file("archive.db");
  settings.checkpoints.keyPath = dir.file("hop.key");
  settings.checkpoints.dir = dir.path();
  EXPECT_THROW(Writer writer(settings), ArchiveError);
}

}  // namespace
}  // namespace sipwarden::archive
