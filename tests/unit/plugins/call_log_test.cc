// call_log against a real SQLite archive: each CDR disposition, who ended
// the call, ringing and answer times, lost BYE, and file-transfer rows.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include <filesystem>

#include "archive/sqlite_store.h"
#include "pipeline/message_path.h"
#include "pipeline/loader.h"

namespace sipwarden::plugins {
namespace call_log { const PluginDescriptor* descriptor(); }
}

namespace sipwarden {
namespace {

// Writes straight into a Store, so the test reads what the writer would.
class StoreSink final : public ArchiveSink {
 public:
  explicit StoreSink(archive::SqliteStore& store) : store_(store) {}
  bool submit(MessageRecord record, std::shared_ptr<CommitWaiter> waiter) override {
    if (waiter && !waiter->claim()) return true;
    store_.insertMessage(record);
    if (waiter) waiter->committed(true);
    return true;
  }
  void finalCode(const std::string&, std::uint32_t, const std::string&, int) override {}
  bool healthy() const override { return true; }
  bool submitCall(CallRecord record) override {
    store_.upsertCall(record);
    return true;
  }
  bool submitFileTransfer(FileTransferRecord record) override {
    store_.insertFileTransfer(record);
    return true;
  }
  void closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) override { store_.closeStaleCalls(nowMs, timeoutMs); }

 private:
  archive::SqliteStore& store_;
};

std::unique_ptr<sip::Message> parse(const std::string& text) {
  sip::ParseFailure failure;
  auto message = sip::Message::parse(text, sip::Framing::Datagram, failure);
  EXPECT_TRUE(message);
  return message;
}

std::string request(const std::string& method, const std::string& callId, const std::string& from,
                    const std::string& to, const std::string& toTag, const std::string& body = "") {
  return method + " sip:" + to + " SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK" + method + callId +
         "\r\nMax-Forwards: 70\r\nFrom: <sip:" + from + ">;tag=f\r\nTo: <sip:" + to + ">" +
         (toTag.empty() ? "" : ";tag=" + toTag) + "\r\nCall-ID: " + callId + "\r\nCSeq: 1 " + method +
         "\r\nContent-Type: application/sdp\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string response(int code, const std::string& callId) {
  return "SIP/2.0 " + std::to_string(code) + " X\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
         "From: <sip:alice@example.com>;tag=f\r\nTo: <sip:bob@example.com>;tag=t\r\nCall-ID: " + callId +
         "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
}

class CallLogTest : public ::testing::Test {
 protected:
  CallLogTest()
      : path_((std::filesystem::temp_directory_path() / ("cdr-" + std::to_string(::getpid()) + ".db")).string()) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    store_ = std::make_unique<archive::SqliteStore>(path_);
    sink_ = std::make_unique<StoreSink>(*store_);
    pipeline::registerBuiltinPlugin(plugins::call_log::descriptor());
    Poco::JSON::Parser parser;
    chain_ = pipeline::buildChain(parser.parse(R"([{"plugin": "call_log", "session_timeout_minutes": 1}])")
                                      .extract<Poco::JSON::Array::Ptr>(),
                                  {});
  }
  ~CallLogTest() override {
    chain_.reset();
    sink_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }

  // One INVITE transaction: the request, the responses, the final code.
  void invite(const std::string& callId, std::vector<int> responses, const std::string& body = "",
              std::vector<std::pair<std::string, std::string>> tags = {}) {
    auto message = parse(request("INVITE", callId, "alice@example.com", "bob@example.com", "", body));
    pipeline::MessagePath path(*chain_, *message, origin_, Direction::FromClient, sink_.get());
    for (auto& [key, value] : tags) path.exchange().tag(key, value);
    EXPECT_TRUE(path.run().isContinue());
    for (int code : responses) {
      auto answer = parse(response(code, callId));
      sip::EditList edits;
      path.onResponse(*answer, edits);
    }
    path.end(responses.empty() ? 408 : responses.back());
  }

  void bye(const std::string& callId, const std::string& from) {
    auto message = parse(request("BYE", callId, from, "x@example.com", "t"));
    pipeline::MessagePath path(*chain_, *message, origin_, Direction::FromClient, sink_.get());
    EXPECT_TRUE(path.run().isContinue());
  }

  std::string column(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(store_->handle(), sql.c_str(), -1, &statement, nullptr);
    std::string value = "<none>";
    if (sqlite3_step(statement) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      value = text ? text : "NULL";
    }
    sqlite3_finalize(statement);
    return value;
  }

