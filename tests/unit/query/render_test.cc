// Renderings: JSON escaping, table cutting and alignment, CSV quoting, the
// transcript's marks, EML/HTML exports and their manifest.
#include <gtest/gtest.h>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "query/export.h"
#include "query/json.h"
#include "query/table.h"

namespace sipwarden::query {
namespace {

Transcript sample() {
  Transcript t;
  t.conversation.id = 7;
  t.conversation.kind = "session";
  t.conversation.participants = "alice@example.com,bob@example.com";
  t.conversation.startedMs = 1'793'610'000'000;
  t.conversation.lastMs = 1'793'610'060'000;
  MessageRow a;
  a.id = 1;
  a.timeMs = 1'793'610'000'000;
  a.sender = "alice@example.com";
  a.recipient = "bob@example.com";
  a.text = "<script>alert(1)</script>";
  a.verdict = "blocked";
  MessageRow b = a;
  b.id = 2;
  b.timeMs += 60'000;
  b.sender = "bob@example.com";
  b.recipient = "alice@example.com";
  b.text = "hxxp://x";
  b.originalText = "http://x";
  b.verdict = "modified";
  t.messages = {a, b};
  return t;
}

TEST(Json, EscapesQuotesControlsAndScriptTags) {
  EXPECT_EQ(jsonString("a\"b\\c\n\x01<"), "\"a\\\"b\\\\c\\n\\u0001\\u003c\"");
  EXPECT_EQ(jsonString("héllo"), "\"héllo\"");
  EXPECT_EQ(isoUtc(1'793'610'000'123), "2026-11-02T09:00:00.123Z");
}

TEST(Json, AnyBytesBecomeValidUtf8) {
  using namespace std::string_literals;
  const std::string replacement = "\xEF\xBF\xBD";
  // Well-formed sequences of every length pass through.
  EXPECT_EQ(jsonString("\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "\"\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  // NUL is escaped, not cut.
  EXPECT_EQ(jsonString("a\0b"s), "\"a\\u0000b\"");
  // Stray continuation bytes, truncated sequences, overlong forms,
  // surrogates, and code points past U+10FFFF: one U+FFFD per bad byte.
  EXPECT_EQ(jsonString("\x80"), "\"" + replacement + "\"");
  EXPECT_EQ(jsonString("a\xFF" "b"), "\"a" + replacement + "b\"");
  EXPECT_EQ(jsonString("\xC3"), "\"" + replacement + "\"");
  EXPECT_EQ(jsonString("\xE2\x82"), "\"" + replacement + replacement + "\"");
  EXPECT_EQ(jsonString("\xC0\xAF"), "\"" + replacement + replacement + "\"");
  EXPECT_EQ(jsonString("\xED\xA0\x80"), "\"" + replacement + replacement + replacement + "\"");
  EXPECT_EQ(jsonString("\xF4\x90\x80\x80"), "\"" + replacement + replacement + replacement + replacement + "\"");
  EXPECT_EQ(jsonString("\xE2\x82\xAC\xE2"), "\"\xE2\x82\xAC" + replacement + "\"");
}

TEST(Json, PagesCarryTheCursor) {
  Page<AuditRow> page;
  page.rows.push_back({1, 0, "cli:x", "messages", "q", 3});
  EXPECT_NE(toJson(page).find("\"next_cursor\":null"), std::string::npos);
  page.nextCursor = "abc";
  EXPECT_NE(toJson(page).find("\"next_cursor\":\"abc\""), std::string::npos);
}

TEST(Table, CutsByCharactersAndAligns) {
  EXPECT_EQ(cut("héllo wörld", 5), "héll\xE2\x80\xA6");
  EXPECT_EQ(cut("short", 5), "short");
  EXPECT_EQ(cut("a\nb", 5), "a b");
  auto t = sample();
  const std::string table = toTable(t.messages, TableStyle{true, 10});
  std::istringstream lines(table);
  std::string header, first;
  std::getline(lines, header);
  std::getline(lines, first);
  EXPECT_EQ(header.find("TEXT"), first.find("<script>a"));  // columns line up
  EXPECT_NE(table.find("2026-11-02 09:00:00"), std::string::npos);
}

TEST(Csv, QuotesFieldsThatNeedIt) {
  auto t = sample();
  t.messages[0].text = "a, \"b\"";
  const std::string csv = toCsv(t.messages, TableStyle{true});
  EXPECT_NE(csv.find("\"a, \"\"b\"\"\""), std::string::npos) << csv;
}

TEST(Transcript, MarksBlockedAndModifiedAndShowsTheOriginal) {
  const std::string text = toTranscript(sample(), TableStyle{true});
  EXPECT_NE(text.find("[BLOCKED] <script>"), std::string::npos);
  EXPECT_NE(text.find("[MODIFIED] hxxp://x\n    original: http://x"), std::string::npos) << text;
}

TEST(Export, EmlIsAMultipartMessageWithEscapedHtml) {
  const std::string eml = renderEml(sample());
  EXPECT_EQ(eml.rfind("From: alice@example.com\r\nTo: bob@example.com\r\n", 0), 0u);
  EXPECT_NE(eml.find("Message-ID: <conversation-7@sipwarden>\r\n"), std::string::npos);
  EXPECT_NE(eml.find("Content-Type: multipart/mixed; boundary=\"=_sipwarden-mix-"), std::string::npos);
  EXPECT_NE(eml.find("Content-Type: multipart/alternative; boundary=\"=_sipwarden-alt-"), std::string::npos);
  EXPECT_NE(eml.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(eml.find("<script>alert"), eml.find("alice@example.com -> bob@example.com [BLOCKED]: <script>") +
                                           std::string("alice@example.com -> bob@example.com [BLOCKED]: ").size());
  EXPECT_EQ(eml.substr(eml.size() - 2), "\r\n");
  EXPECT_EQ(renderEml(sample()), eml) << "the same export each time";
}

TEST(Export, WritesOneFilePerConversationAndAManifest) {
  const auto dir = std::filesystem::temp_directory_path() / ("sipwarden-export-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto second = sample();
  second.conversation.id = 8;
  const auto files = exportTranscripts({sample(), second}, ExportFormat::Html, dir.string());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "conversation-7.html");
  std::ifstream manifest(dir / "manifest.sha256");
  std::string line;
  std::getline(manifest, line);
  EXPECT_EQ(line, files[0].sha256 + "  conversation-7.html");
  std::ifstream in(dir / "conversation-7.html", std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(bytes.str());
  EXPECT_EQ(Poco::DigestEngine::digestToHex(engine.digest()), files[0].sha256);
  EXPECT_THROW(parseExportFormat("pdf"), QueryError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sipwarden::query
