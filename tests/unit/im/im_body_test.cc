// Instant-message text in every wire form, read and rewritten, checked on the
// shared samples (tests/corpus/samples) and on small inline bodies.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "im/im_body.h"
#include "sipwarden/html_text.h"
#include "pipeline/exchange.h"
#include "sip/edit_list.h"
#include "sip/message.h"

namespace sipwarden::im {
namespace {

std::unique_ptr<sip::Message> sample(const std::string& name) {
  std::ifstream in(std::string(SIPWARDEN_SAMPLES_DIR) + "/" + name, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  sip::ParseFailure failure;
  auto message = sip::Message::parse(bytes.str(), sip::Framing::Datagram, failure);
  EXPECT_TRUE(message && failure.reason.empty()) << name << ": " << failure.reason;
  return message;
}

ImBody bodyOf(const sip::Message& message) {
  return ImBody(message.method(), message.header("Content-Type").value_or(""), std::string(message.body()),
                [&](std::string_view name) { return message.header(name); });
}

// A sample and its body as read; the body may point into the message.
struct ReadSample {
  std::unique_ptr<sip::Message> message;
  ImBody body;
};

ReadSample readSample(const std::string& name) {
  auto message = sample(name);
  ImBody body = bodyOf(*message);
  return ReadSample{std::move(message), std::move(body)};
}

// Rewrites every part through a CoreExchange and returns the message as it
// would leave, parsed again.
std::unique_ptr<sip::Message> rewriteAll(const sip::Message& message, const std::function<std::string(std::string)>& f) {
  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("127.0.0.1", 5060), 0};
  pipeline::CoreExchange exchange(origin, Direction::FromClient);
  exchange.bind(message);
  InstantMessage& im = exchange.instantMessage();
  for (std::size_t i = 0; i < im.partCount(); ++i) im.setPartText(i, f(std::string(im.partText(i))));
  sip::EditList edits;
  exchange.applyTo(edits);
  sip::ParseFailure failure;
  auto out = sip::Message::parse(sip::serialize(message, edits), sip::Framing::Stream, failure);
  EXPECT_TRUE(out && failure.reason.empty()) << failure.reason;
  return out;
}

TEST(ImBody, PlainText) {
  auto [message, body] = readSample("01-message-text-plain.sip");
  ASSERT_TRUE(body.present());
  ASSERT_EQ(body.partCount(), 1u);
  EXPECT_EQ(body.partType(0), "text/plain");
  EXPECT_EQ(body.plainText(), "Hi Bob, the stand-up moved to 10:30 today. Same room as last week.");
}

TEST(ImBody, HtmlIsReducedToTextForSearch) {
  ImBody body = bodyOf(*sample("03-message-text-html-href.sip"));
  ASSERT_EQ(body.partCount(), 1u);
  EXPECT_EQ(body.partType(0), "text/html");
  EXPECT_EQ(body.plainText(), "Welcome aboard! Start with the onboarding page before Monday.\n");
}

TEST(ImBody, CpimWrappedTextIsThePartNotTheCpimHeaders) {
  auto [message, body] = readSample("04-message-cpim-text-plain-link.sip");
  ASSERT_EQ(body.partCount(), 1u);
  EXPECT_EQ(body.partLocation(0), "cpim");
  EXPECT_EQ(body.partText(0), "Nightly build artifacts: https://ci.example.com/job/nightly/812/artifacts");
  auto out = rewriteAll(*message, [](std::string text) { return text + " [checked]"; });
  EXPECT_NE(out->body().find("imdn.Message-ID: Qx7uP2mZ41\r\n"), std::string_view::npos);
  EXPECT_TRUE(out->body().ends_with("artifacts [checked]"));
  EXPECT_EQ(out->header("Content-Length"), std::to_string(out->body().size()));
}

TEST(ImBody, MultipartAlternativeEachPartRewrittenBoundaryKept) {
  auto [message, body] = readSample("05-message-multipart-alternative.sip");
  ASSERT_EQ(body.partCount(), 2u);
  EXPECT_EQ(body.partType(0), "text/plain");
  EXPECT_EQ(body.partType(1), "text/html");
  EXPECT_EQ(body.partText(0), "Q3 figures are on the portal: http://portal.example.com/finance/q3");
  auto out = rewriteAll(*message, [](std::string text) {
    const auto at = text.find("http://");
    return text.insert(at, "_");
  });
  const std::string expected =
      "--alt-5b1e7c20\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\n"
      "Q3 figures are on the portal: _http://portal.example.com/finance/q3\r\n"
      "--alt-5b1e7c20\r\nContent-Type: text/html;charset=UTF-8\r\n\r\n"
      "<p>Q3 figures are on the <a href=\"_http://portal.example.com/finance/q3\">portal</a>.</p>\r\n"
      "--alt-5b1e7c20--\r\n";
  EXPECT_EQ(out->body(), expected);
}

TEST(ImBody, MsImFormatHeaderIsDecodedAndReencoded) {
  auto [message, body] = readSample("06-lync-message-ms-im-format.sip");
  ASSERT_EQ(body.partCount(), 2u);
  EXPECT_EQ(body.partLocation(1), "header:Ms-IM-Format");
  EXPECT_NE(body.partText(1).find("<a href=\"http://share.example.com/sites/design/review-2026.pptx\">"),
            std::string_view::npos);
  auto out = rewriteAll(*message, [](std::string text) { return "X" + text; });
  ImBody again = bodyOf(*out);
  EXPECT_EQ(again.partText(0).substr(0, 7), "XDesign");
  EXPECT_EQ(again.partText(1).substr(0, 6), "X<SPAN");
  EXPECT_TRUE(out->header("Ms-IM-Format")->starts_with("text/html; charset=UTF-8; ms-body="));
}

TEST(ImBody, IsComposingIsNotAnInstantMessage) {
  ImBody body = bodyOf(*sample("07-message-iscomposing.sip"));
  EXPECT_FALSE(body.present());
  EXPECT_EQ(body.otherPartCount(), 0u) << "a notification, not a non-text message";
  EXPECT_EQ(body.entityCount(), 1u);
}

TEST(ImBody, InviteWithEmbeddedFirstMessage) {
  ImBody body = bodyOf(*sample("08-lync-im-session-invite.sip"));
  ASSERT_TRUE(body.present());
  EXPECT_EQ(body.plainText(), "Hi Bob, do you have a minute for the budget review?");
}

TEST(ImBody, FileTransferInviteIsNotAnInstantMessage) {
  EXPECT_FALSE(bodyOf(*sample("11-lync-filetransfer-invite-setup-msi.sip")).present());
  EXPECT_FALSE(bodyOf(*sample("12-rfc5547-invite-photo-jpg.sip")).present());
}

TEST(ImBody, Utf8TextKeepsItsBytesAndContentLengthCountsThem) {
  auto message = sample("14-message-utf8-japanese-emoji-link.sip");
  auto out = rewriteAll(*message, [](std::string text) { return "\xE2\x9A\xA0 " + text; });
  EXPECT_EQ(out->body().size(), 113u + 4u);
  EXPECT_EQ(out->header("Content-Length"), "117");
}

TEST(ImBody, MultipartMixedWithAnImagePart) {
  const std::string body =
      "--b1\r\nContent-Type: text/plain\r\n\r\nsee the picture\r\n"
      "--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
      "--b1--\r\n";
  ImBody im("MESSAGE", "multipart/mixed; boundary=\"b1\"", body, [](std::string_view) { return std::nullopt; });
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_EQ(im.partText(0), "see the picture");
  EXPECT_EQ(im.otherPartCount(), 1u);
  im.setPartText(0, "see the photo");
  EXPECT_EQ(im.renderBody(), std::string(body).replace(body.find("picture"), 7, "photo"));
}

TEST(MediaType, ParsesQuotedBoundaryWithSemicolons) {
  const MediaType media = parseMediaType("Multipart/Mixed; boundary=\"a;b=c\"; charset=UTF-8");
  EXPECT_EQ(media.type, "multipart/mixed");
  EXPECT_EQ(media.boundary, "a;b=c");
  EXPECT_EQ(media.charset, "utf-8");
}

// ---- adversarial bodies (issue 16) ----

ImBody direct(std::string_view contentType, std::string body) {
  return ImBody("MESSAGE", contentType, std::move(body),
                [](std::string_view) -> std::optional<std::string_view> { return std::nullopt; });
}

TEST(ImBodyAdversarial, LongBoundaryOverABodyThatAlmostRepeatsIt) {
  // A 4 KiB boundary of '-' over 300,000 '-': found without comparing the
  // whole delimiter at every '-'; the parts come out as they are.
  const std::string boundary = std::string(4095, '-') + "x";
  const std::string filler(300000, '-');
  const std::string body = "--" + boundary + "\r\nContent-Type: text/plain\r\n\r\n" + filler + "\r\n--" + boundary +
                           "\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--" + boundary + "--\r\n";
  ImBody im = direct("multipart/mixed; boundary=\"" + boundary + "\"", body);
  ASSERT_EQ(im.partCount(), 2u);
  EXPECT_EQ(im.partText(0), filler);
  EXPECT_EQ(im.partText(1), "second");
  EXPECT_EQ(im.partLocation(1), "multipart[1]");
}

TEST(ImBodyAdversarial, DelimiterSearchKeepsFindingEveryPart) {
  // A boundary that overlaps itself, and parts that hold prefixes of it.
  std::string body;
  for (int i = 0; i < 5; ++i) body += "--aab\r\n\r\n-aa-aa--a--aa" + std::to_string(i) + "\r\n";
  body += "--aab--\r\n";
  ImBody im = direct("multipart/mixed; boundary=aab", body);
  ASSERT_EQ(im.partCount(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(im.partText(i), "-aa-aa--a--aa" + std::to_string(i));
}

TEST(ImBodyAdversarial, HtmlOfAmpersandsReadsAsText) {
  // The plain text of an HTML-only message: 300,000 '&' without a ';', then
  // references, read as html::toText reads them.
  const std::string markup = std::string(300000, '&') + "<p>a &amp; b &lt;c&gt; &#65;&#x42; &a&amp; &#3&#67;</p>";
  EXPECT_EQ(direct("text/html", markup).plainText(), std::string(300000, '&') + "a & b <c> AB &a& &#3C\n");
  for (const std::string small : {"&", "&;", "&amp", "x&amp;y", "&&amp;&", "<br>&nbsp;", "&#xZZ;", "&#1234567890;"}) {
    EXPECT_EQ(direct("text/html", small).plainText(), html::toText(small)) << small;
  }
}

}  // namespace
}  // namespace sipwarden::im

// A broken ms-body copy must not throw (a fail-open chain would then pass
// the message unread): it is skipped and the body is still read.
TEST(ImBodyRegression, MsBodyThatIsNotBase64IsSkipped) {
  const std::string header = "text/plain; ms-body=\xf3\xf3\xf3hhhh\xf3*";
  sipwarden::im::ImBody im("MESSAGE", "text/plain", "visit http://evil.example", [&](std::string_view name) -> std::optional<std::string_view> {
    if (name == "Ms-IM-Format") return std::string_view(header);
    return std::nullopt;
  });
  EXPECT_EQ(im.plainText(), "visit http://evil.example");
  for (std::size_t i = 0; i < im.partCount(); ++i) EXPECT_EQ(im.partLocation(i), "body");
}

// The decoder gives up part-way, after the decoded text outgrew a short
// string's inline buffer: skipped. Found by im_body_fuzz as a leak in the
// clang build (this GCC build did not show it); the same input is in
// tests/corpus/fuzz/im_body_fuzz/ms-body-breaks-after-long-valid-start.
TEST(ImBodyRegression, MsBodyThatBreaksAfterALongValidStartIsSkipped) {
  const std::string header = "text/plain; ms-body=" + std::string(80, 'Q') + "*";
  sipwarden::im::ImBody im("MESSAGE", "text/plain", "visit http://evil.example", [&](std::string_view name) -> std::optional<std::string_view> {
    if (name == "Ms-IM-Format") return std::string_view(header);
    return std::nullopt;
  });
  EXPECT_EQ(im.plainText(), "visit http://evil.example");
  for (std::size_t i = 0; i < im.partCount(); ++i) EXPECT_EQ(im.partLocation(i), "body");
}
