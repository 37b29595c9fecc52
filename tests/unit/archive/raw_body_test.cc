// The body as received (schema 007 on SQLite, 002 on PostgreSQL): stored
// byte for byte on both backends, NULs and invalid UTF-8 included, covered
// by the row's hash so an edit is found, found by the unreadable filter;
// text fields cleaned to UTF-8 before they are hashed; and archives written
// before the new fields keep verifying.
#include <gtest/gtest.h>

#include <filesystem>

#include "archive/backend_support.h"
#include "archive/hash_chain.h"
#include "archive/clean_text.h"
#include "archive/migrations.h"
#include "archive/sqlite_store.h"
#include "archive/test_records.h"
#include "archive/writer.h"
#include "query/reader.h"

namespace sipwarden::archive {
namespace {


constexpr std::int64_t kT0 = 1'700'000'000'000;

// Bytes no text column could carry: NULs, a lone surrogate encoded in UTF-8
// (ED A0 80), an overlong '/' (C0 AF), a stray continuation byte, and a
// line that looks like an export's boundary.
const std::string kAwkwardBytes = std::string("GIF89a\0\0\x01\xff", 10) + "\xED\xA0\x80 \xC0\xAF \x80 " +
                                  "\r\n--sipwarden-conversation-1--\r\n" + std::string(1, '\0');

MessageRecord imageMessage(const std::string& callId, std::int64_t timeMs) {
  MessageRecord r = testing::textMessage(callId, 1, timeMs, "");
  r.contentType = "image/gif";
  r.rawBody = kAwkwardBytes;
  r.receivedContentType = "image/gif; name=\"x.gif\"";
  r.unreadable = "no text in image/gif";
  return r;
}

class RawBody : public testing::BothBackends {
 protected:
  std::string rawBodySql(const std::string& bytesHex) const {
    return postgres() ? "'\\x" + bytesHex + "'::bytea" : "X'" + bytesHex + "'";
  }
};

TEST_P(RawBody, IsStoredByteForByteAndReadBack) {
  {
    auto store = archive().open();
    MessageRecord image = imageMessage("img-1", kT0);
    MessageRecord gzip = testing::textMessage("gz-1", 1, kT0 + 1, "hello");
    gzip.rawBody = std::string("\x1f\x8b\x08\0\0\0\0\0", 8);
    gzip.receivedContentType = "text/plain;charset=utf-8";
    gzip.contentEncoding = "gzip";
    MessageRecord plain = testing::textMessage("plain-1", 1, kT0 + 2, "plain");
    plain.rawBody = "plain";
    // One row alone, then a batch (PostgreSQL's bulk insert).
    store->begin({&image});
    ASSERT_TRUE(store->insertMessage(image));
    store->commit();
    store->begin({&gzip, &plain});
    const auto inserted = store->insertMessages({&gzip, &plain});
    store->commit();
    EXPECT_EQ(inserted, std::vector<bool>({true, true}));
    const VerifyReport report = store->verify();
    EXPECT_TRUE(report.ok) << report.problem;
  }
  query::Reader reader(archive().url());
  const auto page = reader.messages(query::Filters{});
  ASSERT_EQ(page.rows.size(), 3u);
  const query::MessageRow& plain = page.rows[0];
  const query::MessageRow& gzip = page.rows[1];
  const query::MessageRow& image = page.rows[2];
  EXPECT_EQ(image.rawBody, kAwkwardBytes);
  EXPECT_EQ(image.receivedContentType, "image/gif; name=\"x.gif\"");
  EXPECT_EQ(image.unreadable, "no text in image/gif");
  EXPECT_EQ(gzip.rawBody, std::string("\x1f\x8b\x08\0\0\0\0\0", 8));
  EXPECT_EQ(gzip.contentEncoding, "gzip");
  EXPECT_EQ(gzip.unreadable, "");
  EXPECT_EQ(plain.rawBody, "plain");
}

TEST_P(RawBody, AnEditedRawBodyOrReasonIsFound) {
  {
    auto store = archive().open();
    for (int i = 0; i < 3; ++i) {
      const MessageRecord r = imageMessage("img-" + std::to_string(i), kT0 + i);
      store->begin({&r});
      store->insertMessage(r);
      store->commit();
    }
    EXPECT_TRUE(store->verify().ok);
  }
  archive().exec("UPDATE messages SET raw_body = " + rawBodySql("00") + " WHERE id = 2");
  auto report = archive().open()->verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.firstBadId, 2);
  archive().exec("UPDATE messages SET raw_body = NULL WHERE id = 2");
  EXPECT_FALSE(archive().open()->verify().ok) << "a removed body is an edit too";
}

TEST_P(RawBody, AnEditedUnreadableMarkIsFound) {
  {
    auto store = archive().open();
    const MessageRecord r = imageMessage("img-1", kT0);
    store->begin({&r});
    store->insertMessage(r);
    store->commit();
  }
  archive().exec("UPDATE messages SET unreadable = '' WHERE id = 1");
  EXPECT_FALSE(archive().open()->verify().ok);
}

TEST_P(RawBody, TheUnreadableFilterListsOnlyMessagesWhoseTextWasNotRead) {
  {
    auto store = archive().open();
    const MessageRecord text = testing::textMessage("t-1", 1, kT0, "readable words");
    const MessageRecord image = imageMessage("img-1", kT0 + 1);
    store->begin({&text, &image});
    store->insertMessages({&text, &image});
    store->commit();
  }
  query::Reader reader(archive().url());
  const auto all = reader.messages(query::parseFilters({}, kT0, false));
  EXPECT_EQ(all.rows.size(), 2u);
  const auto unreadable = reader.messages(query::parseFilters({{"unreadable", "true"}}, kT0, false));
  ASSERT_EQ(unreadable.rows.size(), 1u);
  EXPECT_EQ(unreadable.rows[0].callId, "img-1");
  EXPECT_EQ(reader.conversations(query::parseFilters({{"unreadable", "1"}}, kT0, false)).rows.size(), 1u);
  EXPECT_THROW(reader.calls(query::parseFilters({{"unreadable", "true"}}, kT0, false)), query::QueryError);
  EXPECT_THROW(query::parseFilters({{"unreadable", "yes"}}, kT0, false), query::QueryError);
}

TEST_P(RawBody, TheWriterCleansTextFieldsAndKeepsTheBodysBytes) {
  {
    WriterSettings settings;
    settings.url = archive().url();
    settings.batchTime = std::chrono::milliseconds(5);
    settings.hopId = "hop-a";
    Writer writer(settings);
    // A display name and a text PostgreSQL would refuse, or cut at the NUL.
    MessageRecord r = testing::textMessage("dirty-1", 1, kT0, std::string("before\0after \xff", 14));
    r.senderName = "Mall\xe9ory";
    r.rawBody = r.text;
    ASSERT_TRUE(writer.submit(r));
    writer.finalCode("dirty-1", 1, "alice@example.com", 200);
    writer.drainAndStop();
    EXPECT_EQ(writer.counters().committed.load(), 1u);
  }
  query::Reader reader(archive().url());
  const auto page = reader.messages(query::Filters{});
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].text, "before\xEF\xBF\xBD" "after \xEF\xBF\xBD");
  EXPECT_EQ(page.rows[0].senderName, "Mall\xEF\xBF\xBDory");
  EXPECT_EQ(page.rows[0].rawBody, std::string("before\0after \xff", 14));
  EXPECT_EQ(page.rows[0].finalCode, 200);
  const VerifyReport report = archive().open()->verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

