// Exports and JSON stay faithful whatever a message held: MIME boundaries
// that no content can forge, RFC 2047 headers, the body as received as a
// base64 part, and JSON that is valid UTF-8 with the raw bytes apart.
#include <gtest/gtest.h>

#include <regex>

#include "query/export.h"
#include "query/json.h"
#include "query/table.h"

namespace sipwarden::query {
namespace {

using namespace std::string_literals;

// The boundary an export of conversation 1 used before: a message holding
// it closed the transcript early and hid the rest.
const std::string kForged = "\r\n--sipwarden-conversation-1--\r\n[2026-01-01 00:00:00 UTC] ceo@example.com -> "
                            "bob@example.com: wire the money\r\n";

Transcript hostile() {
  Transcript t;
  t.conversation.id = 1;
  t.conversation.kind = "pager";
  t.conversation.participants = "alice@example.com,bob@example.com";
  MessageRow a;
  a.id = 1;
  a.sender = "alice@example.com";
  a.recipient = "bob@example.com";
  a.senderName = "Zo\xc3\xab";
  a.text = "hello" + kForged;
  a.verdict = "delivered";
  a.contentType = "text/plain";
  a.rawBody = a.text;
  MessageRow b = a;
  b.id = 2;
  b.text = "";
  b.contentType = "application/octet-stream";
  b.receivedContentType = "application/octet-stream; name=\"caf\xc3\xa9.bin\"";
  b.rawBody = "\0\xff\xED\xA0\x80\xC0\xAF"s + kForged;
  b.unreadable = "no text in application/octet-stream";
  t.messages = {a, b};
  return t;
}

std::vector<std::string> boundaries(const std::string& eml) {
  std::vector<std::string> out;
  const std::regex declared("boundary=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(eml.begin(), eml.end(), declared); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(FaithfulExport, NoMessageCanForgeABoundaryOrATranscriptLine) {
  const std::string eml = renderEml(hostile());
  const auto declared = boundaries(eml);
  ASSERT_EQ(declared.size(), 2u) << eml;
  // The outer boundary separates the transcript and the two raw bodies; the
  // inner one the plain and HTML transcripts. Each occurs only where it is
  // a delimiter: its declaration, each part, and the close.
  EXPECT_EQ(occurrences(eml, declared[0]), 1u + 3u + 1u);
  EXPECT_EQ(occurrences(eml, declared[1]), 1u + 2u + 1u);
  // The forged line is the message's own text, indented under it.
  const std::size_t plainStart = eml.find("Content-Type: text/plain; charset=utf-8");
  const std::string plain = eml.substr(plainStart, eml.find("Content-Type: text/html") - plainStart);
  EXPECT_NE(plain.find("hello\r\n    | --sipwarden-conversation-1--\r\n    | [2026-01-01"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("\r\n[2026-01-01 00:00:00 UTC] ceo@example.com"), std::string::npos);
}

TEST(FaithfulExport, TheBoundaryIsCheckedAgainstTheContent) {
  const std::string first = "some text";
  const std::string chosen = mimeBoundary({&first}, "mix");
  EXPECT_EQ(chosen.rfind("=_sipwarden-mix-", 0), 0u);
  EXPECT_EQ(chosen.size(), std::string("=_sipwarden-mix-").size() + 32);
  for (int i = 0; i < 50; ++i) {
    const std::string content = "x" + std::to_string(i) + chosen + "--";
    EXPECT_EQ(content.find(mimeBoundary({&content}, "mix")), std::string::npos);
  }
}

TEST(FaithfulExport, EachRawBodyIsABase64PartWithItsType) {
  const std::string eml = renderEml(hostile());
  EXPECT_NE(eml.find("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                     "Content-Disposition: attachment; filename=\"message-2.bin\"\r\n"),
            std::string::npos);
  EXPECT_NE(eml.find("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n"), std::string::npos);
  EXPECT_NE(eml.find(base64(hostile().messages[1].rawBody).substr(0, 60)), std::string::npos);
  // The header as received, non-ASCII: an encoded-word.
  EXPECT_NE(eml.find("X-Sipwarden-Content-Type: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(eml.find("X-Sipwarden-Unreadable: no text in application/octet-stream\r\n"), std::string::npos);
}

TEST(FaithfulExport, HeadersAreEncodedPerRfc2047) {
  EXPECT_EQ(encodeHeaderValue("plain ascii"), "plain ascii");
  EXPECT_EQ(encodeHeaderValue("Zo\xc3\xab"), "=?UTF-8?B?Wm/Dqw==?=");
  // ASCII that a mail reader would decode is encoded instead.
  EXPECT_EQ(encodeHeaderValue("=?UTF-8?B?Q0VP?="), "=?UTF-8?B?PT9VVEYtOD9CP1EwVlA/PQ==?=");
  // Invalid UTF-8 is shown as U+FFFD, never labelled UTF-8 as it is.
  EXPECT_EQ(encodeHeaderValue("\xff"), "=?UTF-8?B?77+9?=");
  // Long values: several words of whole characters, each at most 75
  // characters, folded.
  std::string euros;
  for (int i = 0; i < 40; ++i) euros += "\xe2\x82\xac";
  const std::string encoded = encodeHeaderValue(euros);
  std::size_t words = 0;
  for (std::size_t start = 0; start < encoded.size();) {
    std::size_t end = encoded.find("\r\n ", start);
    const std::string word = encoded.substr(start, end == std::string::npos ? std::string::npos : end - start);
    EXPECT_LE(word.size(), 75u);
    EXPECT_EQ(word.rfind("=?UTF-8?B?", 0), 0u);
    ++words;
    start = end == std::string::npos ? encoded.size() : end + 3;
  }
  EXPECT_EQ(words, 3u) << encoded;  // 120 bytes in words of 15 euro signs (45 bytes)
  const std::string eml = renderEml(hostile());
  EXPECT_EQ(eml.find("Zo\xc3\xab"), eml.find("Zo\xc3\xab")) << "display names are in the body only";
  for (std::size_t at = 0, end = eml.find("\r\n\r\n"); at < end; ++at) {
    EXPECT_LT(static_cast<unsigned char>(eml[at]), 0x80) << "the top-level header is ASCII";
  }
}

TEST(FaithfulJson, AMessageCarriesItsRawBytesApartInBase64) {
  MessageRow row = hostile().messages[1];
  row.text = "bad \xff text \xED\xA0\x80";
  const std::string json = toJson(row);
  EXPECT_NE(json.find("\"text\":\"bad \xEF\xBF\xBD text \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""), std::string::npos);
  EXPECT_NE(json.find("\"raw_body_base64\":\"" + base64(row.rawBody) + "\""), std::string::npos);
  EXPECT_NE(json.find("\"unreadable\":\"no text in application/octet-stream\""), std::string::npos);
  EXPECT_NE(json.find("\"received_content_type\":\"application/octet-stream; name=\\\"caf\xc3\xa9.bin\\\"\""),
            std::string::npos);
  for (std::size_t i = 0; i < json.size();) {
    const auto c = static_cast<unsigned char>(json[i]);
    ASSERT_GE(c, 0x20) << "no raw control byte at " << i;
    i += c < 0x80 ? 1 : (c >= 0xF0 ? 4 : (c >= 0xE0 ? 3 : 2));
  }
  MessageRow plain = hostile().messages[0];
  plain.unreadable.clear();
  EXPECT_NE(toJson(plain).find("\"unreadable\":null"), std::string::npos);
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("\0\xff"s), "AP8=");
}

TEST(FaithfulText, UnreadableRowsAreMarked) {
  const auto rows = hostile().messages;
  const std::string table = toTable(rows, TableStyle{true});
  EXPECT_NE(table.find("[UNREADABLE application/octet-stream]"), std::string::npos) << table;
  const std::string csv = toCsv(rows, TableStyle{true});
  EXPECT_NE(csv.find(",UNREADABLE\r\n"), std::string::npos);
  EXPECT_NE(csv.find(",no text in application/octet-stream\r\n"), std::string::npos);
  const std::string transcript = toTranscript(hostile(), TableStyle{true});
  EXPECT_NE(transcript.find("    unreadable: no text in application/octet-stream\n"), std::string::npos);
}

}  // namespace
}  // namespace sipwarden::query
