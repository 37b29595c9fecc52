// archive in reject mode against the give-up at 64 x T1: the real proxy
// (manual clock), the real archive plugin and writer, and an archive file
// locked by another connection. A transaction that gave up (its sender got
// 503) must not get its row written later; one whose row is being committed
// must not give up.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "archive/sqlite_store.h"
#include "archive/writer.h"
#include "pipeline/chain.h"
#include "pipeline/loader.h"
#include "proxy/proxy.h"

namespace sipwarden::plugins {
namespace archive { const PluginDescriptor* descriptor(); }
}

namespace sipwarden {
namespace {

using namespace std::chrono_literals;

class RecordingSender final : public transport::Sender {
 public:
  void send(const transport::Target&, std::string_view bytes) override { sent.emplace_back(bytes); }
  std::vector<std::string> sent;
};

std::string messageRequest(const std::string& callId) {
  return "MESSAGE sip:bob@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK" + callId + "\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:alice@example.com>;tag=a\r\n"
         "To: <sip:bob@example.com>\r\n"
         "Call-ID: " + callId + "\r\n"
         "CSeq: 1 MESSAGE\r\n"
         "Content-Type: text/plain\r\n"
         "Content-Length: 5\r\n\r\nhello";
}

int statusOf(const std::string& bytes) { return bytes.starts_with("SIP/2.0 ") ? std::stoi(bytes.substr(8, 3)) : 0; }

// Another process's write lock on the archive, held until release().
class ArchiveLock {
 public:
  explicit ArchiveLock(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
  }
  ~ArchiveLock() { release(); }
  void release() {
    if (db_ == nullptr) return;
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

class ArchiveRejectTest : public ::testing::Test {
 protected:
  ArchiveRejectTest()
      : path_((std::filesystem::temp_directory_path() /
               ("sipwarden-reject-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db"))
                  .string()) {
    removeFiles();
    // One row per batch, so the writer blocks on the lock with our row.
    writer_ = std::make_unique<archive::Writer>(archive::WriterSettings{path_, 1, 1ms, 1000, 30 * 60 * 1000});
    proxy::ProxyConfig config;
    config.upstreams = {{"127.0.0.1", 5080, transport::Protocol::Udp}};
    proxy_ = std::make_unique<proxy::Proxy>(config, sender_, clock_);
    pipeline::registerBuiltinPlugin(plugins::archive::descriptor());
    Poco::JSON::Parser parser;
    proxy_->setChain(pipeline::buildChain(
        parser.parse(R"([{"plugin": "archive", "on_archive_failure": "reject"}])").extract<Poco::JSON::Array::Ptr>(),
        pipeline::ChainSettings{{SIPWARDEN_TEST_PLUGIN_DIR}, ""}));
    proxy_->setArchive(writer_.get());
  }
  ~ArchiveRejectTest() override {
    proxy_.reset();
    writer_.reset();
    removeFiles();
  }

  void send(const std::string& callId) {
    proxy_->onMessage(messageRequest(callId),
                      transport::Origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0});
  }
  // Runs the proxy's loop (timers on the manual clock, verdicts from the
  // writer) until `done` or 10 s of real time.
  template <typename Done>
  bool runUntil(Done done) {
    for (int i = 0; i < 1000 && !done(); ++i) {
      std::this_thread::sleep_for(10ms);
      proxy_->drainResumes();
    }
    return done();
  }
  void giveUpWaiting() {
    // 64 x T1, in steps so each timer fires at its time.
    for (int i = 0; i < 65; ++i) {
      clock_.advance(500ms);
      proxy_->runTimers();
    }
  }
  std::int64_t rows(const std::string& where = "1=1") {
    archive::SqliteStore store(path_);
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(store.handle(), ("SELECT count(*) FROM messages WHERE " + where).c_str(), -1, &statement,
                       nullptr);
    std::int64_t n = -1;
    if (sqlite3_step(statement) == SQLITE_ROW) n = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return n;
  }
  void removeFiles() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }

  std::string path_;
  RecordingSender sender_;
  proxy::ManualClock clock_;
  std::unique_ptr<archive::Writer> writer_;
  std::unique_ptr<proxy::Proxy> proxy_;
};

TEST_F(ArchiveRejectTest, ARowWhoseSenderWasRefusedIsNeverWrittenAfterTheLockGoes) {
  ArchiveLock lock(path_);
  send("refused-1");
  std::this_thread::sleep_for(100ms);  // the writer now waits for the lock, holding our row
  giveUpWaiting();
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(statusOf(sender_.sent[0]), 503);
  lock.release();
  ASSERT_TRUE(runUntil([&] { return writer_->counters().abandoned.load() == 1; })) << "the writer dropped the row";
  proxy_->drainResumes();
  EXPECT_EQ(sender_.sent.size(), 1u) << "nothing was forwarded after the 503";

  // The archive works again, and the next message is archived and forwarded.
  send("after-1");
  ASSERT_TRUE(runUntil([&] { return sender_.sent.size() == 2; }));
  EXPECT_TRUE(sender_.sent[1].starts_with("MESSAGE ")) << sender_.sent[1];
  writer_->drainAndStop();
  EXPECT_EQ(rows("call_id = 'refused-1'"), 0) << "an undelivered message is not archived as delivered";
  EXPECT_EQ(rows("call_id = 'after-1'"), 1);
  EXPECT_TRUE(archive::SqliteStore(path_).verify().ok);
}

TEST_F(ArchiveRejectTest, ARowCommittedBeforeTheGiveUpIsForwarded) {
  // The lock goes before 64 x T1: the row commits and the message leaves,
  // even though the verdict reaches the SIP thread only after the timer.
  {
    ArchiveLock lock(path_);
    send("slow-1");
    std::this_thread::sleep_for(100ms);
  }
  // Without draining the verdicts: the commit's verdict waits in the mailbox.
  for (int i = 0; i < 1000 && writer_->counters().committed.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(writer_->counters().committed.load(), 1u);
  giveUpWaiting();
  proxy_->drainResumes();
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_TRUE(sender_.sent[0].starts_with("MESSAGE ")) << sender_.sent[0];
  EXPECT_EQ(proxy_->counters().filterWaitsExtended, 1u);
  writer_->drainAndStop();
  EXPECT_EQ(rows("call_id = 'slow-1'"), 1);
}

}  // namespace
}  // namespace sipwarden
