#include <gtest/gtest.h>

#include "sip/edit_list.h"
#include "sip/message.h"

namespace sipwarden::sip {
namespace {

std::unique_ptr<Message> parseOk(std::string text, Framing framing = Framing::Datagram) {
  ParseFailure failure;
  auto message = Message::parse(std::move(text), framing, failure);
  EXPECT_TRUE(message);
  EXPECT_EQ(failure.reason, "");
  return message;
}

const char* kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK9eec39bc6ff9e7, SIP/2.0/TCP 192.0.2.1\r\n"
    "Max-Forwards: 70\r\n"
    "f: \"Alice\" <sip:alice@example.com>;tag=5f2c9a01\r\n"
    "To: <sip:bob@example.com>\r\n"
    "i: 703906441eab7288@192.0.2.10\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "X-Folded: one\r\n  two\r\n"
    "c: text/plain\r\n"
    "l: 5\r\n"
    "\r\n"
    "Hello";

TEST(Message, IndexesHeadersAndCompactForms) {
  auto m = parseOk(kMessage);
  EXPECT_TRUE(m->isRequest());
  EXPECT_EQ(m->method(), "MESSAGE");
  EXPECT_EQ(m->requestUri(), "sip:bob@example.com");
  EXPECT_EQ(m->callId(), "703906441eab7288@192.0.2.10");
  EXPECT_EQ(m->header("content-type"), "text/plain");
  EXPECT_EQ(m->header("X-FOLDED"), "one    two");
  EXPECT_EQ(m->body(), "Hello");
  ASSERT_NE(m->from(), nullptr);
  EXPECT_EQ(m->from()->tag(), "5f2c9a01");
  ASSERT_NE(m->vias(), nullptr);
  EXPECT_EQ(m->vias()->size(), 2u);
  EXPECT_EQ(m->topVia()->branch(), "z9hG4bK9eec39bc6ff9e7");
  EXPECT_EQ(m->values("Via").size(), 2u);
}

TEST(Message, DatagramTrailingOctetsAreIgnoredAndMissingLengthMeansRest) {
  std::string text = kMessage;
  auto m = parseOk(text + "garbage");
  EXPECT_EQ(m->body(), "Hello");
  EXPECT_EQ(m->wireSize(), text.size());
  std::string noLength = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\nbody!";
  EXPECT_EQ(parseOk(noLength)->body(), "body!");
}

TEST(Message, FramingFaultsAreReportedWithTheMessage) {
  ParseFailure failure;
  auto m = Message::parse("OPTIONS sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc", Framing::Datagram, failure);
  ASSERT_TRUE(m);
  EXPECT_EQ(failure.reason, "Content-Length larger than message");
  failure = {};
  m = Message::parse("OPTIONS sip:a@b SIP/7.0\r\nl: 0\r\n\r\n", Framing::Datagram, failure);
  ASSERT_TRUE(m);
  EXPECT_EQ(failure.statusCode, 505);
  failure = {};
  EXPECT_FALSE(Message::parse("OPTIONS sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", Framing::Datagram, failure));
  EXPECT_FALSE(Message::parse("\r\n\r\n", Framing::Datagram, failure));
}

TEST(Message, ResponseStatusLine) {
  auto m = parseOk("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 4 INVITE\r\nl: 0\r\n\r\n");
  EXPECT_TRUE(m->isResponse());
  EXPECT_EQ(m->statusCode(), 180);
  EXPECT_EQ(m->reasonPhrase(), "Ringing");
  EXPECT_EQ(m->method(), "INVITE");
}

TEST(Serializer, AppliesEditsAndFixesContentLength) {
  auto m = parseOk(kMessage);
  EditList edits;
  edits.prepend("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsw1");
  edits.replaceValue(1, "69");  // Max-Forwards
  edits.removeElement(*m, 0, 1);
  edits.replaceBody("Hello, world", std::string("text/plain;charset=UTF-8"));
  const std::string wire = serialize(*m, edits);
  auto out = parseOk(wire, Framing::Stream);
  EXPECT_EQ(out->body(), "Hello, world");
  EXPECT_EQ(out->header("Content-Length"), "12");
  EXPECT_EQ(out->header("Content-Type"), "text/plain;charset=UTF-8");
  EXPECT_EQ(out->header("Max-Forwards"), "69");
  ASSERT_NE(out->vias(), nullptr);
  ASSERT_EQ(out->vias()->size(), 2u);
  EXPECT_EQ(out->topVia()->branch(), "z9hG4bKsw1");
  EXPECT_EQ((*out->vias())[1].value.branch(), "z9hG4bK9eec39bc6ff9e7");
  EXPECT_NE(wire.find("X-Folded: one\r\n  two\r\n"), std::string::npos) << "untouched headers keep their bytes";
}

}  // namespace
}  // namespace sipwarden::sip

namespace sipwarden::sip {
namespace {

TEST(HeaderId, EveryKnownNameAndCompactFormIsClassified) {
  const std::pair<const char*, HeaderId> cases[] = {
      {"via", HeaderId::Via}, {"V", HeaderId::Via}, {"call-id", HeaderId::CallId}, {"i", HeaderId::CallId},
      {"CSEQ", HeaderId::CSeq}, {"Content-Length", HeaderId::ContentLength}, {"l", HeaderId::ContentLength},
      {"content-type", HeaderId::ContentType}, {"c", HeaderId::ContentType}, {"Contact", HeaderId::Contact},
      {"m", HeaderId::Contact}, {"Content-Encoding", HeaderId::ContentEncoding}, {"e", HeaderId::ContentEncoding},
      {"Record-Route", HeaderId::RecordRoute}, {"route", HeaderId::Route}, {"Proxy-Require", HeaderId::ProxyRequire},
      {"Max-Forwards", HeaderId::MaxForwards}, {"k", HeaderId::Supported}, {"x-custom", HeaderId::Other},
      {"C%6Fntact", HeaderId::Other}, {"", HeaderId::Other}, {"9", HeaderId::Other}};
  for (const auto& [name, id] : cases) EXPECT_EQ(classifyHeader(name), id) << name;
  for (int i = 1; i < static_cast<int>(HeaderId::Count); ++i) {
    const auto id = static_cast<HeaderId>(i);
    EXPECT_EQ(classifyHeader(canonicalName(id)), id) << canonicalName(id);
  }
}

}  // namespace
}  // namespace sipwarden::sip