  std::string path_;
  std::unique_ptr<archive::SqliteStore> store_;
  std::unique_ptr<StoreSink> sink_;
  std::shared_ptr<const pipeline::FilterChain> chain_;
  transport::Origin origin_{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.1", 5060), 0};
};

TEST_F(CallLogTest, AnsweredCallEndedByTheCallee) {
  invite("c1", {180, 200}, "v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\n");
  bye("c1", "bob@example.com");
  EXPECT_EQ(column("SELECT disposition || '|' || caller || '|' || callee || '|' || ended_by || '|' || media FROM calls"),
            "answered|alice@example.com|bob@example.com|callee|audio,video");
  EXPECT_EQ(column("SELECT ringing_ms IS NOT NULL AND answer_ms >= ringing_ms AND end_ms >= answer_ms "
                   "AND duration_ms = end_ms - answer_ms FROM calls"),
            "1");
}

TEST_F(CallLogTest, EndedByTheCaller) {
  invite("c2", {200});
  bye("c2", "alice@example.com");
  EXPECT_EQ(column("SELECT ended_by FROM calls"), "caller");
}

TEST_F(CallLogTest, DispositionsByFinalCode) {
  invite("busy", {180, 486});
  invite("cancel", {180, 487});
  invite("noanswer", {});
  invite("rejected", {404});
  invite("failed", {503});
  EXPECT_EQ(column("SELECT group_concat(call_id || '=' || disposition || ':' || end_code, ' ') FROM "
                   "(SELECT * FROM calls ORDER BY call_id)"),
            "busy=busy:486 cancel=cancelled:487 failed=failed:503 noanswer=no_answer:408 rejected=rejected:404");
}

TEST_F(CallLogTest, ReInviteDoesNotStartANewCall) {
  invite("c3", {200});
  auto reinvite = parse(request("INVITE", "c3", "alice@example.com", "bob@example.com", "t"));
  pipeline::MessagePath path(*chain_, *reinvite, origin_, Direction::FromClient, sink_.get());
  EXPECT_TRUE(path.run().isContinue());
  path.end(200);
  EXPECT_EQ(column("SELECT count(*) FROM calls"), "1");
  EXPECT_EQ(column("SELECT disposition FROM calls"), "answered");
}

TEST_F(CallLogTest, LostByeIsClosedBySessionTimer) {
  invite("c4", {200});
  store_->closeStaleCalls(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count() + 120000,
                          60000);
  EXPECT_EQ(column("SELECT closed_by_timer || '|' || ended_by FROM calls"), "1|session_timer");
}

TEST_F(CallLogTest, FileOffersAreRecordedWithTheirVerdict) {
  invite("f1", {488}, "v=0\r\nm=message 7654 TCP/MSRP *\r\na=file-selector:name:\"setup.exe\"\r\n",
         {{"file", "setup.exe"}, {"file_size", "1024"}, {"rule", "file_filter:blocked-extension"}});
  invite("f2", {200}, "v=0\r\nm=message 7654 TCP/MSRP *\r\na=file-selector:name:\"photo.jpg\"\r\n",
         {{"file", "photo.jpg"}});
  EXPECT_EQ(column("SELECT group_concat(name || ':' || coalesce(size, '-') || ':' || blocked, ' ') FROM "
                   "(SELECT * FROM file_transfers ORDER BY name)"),
            "photo.jpg:-:0 setup.exe:1024:1");
  EXPECT_EQ(column("SELECT media FROM calls WHERE call_id = 'f1'"), "message,file");
}

TEST_F(CallLogTest, FilesOverMaxFilesAreCountedNotRecorded) {
  Poco::JSON::Parser parser;
  chain_ = pipeline::buildChain(parser.parse(R"([{"plugin": "call_log", "max_files": 2}])")
                                    .extract<Poco::JSON::Array::Ptr>(),
                                {});
  invite("many", {200}, "v=0\r\nm=message 7654 TCP/MSRP *\r\n",
         {{"file", "a.txt"}, {"file", "b.txt"}, {"file_size", "7"}, {"file", "c.txt"}, {"file", "d.txt"}});
  EXPECT_EQ(column("SELECT group_concat(name, ' ') FROM (SELECT * FROM file_transfers ORDER BY name)"), "a.txt b.txt");
  const auto& named = chain_->entries()[0].counters->named;
  ASSERT_EQ(named.count("files.over_limit"), 1u);
  EXPECT_EQ(named.at("files.over_limit"), 2u);
  EXPECT_EQ(column("SELECT disposition FROM calls WHERE call_id = 'many'"), "answered");
}

TEST(CallLogConfig, MaxFilesNamesTheKey) {
  pipeline::registerBuiltinPlugin(plugins::call_log::descriptor());
  Poco::JSON::Parser parser;
  try {
    pipeline::buildChain(parser.parse(R"([{"plugin": "call_log", "max_files": 0}])").extract<Poco::JSON::Array::Ptr>(),
                         {});
    ADD_FAILURE() << "max_files 0 was accepted";
  } catch (const pipeline::PluginError& error) {
    EXPECT_STREQ(error.what(), "plugins[0].max_files: expected an integer from 1 to 1000000");
  }
}

}  // namespace
}  // namespace sipwarden
