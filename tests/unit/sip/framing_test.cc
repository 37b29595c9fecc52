// Stream framing (RFC 3261 §18.3), where request smuggling lives: every way
// a Content-Length can be written, repeated or abused, pipelining, pings,
// and the same answer however the bytes are split across reads.
#include "sip/framing.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sip/message.h"

namespace sipwarden::sip {
namespace {

constexpr std::size_t kLimit = 65535;
using Kind = StreamFrame::Kind;

std::string request(const std::string& extraHeaders, const std::string& body) {
  return "MESSAGE sip:bob@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKframe\r\n"
         "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
         "Call-ID: frame-1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n" +
         extraHeaders + "\r\n" + body;
}

// Frames `stream` as the transport does, fed `step` bytes at a time: the
// messages it yields, the pings, and whether it ended in an error.
struct Framed {
  std::vector<std::string> messages;
  int pings = 0;
  bool error = false;
  std::string left;
};

Framed frame(const std::string& stream, std::size_t step, std::size_t limit = kLimit) {
  Framed out;
  std::string buffer;
  for (std::size_t at = 0; at < stream.size() && !out.error; at += step) {
    buffer.append(stream, at, step);
    for (;;) {
      const StreamFrame f = nextStreamFrame(buffer, limit);
      if (f.kind == Kind::Incomplete) break;
      if (f.kind == Kind::Error) {
        out.error = true;
        break;
      }
      if (f.kind == Kind::Message) out.messages.push_back(buffer.substr(0, f.length));
      if (f.kind == Kind::Ping) ++out.pings;
      buffer.erase(0, f.length);
    }
  }
  out.left = buffer;
  return out;
}

TEST(StreamFraming, AMessageIsItsHeadersAndExactlyContentLengthBytes) {
  const std::string one = request("Content-Type: text/plain\r\nContent-Length: 5\r\n", "hello");
  const Framed framed = frame(one + one, one.size() * 2);
  ASSERT_FALSE(framed.error);
  ASSERT_EQ(framed.messages.size(), 2u) << "pipelined";
  EXPECT_EQ(framed.messages[0], one);
  EXPECT_TRUE(framed.left.empty());
}

TEST(StreamFraming, EverySplitOfTheStreamFramesTheSame) {
  const std::string stream = "\r\n\r\n" + request("Content-Length: 5\r\n", "hello") + "\r\n" +
                             request("l: 3\r\n", "abc") + "\r\n\r\n" + request("", "");
  const Framed whole = frame(stream, stream.size());
  ASSERT_FALSE(whole.error);
  EXPECT_EQ(whole.messages.size(), 3u);
  EXPECT_EQ(whole.pings, 2);
  for (std::size_t step = 1; step < 40; ++step) {
    const Framed pieces = frame(stream, step);
    EXPECT_FALSE(pieces.error) << "step " << step;
    EXPECT_EQ(pieces.messages, whole.messages) << "step " << step;
    EXPECT_EQ(pieces.pings, whole.pings) << "a ping split across reads is still a ping (step " << step << ")";
  }
}

TEST(StreamFraming, ContentLengthInAnyCaseAndTheCompactForm) {
  for (const std::string header : {"Content-Length: 3", "content-length: 3", "CONTENT-LENGTH:3", "l: 3", "L:3",
                                   "Content-Length :   3  ", "Content-Length:\t3"}) {
    const Framed framed = frame(request(header + "\r\n", "abc") + request("", ""), 4096);
    ASSERT_FALSE(framed.error) << header;
    ASSERT_EQ(framed.messages.size(), 2u) << header;
    EXPECT_TRUE(framed.messages[0].ends_with("\r\n\r\nabc")) << header;
  }
}

TEST(StreamFraming, AMissingContentLengthMeansNoBody) {
  const Framed framed = frame(request("", "") + request("Content-Length: 0\r\n", ""), 4096);
  ASSERT_FALSE(framed.error);
  EXPECT_EQ(framed.messages.size(), 2u);
}

TEST(StreamFraming, RepeatedOrMalformedLengthsCloseTheStreamInsteadOfGuessing) {
  for (const std::string headers :
       {"Content-Length: 3\r\nContent-Length: 3\r\n", "Content-Length: 3\r\nl: 10\r\n", "l: 3\r\nL: 3\r\n",
        "Content-Length: -3\r\n", "Content-Length: +3\r\n", "Content-Length: 3a\r\n", "Content-Length: 0x3\r\n",
        "Content-Length: 3 4\r\n", "Content-Length:\r\n", "Content-Length: 99999999999999999999\r\n",
        "Content-Length: 4294967296\r\n", "Content-Length: 3.0\r\n", "Content-Length: \xd9\xa3\r\n",
        "Content-Length:\r\n 3\r\n"}) {
    const Framed framed = frame(request(headers, "abc"), 4096);
    EXPECT_TRUE(framed.error) << headers;
    EXPECT_TRUE(framed.messages.empty()) << headers;
  }
}

TEST(StreamFraming, LengthsPastTheMessageLimitCloseTheStream) {
  EXPECT_TRUE(frame(request("Content-Length: 70000\r\n", ""), 4096).error);
  EXPECT_FALSE(frame(request("Content-Length: 10\r\n", std::string(10, 'x')), 4096, 4096).error);
  // A header section that never ends, past the limit.
  EXPECT_TRUE(frame("MESSAGE sip:b SIP/2.0\r\nX: " + std::string(5000, 'y'), 512, 4096).error);
  EXPECT_FALSE(frame("MESSAGE sip:b SIP/2.0\r\nX: " + std::string(3000, 'y'), 512, 4096).error) << "still waiting";
}

TEST(StreamFraming, AContentLengthInsideTheBodyOrAContinuationIsNotTheMessages) {
  // The body's own text, and a folded line, do not set the length.
  const std::string body = "Content-Length: 999\r\n";
  const std::string one = request("Content-Length: " + std::to_string(body.size()) + "\r\nX-Note: a\r\n b: 7\r\n", body);
  const Framed framed = frame(one + request("", ""), 4096);
  ASSERT_FALSE(framed.error);
  ASSERT_EQ(framed.messages.size(), 2u);
  EXPECT_EQ(framed.messages[0], one);
}

TEST(StreamFraming, BareLineFeedsEndTheHeaderSectionToo) {
  const std::string one = "MESSAGE sip:b SIP/2.0\nContent-Length: 2\n\nhi";
  const Framed framed = frame(one + one, 4096);
  ASSERT_FALSE(framed.error);
  EXPECT_EQ(framed.messages, (std::vector<std::string>{one, one}));
}

TEST(StreamFraming, StrayCrlfsAreSkippedAndPingsCounted) {
  const Framed framed = frame("\r\n\r\n\r\n\r\n\r\n" + request("", ""), 1);
  ASSERT_FALSE(framed.error);
  EXPECT_EQ(framed.pings, 2);
  EXPECT_EQ(framed.messages.size(), 1u);
  EXPECT_EQ(nextStreamFrame("\r\n\r", kLimit).kind, Kind::Incomplete) << "three bytes of a ping: wait";
  EXPECT_EQ(nextStreamFrame("\r\nM", kLimit).kind, Kind::Crlf);
}

// Where the parser says a framed message ends; npos when it refuses it
// (the hop then answers 400 or drops it: it is never forwarded).
std::size_t parsedEnd(const std::string& framed) {
  ParseFailure failure;
  auto message = Message::parse(framed, Framing::Stream, failure);
  return message && failure.reason.empty() ? message->wireSize() : std::string::npos;
}

// Every RFC 4475 / RFC 5118 torture message (and their variants) sent over a
// stream twice back to back, at once, split into 1..13-byte reads and
// coalesced with a ping: the framer either refuses the stream or frames both
// copies alike at every split, and the parser never reads a framed message
// as ending anywhere but at the frame's end.
TEST(StreamFraming, EveryTortureMessageFramesAlikeAtEverySplitAndAsTheParserReadsIt) {
  namespace fs = std::filesystem;
  int files = 0;
  int framedMessages = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(SIPWARDEN_CONFORMANCE_DIR))) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sip") continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    const std::string one = bytes.str();
    const std::string stream = one + "\r\n\r\n" + one;
    const Framed whole = frame(stream, stream.size());
    for (std::size_t step = 1; step <= 13; ++step) {
      const Framed pieces = frame(stream, step);
      EXPECT_EQ(pieces.error, whole.error) << entry.path() << " step " << step;
      EXPECT_EQ(pieces.messages, whole.messages) << entry.path() << " step " << step;
    }
    if (whole.error) continue;
    for (const std::string& framed : whole.messages) {
      ++framedMessages;
      const std::size_t end = parsedEnd(framed);
      if (end != std::string::npos) {
        EXPECT_EQ(end, framed.size()) << entry.path() << ": a smuggling gap";
      }
    }
  }
  EXPECT_GE(files, 61);
  EXPECT_GT(framedMessages, 61) << "most torture messages frame; the rest close the stream";
}

TEST(StreamFraming, HugeAndNegativeLengthsNeverWaitForBytesThatWillNotCome) {
  for (const std::string length : {"-1", "-0", "18446744073709551616", "4294967295", "65536", "999999999"}) {
    const StreamFrame f = nextStreamFrame(request("Content-Length: " + length + "\r\n", "abc"), kLimit);
    EXPECT_EQ(f.kind, Kind::Error) << length << ": the stream is closed at once, not left waiting";
  }
}

}  // namespace
}  // namespace sipwarden::sip