INSTANTIATE_TEST_SUITE_P(Archive, RawBody, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(RawBodyHash, RowsWithoutTheNewFieldsHashAsBefore) {
  MessageRecord r = testing::textMessage("call-1", 1, kT0, "hello");
  const std::string before = rowHash("", r);
  // The value the hash had before schema 007 (the same fields, the same
  // formula), so rows written then keep verifying.
  EXPECT_EQ(before, "70c39f4fc41b5e6199d271b0eb292d45f356e85303f523368c2fb9895c9ba2e7") << "computed with the formula of schema 006";
  r.rawBody = "hello";
  EXPECT_NE(rowHash("", r), before);
  r.rawBody.clear();
  r.unreadable = "x";
  EXPECT_NE(rowHash("", r), before);
}

TEST(RawBodyHash, EachNewFieldCounts) {
  MessageRecord a = imageMessage("c", kT0);
  const std::string base = rowHash("", a);
  for (std::string MessageRecord::*field : {&MessageRecord::rawBody, &MessageRecord::receivedContentType,
                                            &MessageRecord::contentEncoding, &MessageRecord::unreadable}) {
    MessageRecord b = a;
    (b.*field) += "x";
    EXPECT_NE(rowHash("", b), base);
  }
  // Length prefixes: moving bytes from one field to the next changes the hash.
  MessageRecord c = a;
  c.receivedContentType = "ab";
  c.contentEncoding = "c";
  MessageRecord d = a;
  d.receivedContentType = "a";
  d.contentEncoding = "bc";
  EXPECT_NE(rowHash("", c), rowHash("", d));
}

TEST(RawBodyMigration, AnArchiveFromBeforeSchema007KeepsVerifying) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("sipwarden-raw-" + std::to_string(::getpid()) + ".db")).string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  {
    // Schema 006 as the previous release left it, with two chained rows.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_NO_FATAL_FAILURE(testing::migrateSqliteTo(raw, 6));
    std::string previous;
    std::string sql = "PRAGMA user_version = 6; INSERT INTO conversations (id, kind, participants, started_ms, "
                      "last_ms) VALUES (1, 'pager', 'alice@example.com,bob@example.com', 0, 0);";
    for (int id = 1; id <= 2; ++id) {
      const MessageRecord r = testing::textMessage("old-" + std::to_string(id), 1, kT0 + id, "old text");
      previous = rowHash(previous, r);
      sql += "INSERT INTO messages (id, conversation_id, time_ms, direction, sender, recipient, call_id, cseq, "
             "content_type, text, verdict, hash) VALUES (" +
             std::to_string(id) + ", 1, " + std::to_string(r.timeMs) + ", 'from_client', 'alice@example.com', " +
             "'bob@example.com', '" + r.callId + "', 1, 'text/plain', 'old text', 'delivered', '" + previous + "');";
    }
    // As the writer does, the text goes into the full-text index too.
    sql += "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages;";
    sql += "UPDATE chain_head SET last_id = 2, last_hash = '" + previous + "', rows = 2;";
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }
  {
    SqliteStore store(path);
    EXPECT_EQ(store.schemaVersion(), migrations().back().version);
    VerifyReport report = store.verify();
    EXPECT_TRUE(report.ok) << report.problem;
    const MessageRecord image = imageMessage("new-1", kT0 + 10);
    store.begin();
    ASSERT_TRUE(store.insertMessage(image));
    store.commit();
    report = store.verify();
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.rows, 3);
  }
  {
    // An old row given a body afterwards no longer matches its hash.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "UPDATE messages SET raw_body = X'41' WHERE id = 1", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    const VerifyReport report = SqliteStore(path).verify();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.firstBadId, 1);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

TEST(CleanText, ReplacesWhatIsNotUtf8AndNul) {
  EXPECT_TRUE(isCleanText("h\xc3\xa9llo \xF0\x9F\x98\x80"));
  EXPECT_EQ(cleanText(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(cleanText("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "a lone surrogate";
  EXPECT_EQ(cleanText("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "an overlong '/'";
  EXPECT_EQ(cleanText("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "past U+10FFFF";
  EXPECT_EQ(cleanText("ok\xE2\x82"), "ok\xEF\xBF\xBD\xEF\xBF\xBD") << "cut short";
}

}  // namespace
}  // namespace sipwarden::archive
