// Searches over a real archive file written through archive::Store: each
// filter, keyset pagination, transcripts, stats, the audit trail, and a
// reader that keeps working while the writer commits.
#include "query/reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "query_test_support.h"

namespace sipwarden::query {
namespace {

using testing::TempArchive;

constexpr std::int64_t kT = 1'793'610'000'000;  // 2026-11-02T09:00:00Z

class ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db.add(kT, "alice@example.com", "bob@example.com", "the quarterly report is ready", "s1");
    db.add(kT + 1000, "bob@example.com", "alice@example.com", "report looks fine", "s1");
    db.add(kT + 2000, "alice@example.com", "bob@example.com", "password hunter2", "s1", true, "blocked", "",
           "keyword:credentials", "dlp=credentials");
    db.add(kT + 3000, "bob@example.com", "alice@example.com", "see hxxp://x[.]example", "s1", true, "modified",
           "see http://x.example", "url_filter:defang,keyword:other", "url=defanged");
    db.add(kT + 86'400'000, "carol@example.com", "dave@example.com", "lunch quarterly", "p1", false);
  }
  Filters filters(std::vector<std::pair<std::string, std::string>> params) {
    return parseFilters(params, kT + 100 * 86'400'000LL, false);
  }
  std::vector<std::int64_t> ids(const Page<MessageRow>& page) {
    std::vector<std::int64_t> out;
    for (const auto& row : page.rows) out.push_back(row.id);
    return out;
  }
  TempArchive db;
};

TEST_F(ReaderTest, MessagesNewestFirstWithEveryField) {
  Reader reader(db.path());
  const auto page = reader.messages(filters({}));
  ASSERT_EQ(page.rows.size(), 5u);
  EXPECT_EQ(ids(page), (std::vector<std::int64_t>{5, 4, 3, 2, 1}));
  EXPECT_TRUE(page.nextCursor.empty());
  const MessageRow& modified = page.rows[1];
  EXPECT_EQ(modified.verdict, "modified");
  ASSERT_TRUE(modified.originalText.has_value());
  EXPECT_EQ(*modified.originalText, "see http://x.example");
  EXPECT_FALSE(page.rows[2].originalText.has_value());
}

