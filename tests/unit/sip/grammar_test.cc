#include <gtest/gtest.h>

#include "sip/grammar.h"

namespace sipwarden::sip {
namespace {

// What `parse` makes of `text`; a refusal fails the test with the parser's
// error.
template <typename Value>
Value parsed(bool (*parse)(std::string_view, Value&, std::string&), std::string_view text) {
  Value value;
  std::string error;
  EXPECT_TRUE(parse(text, value, error)) << text << ": " << error;
  return value;
}

TEST(Uri, SplitsSipUriParts) {
  const Uri uri = parsed(parseUri, "sip:alice:secret@example.com:5070;transport=tcp;lr?Subject=hi");
  EXPECT_EQ(uri.scheme, "sip");
  EXPECT_EQ(uri.user, "alice");
  EXPECT_EQ(uri.host, "example.com");
  EXPECT_EQ(uri.port, 5070);
  EXPECT_EQ(uri.param("transport"), "tcp");
  EXPECT_TRUE(uri.hasParam("lr"));
  EXPECT_EQ(uri.headerText, "Subject=hi");
}

TEST(Uri, Ipv6ReferenceKeepsColonsInsideBrackets) {
  Uri uri;
  std::string error;
  ASSERT_TRUE(parseUri("sip:[2001:db8::10:5070]", uri, error));
  EXPECT_EQ(uri.host, "[2001:db8::10:5070]");
  EXPECT_EQ(uri.hostAddress(), "2001:db8::10:5070");
  EXPECT_EQ(uri.port, 0);
  ASSERT_TRUE(parseUri("sip:[2001:db8::10]:5070", uri, error));
  EXPECT_EQ(uri.port, 5070);
}

TEST(Uri, RejectsMalformed) {
  Uri uri;
  std::string error;
  for (const char* text : {"sip:2001:db8::10", "<sip:a@b>", "sip:a@b c", "sip:a@host:99999", "sip:", "9sip:a"}) {
    EXPECT_FALSE(parseUri(text, uri, error)) << text;
  }
}

TEST(Uri, OpaqueSchemesParseWithoutParts) {
  Uri uri;
  std::string error;
  ASSERT_TRUE(parseUri("tel:+1-201-555-0123", uri, error));
  EXPECT_EQ(uri.scheme, "tel");
  EXPECT_FALSE(uri.isSip());
}

TEST(NameAddr, QuotedDisplayNameWithEscapes) {
  const NameAddr value = parsed(parseNameAddr, R"("J Rosenberg \\\"" <sip:jdrosen@example.com>;tag=98asjd8)");
  EXPECT_EQ(value.displayName, R"(J Rosenberg \\\")");
  EXPECT_EQ(value.tag(), "98asjd8");
  EXPECT_EQ(value.uri.host, "example.com");
}

TEST(NameAddr, AddrSpecParamsBelongToTheHeader) {
  const NameAddr value = parsed(parseNameAddr, "sip:user@example.com;tag=abc");
  EXPECT_EQ(value.tag(), "abc");
  EXPECT_TRUE(value.uri.params.empty());
}

TEST(NameAddr, RejectsWhatRfc4475Rejects) {
  NameAddr value;
  std::string error;
  EXPECT_FALSE(parseNameAddr(R"("Mr J. User <sip:j.user@example.com>)", value, error));
  EXPECT_EQ(error, "unterminated quoted display name");
  for (const char* text : {"Bell, Alexander <sip:a.g.bell@bell-tel.com>", "< sip:t.watson@example.org >",
                           "sip:user@example.com?Route=%3Csip:sip.example.com%3E", "\"Joe\" <sip:joe@example.org>;;;;"}) {
    EXPECT_FALSE(parseNameAddr(text, value, error)) << text;
  }
}

TEST(Via, ParsesSpacedSentProtocolAndParams) {
  const Via via = parsed(parseVia, "SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8");
  EXPECT_EQ(via.transport, "TCP");
  EXPECT_EQ(via.host, "spindle.example.com");
  EXPECT_EQ(via.branch(), "z9hG4bK9ikj8");
}

TEST(Via, Ipv6SentByAndRport) {
  Via via;
  std::string error;
  ASSERT_TRUE(parseVia("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111;rport", via, error)) << error;
  EXPECT_EQ(via.hostAddress(), "2001:db8::9:1");
  EXPECT_EQ(via.port, 6050);
  EXPECT_TRUE(via.param("rport").has_value());
  EXPECT_FALSE(parseVia("SIP/2.0/UDP", via, error));
  EXPECT_FALSE(parseVia("SIP/3.0/UDP host", via, error));
}

TEST(CSeq, BoundsAndMethod) {
  CSeq cseq;
  std::string error;
  ASSERT_TRUE(parseCSeq("0009\r\n  INVITE", cseq, error));
  EXPECT_EQ(cseq.number, 9u);
  EXPECT_EQ(cseq.method, "INVITE");
  EXPECT_TRUE(parseCSeq("4294967295 ACK", cseq, error));
  EXPECT_FALSE(parseCSeq("4294967296 ACK", cseq, error));
  EXPECT_FALSE(parseCSeq("12", cseq, error));
  EXPECT_FALSE(parseCSeq("-1 INVITE", cseq, error));
}

TEST(CommaList, HonoursQuotesAndBrackets) {
  std::vector<std::string_view> out;
  std::string error;
  ASSERT_TRUE(splitCommaList(R"("a, b" <sip:x@y>;p=1, <sip:z@w;a=b,c>)", out, error));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], "<sip:z@w;a=b,c>");
  EXPECT_FALSE(splitCommaList("a,,b", out, error));
}

}  // namespace
}  // namespace sipwarden::sip