TEST_F(ReaderTest, EachFilterSelects) {
  Reader reader(db.path());
  EXPECT_EQ(ids(reader.messages(filters({{"text", "quarterly report"}}))), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(ids(reader.messages(filters({{"text", "quarterly"}}))), (std::vector<std::int64_t>{5, 1}));
  EXPECT_EQ(ids(reader.messages(filters({{"text", "quarterly OR fine"}}))), (std::vector<std::int64_t>{5, 2, 1}));
  EXPECT_EQ(ids(reader.messages(filters({{"participant", "sip:carol@example.com"}}))), (std::vector<std::int64_t>{5}));
  EXPECT_EQ(ids(reader.messages(filters({{"from", "bob@example.com"}}))), (std::vector<std::int64_t>{4, 2}));
  EXPECT_EQ(ids(reader.messages(filters({{"to", "bob@example.com"}}))), (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(ids(reader.messages(filters({{"verdict", "blocked"}}))), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(ids(reader.messages(filters({{"rule", "keyword:other"}}))), (std::vector<std::int64_t>{4}));
  EXPECT_EQ(ids(reader.messages(filters({{"rule", "keyword"}}))), (std::vector<std::int64_t>{}));  // whole names only
  EXPECT_EQ(ids(reader.messages(filters({{"tag", "dlp=credentials"}}))), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(ids(reader.messages(filters({{"call_id", "p1"}}))), (std::vector<std::int64_t>{5}));
  EXPECT_EQ(ids(reader.messages(filters({{"since", "2026-11-02T09:00:02Z"}, {"until", "2026-11-03"}}))),
            (std::vector<std::int64_t>{4, 3}));
}

TEST_F(ReaderTest, BadFullTextSyntaxIsTheUsersError) {
  Reader reader(db.path());
  EXPECT_THROW(reader.messages(filters({{"text", "\"unterminated"}})), QueryError);
  EXPECT_THROW(reader.calls(filters({{"text", "x"}})), QueryError);  // not a filter for calls
}

TEST_F(ReaderTest, KeysetPagesCoverEveryRowOnce) {
  for (int i = 0; i < 23; ++i) db.add(kT + 5000, "erin@example.com", "frank@example.com", "same time", "e" + std::to_string(i), false);
  Reader reader(db.path());
  std::set<std::int64_t> seen;
  Filters f = filters({{"limit", "4"}});
  int pages = 0;
  for (;;) {
    const auto page = reader.messages(f);
    ++pages;
    for (const auto& row : page.rows) EXPECT_TRUE(seen.insert(row.id).second) << "row " << row.id << " twice";
    if (page.nextCursor.empty()) break;
    f.cursor = page.nextCursor;
    // A row written after the first page does not shift the next ones.
    if (pages == 1) db.add(kT + 999'000'000, "late@example.com", "x@example.com", "late", "late");
  }
  EXPECT_EQ(seen.size(), 28u);
  EXPECT_EQ(pages, 7);
  EXPECT_FALSE(seen.count(29));
}

TEST_F(ReaderTest, TextSearchPagesInArchiveOrderWithOtherFilters) {
  for (int i = 0; i < 12; ++i) {
    db.add(kT + 10'000 + i, i % 3 == 0 ? "gina@example.com" : "hal@example.com", "ivy@example.com",
           "alpha beta " + std::to_string(i), "t" + std::to_string(i), false);
  }
  Reader reader(db.path());
  std::vector<std::int64_t> seen;
  Filters f = filters({{"text", "alpha beta"}, {"limit", "5"}});
  for (int pages = 0; pages < 10; ++pages) {
    const auto page = reader.messages(f);
    for (const auto& row : page.rows) seen.push_back(row.id);
    if (page.nextCursor.empty()) break;
    f.cursor = page.nextCursor;
  }
  ASSERT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen.front(), 17);  // newest first
  EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend()));
  EXPECT_EQ(ids(reader.messages(filters({{"text", "alpha"}, {"from", "gina@example.com"}}))),
            (std::vector<std::int64_t>{15, 12, 9, 6}));
  // A cursor from the time-ordered list is refused here, and the other way round.
  f.cursor = reader.messages(filters({{"limit", "1"}})).nextCursor;
  EXPECT_THROW(reader.messages(f), QueryError);
}

TEST_F(ReaderTest, ConversationsByMessageFiltersAndTranscript) {
  Reader reader(db.path());
  const auto all = reader.conversations(filters({}));
  ASSERT_EQ(all.rows.size(), 2u);
  EXPECT_EQ(all.rows[0].participants, "carol@example.com,dave@example.com");
  const auto blocked = reader.conversations(filters({{"verdict", "blocked"}}));
  ASSERT_EQ(blocked.rows.size(), 1u);
  EXPECT_EQ(blocked.rows[0].messages, 4);
  EXPECT_EQ(blocked.rows[0].blocked, 1);
  EXPECT_EQ(blocked.rows[0].modified, 1);
  EXPECT_EQ(reader.conversations(filters({{"text", "quarterly"}})).rows.size(), 2u);
  const auto byText = reader.conversations(filters({{"text", "password"}, {"verdict", "blocked"}}));
  ASSERT_EQ(byText.rows.size(), 1u);
  EXPECT_EQ(byText.rows[0].id, blocked.rows[0].id);
  EXPECT_TRUE(reader.conversations(filters({{"text", "password"}, {"verdict", "delivered"}})).rows.empty());
  EXPECT_EQ(reader.conversations(filters({{"text", "quarterly"}, {"participant", "dave@example.com"}})).rows.at(0).id,
            all.rows[0].id);
  const auto transcript = reader.conversation(blocked.rows[0].id);
  ASSERT_TRUE(transcript.has_value());
  ASSERT_EQ(transcript->messages.size(), 4u);
  EXPECT_EQ(transcript->messages.front().text, "the quarterly report is ready");  // oldest first
  EXPECT_EQ(transcript->messages[2].verdict, "blocked");
  EXPECT_FALSE(reader.conversation(999).has_value());
}

TEST_F(ReaderTest, CallsAndStats) {
  CallRecord call;
  call.callId = "c1";
  call.caller = "alice@example.com";
  call.callee = "bob@example.com";
  call.inviteMs = kT;
  call.answerMs = kT + 2000;
  call.disposition = "answered";
  call.endCode = 200;
  db.store().begin();
  db.store().upsertCall(call);
  CallRecord busy = call;
  busy.callId = "c2";
  busy.caller = "carol@example.com";
  busy.inviteMs = kT + 10;
  busy.answerMs = 0;
  busy.disposition = "busy";
  db.store().upsertCall(busy);
  db.store().commit();
  Reader reader(db.path());
  EXPECT_EQ(reader.calls(filters({})).rows.size(), 2u);
  const auto alice = reader.calls(filters({{"participant", "alice@example.com"}}));
  ASSERT_EQ(alice.rows.size(), 1u);
  EXPECT_EQ(alice.rows[0].callId, "c1");
  EXPECT_EQ(reader.calls(filters({{"disposition", "busy"}})).rows.at(0).callId, "c2");
  EXPECT_EQ(reader.calls(filters({{"to", "bob@example.com"}})).rows.size(), 2u);
  const Stats stats = reader.stats(filters({}));
  EXPECT_EQ(stats.messages, 5);
  EXPECT_EQ(stats.blocked, 1);
  EXPECT_EQ(stats.modified, 1);
  EXPECT_EQ(stats.conversations, 2);
  EXPECT_EQ(stats.calls, 2);
  EXPECT_EQ(stats.answeredCalls, 1);
  EXPECT_EQ(reader.stats(filters({{"since", "2026-11-03"}})).messages, 1);
}

TEST_F(ReaderTest, AuditTrailRecordsAndLists) {
  Reader reader(db.path());
  reader.recordAudit("api:carol", "messages", "text=report&limit=50", 2);
  reader.recordAudit("cli:root", "export", "conversation=1&format=eml", 1);
  const auto page = reader.audit(filters({}));
  ASSERT_EQ(page.rows.size(), 2u);
  EXPECT_EQ(page.rows[0].who, "cli:root");
  EXPECT_EQ(page.rows[1].query, "text=report&limit=50");
  EXPECT_EQ(page.rows[1].results, 2);
}

TEST_F(ReaderTest, ReadsWhileTheWriterHoldsAnOpenTransaction) {
  Reader reader(db.path());
  db.store().begin();  // the hop's writer in the middle of a batch
  MessageRecord r;
  r.timeMs = kT + 10;
  r.sender = "x@example.com";
  r.recipient = "y@example.com";
  r.callId = "uncommitted";
  r.verdict = "delivered";
  r.participants = "x@example.com,y@example.com";
  db.store().insertMessage(r);
  EXPECT_EQ(reader.messages(filters({})).rows.size(), 5u);  // WAL: the reader sees the last commit, at once
  db.store().commit();
  EXPECT_EQ(reader.messages(filters({})).rows.size(), 6u);
}

TEST(ReaderOpen, RefusesAMissingArchive) {
  EXPECT_THROW(Reader("/nonexistent/archive.db"), ArchiveReadError);
}

}  // namespace
}  // namespace sipwarden::query
