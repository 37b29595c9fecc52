// The banner plugin through the real chain: the notice in every text wire
// form (plain, HTML, CPIM, multipart, Lync ms-body headers, the INVITE's
// embedded first message), the marker that stops a second hop, frequency,
// scope, and config errors.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>

#include "banner/banner_text.h"
#include "im/im_body.h"
#include "pipeline/loader.h"
#include "plugin_harness.h"
#include "sip/edit_list.h"
#include "sip/message.h"
#include "sipwarden/utf8.h"

namespace sipwarden::plugins {
namespace banner { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::pipeline {
namespace {

namespace banner = sipwarden::plugins::banner;

using test_support::readSample;

std::shared_ptr<const FilterChain> chainFrom(const std::string& json) {
  return test_support::chainWith(plugins::banner::descriptor(), json);
}

std::shared_ptr<const FilterChain> bannerChain(const std::string& options = "") {
  return chainFrom(R"([{"plugin": "banner", "text": "NOTICE")" + options + "}]");
}

std::string buildError(const std::string& json) { return test_support::chainError(plugins::banner::descriptor(), json); }

using test_support::counter;
using test_support::Outcome;

// Runs the request through the chain and, unless `finalCode` is 0, ends the
// transaction with that code (as the proxy does when the response comes).
Outcome run(const FilterChain& chain, const std::string& text, int finalCode = 200) {
  return test_support::run(chain, text, {.finalCode = finalCode});
}

std::string message(const std::string& from, const std::string& to, const std::string& body = "hello",
                    const std::string& contentType = "text/plain", const std::string& extra = "",
                    const std::string& toTag = "", const std::string& callId = "b1") {
  return "MESSAGE sip:" + to + " SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbn1\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:" + from + ">;tag=f1\r\n"
         "To: <sip:" + to + ">" + (toTag.empty() ? "" : ";tag=" + toTag) + "\r\n"
         "Call-ID: " + callId + "\r\n"
         "CSeq: 1 MESSAGE\r\n" + extra +
         "Content-Type: " + contentType + "\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// ---- the samples -------------------------------------------------------------

TEST(BannerSamples, PlainTextGetsTheNoticeOnItsOwnLine) {
  auto chain = bannerChain();
  const Outcome outcome = run(*chain, readSample("01-message-text-plain.sip"));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.body(), "NOTICE\r\nHi Bob, the stand-up moved to 10:30 today. Same room as last week.");
  EXPECT_TRUE(outcome.contentLengthRight());
  EXPECT_EQ(outcome.header("Content-Length"), "74");
  EXPECT_EQ(outcome.header("X-Sipwarden-Banner"), "sipwarden-banner");
  EXPECT_EQ(counter(*chain, "bannered"), 1u);
}

TEST(BannerSamples, PlainTextAtTheEnd) {
  auto chain = bannerChain(R"(, "position": "end")");
  const Outcome outcome = run(*chain, readSample("01-message-text-plain.sip"));
  EXPECT_EQ(outcome.body(), "Hi Bob, the stand-up moved to 10:30 today. Same room as last week.\r\nNOTICE");
  EXPECT_TRUE(outcome.contentLengthRight());
}

TEST(BannerSamples, HtmlGetsTheEscapedNoticeInsideTheBody) {
  auto chain = chainFrom(R"([{"plugin": "banner", "text": "<b>& \"quoted\""}])");
  const Outcome outcome = run(*chain, readSample("03-message-text-html-href.sip"));
  EXPECT_EQ(outcome.body(),
            "<html><body>&lt;b&gt;&amp; &quot;quoted&quot;<br/><p>Welcome aboard! Start with the <a "
            "href=\"http://intranet.example.com/wiki/Onboarding?team=ops&amp;lang=en\">onboarding page</a> before "
            "Monday.</p></body></html>");
  EXPECT_TRUE(outcome.contentLengthRight());
  auto end = chainFrom(R"([{"plugin": "banner", "text": "<b>&", "position": "end"}])");
  EXPECT_TRUE(run(*end, readSample("03-message-text-html-href.sip"))
                  .body()
                  .ends_with("before Monday.</p><br/>&lt;b&gt;&amp;</body></html>"));
}

TEST(BannerSamples, CpimWrappedTextKeepsItsCpimHeaders) {
  auto chain = bannerChain();
  const Outcome outcome = run(*chain, readSample("04-message-cpim-text-plain-link.sip"));
  EXPECT_NE(outcome.body().find("imdn.Message-ID: Qx7uP2mZ41\r\n"), std::string_view::npos);
  EXPECT_TRUE(outcome.body().ends_with(
      "Content-Type: text/plain;charset=UTF-8\r\n\r\nNOTICE\r\nNightly build artifacts: "
      "https://ci.example.com/job/nightly/812/artifacts"));
  EXPECT_TRUE(outcome.body().starts_with("From: Alice Liddell <im:alice@example.com>\r\n"));
  EXPECT_TRUE(outcome.contentLengthRight());
}

TEST(BannerSamples, MultipartAlternativeEveryPartBoundaryKept) {
  auto chain = chainFrom(R"([{"plugin": "banner", "text": "Archived & monitored"}])");
  const Outcome outcome = run(*chain, readSample("05-message-multipart-alternative.sip"));
  const std::string expected =
      "--alt-5b1e7c20\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\n"
      "Archived & monitored\r\nQ3 figures are on the portal: http://portal.example.com/finance/q3\r\n"
      "--alt-5b1e7c20\r\nContent-Type: text/html;charset=UTF-8\r\n\r\n"
      "Archived &amp; monitored<br/><p>Q3 figures are on the <a href=\"http://portal.example.com/finance/q3\">"
      "portal</a>.</p>\r\n"
      "--alt-5b1e7c20--\r\n";
  EXPECT_EQ(outcome.body(), expected);
  EXPECT_TRUE(outcome.contentLengthRight());
}

TEST(BannerSamples, LyncMsImFormatHeaderIsBanneredToo) {
  auto chain = chainFrom(R"([{"plugin": "banner", "text": "Ext <notice>"}])");
  const Outcome outcome = run(*chain, readSample("06-lync-message-ms-im-format.sip"));
  const auto parts = outcome.parts();
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "Ext <notice>\r\nDesign review deck: http://share.example.com/sites/design/review-2026.pptx");
  EXPECT_TRUE(parts[1].starts_with("Ext &lt;notice&gt;<br/><SPAN style=")) << parts[1];
  EXPECT_TRUE(outcome.header("Ms-IM-Format")->starts_with("text/html; charset=UTF-8; ms-body="));
  EXPECT_TRUE(outcome.contentLengthRight());
}

TEST(BannerSamples, IsComposingIsUntouched) {
  auto chain = bannerChain();
  const std::string text = readSample("07-message-iscomposing.sip");
  const Outcome outcome = run(*chain, text);
  EXPECT_FALSE(outcome.edited);
  EXPECT_EQ(outcome.wire, text);
  EXPECT_EQ(counter(*chain, "bannered"), 0u);
}

TEST(BannerSamples, InviteEmbeddedFirstMessageIsBanneredInItsHeaders) {
  auto chain = bannerChain();
  const Outcome outcome = run(*chain, readSample("08-lync-im-session-invite.sip"));
  const auto parts = outcome.parts();
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "NOTICE\r\nHi Bob, do you have a minute for the budget review?");
  EXPECT_TRUE(parts[1].starts_with("NOTICE<br/><SPAN")) << parts[1];
  EXPECT_EQ(outcome.header("X-Sipwarden-Banner"), "sipwarden-banner");
  EXPECT_TRUE(outcome.body().starts_with("v=0\r\n")) << "the SDP is untouched";
  EXPECT_TRUE(outcome.contentLengthRight());
}

TEST(BannerSamples, FileTransferInvitesAreUntouched) {
  auto chain = bannerChain();
  for (const char* name : {"11-lync-filetransfer-invite-setup-msi.sip", "12-rfc5547-invite-photo-jpg.sip"}) {
    const std::string text = readSample(name);
    EXPECT_EQ(run(*chain, text).wire, text) << name;
  }
}

TEST(BannerSamples, Utf8TextAndNoticeStayWholeCharacters) {
  auto chain = chainFrom(R"([{"plugin": "banner", "text": "\u6ce8\u610f \ud83d\udd12 external"}])");
  const Outcome outcome = run(*chain, readSample("14-message-utf8-japanese-emoji-link.sip"));
  const std::string notice = "\xE6\xB3\xA8\xE6\x84\x8F \xF0\x9F\x94\x92 external";
  EXPECT_TRUE(outcome.body().starts_with(notice + "\r\n"));
  EXPECT_EQ(outcome.body().size(), 113u + notice.size() + 2);
  EXPECT_TRUE(outcome.contentLengthRight());
  EXPECT_TRUE(utf8::isValid(outcome.body()));
  auto end = chainFrom(R"([{"plugin": "banner", "text": "\u6ce8\u610f", "position": "end"}])");
  const Outcome atEnd = run(*end, readSample("14-message-utf8-japanese-emoji-link.sip"));
  EXPECT_TRUE(atEnd.body().ends_with("\xF0\x9F\x93\x84\r\n\xE6\xB3\xA8\xE6\x84\x8F"));
  EXPECT_TRUE(utf8::isValid(atEnd.body()));
}

// ---- the marker ---------------------------------------------------------------

TEST(BannerMarker, AMessageAlreadyBanneredIsLeftAlone) {
  auto chain = bannerChain();
  const std::string text = message("alice@example.com", "bob@example.com", "hello", "text/plain",
                                   "X-Sipwarden-Banner: sipwarden-banner\r\n");
  const Outcome outcome = run(*chain, text);
  EXPECT_EQ(outcome.wire, text);
  EXPECT_EQ(counter(*chain, "skipped.marker"), 1u);
}

TEST(BannerMarker, ASecondHopDoesNotBannerTwice) {
  auto chain = bannerChain();
  const Outcome first = run(*chain, readSample("01-message-text-plain.sip"));
  const Outcome second = run(*chain, first.wire);
  EXPECT_EQ(second.wire, first.wire);
  auto twoInOneChain = chainFrom(R"([{"plugin": "banner", "text": "ONE"}, {"plugin": "banner", "text": "TWO"}])");
  EXPECT_TRUE(run(*twoInOneChain, readSample("01-message-text-plain.sip")).body().starts_with("ONE\r\nHi Bob"));
}

TEST(BannerMarker, AnotherMarkerIsAnotherBanner) {
  auto chain = bannerChain(R"(, "marker": "legal-2026")");
  const std::string text = message("alice@example.com", "bob@example.com", "hello", "text/plain",
                                   "X-Sipwarden-Banner: sipwarden-banner\r\n");
  const Outcome outcome = run(*chain, text);
  EXPECT_EQ(outcome.body(), "NOTICE\r\nhello");
  EXPECT_EQ(outcome.out->values("X-Sipwarden-Banner").size(), 2u);
  EXPECT_EQ(run(*chain, outcome.wire).body(), "NOTICE\r\nhello");
  const std::string marked = message("alice@example.com", "bob@example.com", "hello", "text/plain",
                                     "X-Sipwarden-Banner: other, LEGAL-2026\r\n");
  EXPECT_EQ(run(*chain, marked).wire, marked);
}

// ---- frequency ------------------------------------------------------------------

TEST(BannerFrequency, EveryMessageByDefault) {
  auto chain = bannerChain();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "NOTICE\r\nhello");
  }
}

TEST(BannerFrequency, OncePerConversationPerRecipient) {
  auto chain = bannerChain(R"(, "frequency": "once_per_conversation")");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "hello");
  EXPECT_EQ(run(*chain, message("alice@EXAMPLE.com", "bob@example.com")).body(), "hello") << "hosts compare lower-case";
  EXPECT_EQ(run(*chain, message("alice@example.com", "carol@example.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("bob@example.com", "alice@example.com")).body(), "NOTICE\r\nhello")
      << "Alice has not seen the notice yet";
  EXPECT_EQ(run(*chain, message("bob@example.com", "alice@example.com")).body(), "hello");
  EXPECT_EQ(counter(*chain, "bannered"), 3u);
  EXPECT_EQ(counter(*chain, "skipped.conversation"), 3u);
}

TEST(BannerFrequency, InDialogMessagesShareTheDialog) {
  auto chain = bannerChain(R"(, "frequency": "once_per_conversation")");
  const auto inDialog = [](const std::string& callId) {
    return message("alice@example.com", "bob@example.com", "hello", "text/plain", "", "t2", callId);
  };
  EXPECT_EQ(run(*chain, inDialog("dlg-1")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, inDialog("dlg-1")).body(), "hello");
  EXPECT_EQ(run(*chain, inDialog("dlg-2")).body(), "NOTICE\r\nhello") << "a new session is a new conversation";
}

TEST(BannerFrequency, LyncSessionInviteThenInDialogMessage) {
  auto chain = bannerChain(R"(, "frequency": "once_per_conversation")");
  EXPECT_EQ(run(*chain, readSample("08-lync-im-session-invite.sip")).parts()[0].substr(0, 6), "NOTICE");
  const Outcome inDialog = run(*chain, readSample("09-lync-in-dialog-message.sip"));
  EXPECT_FALSE(inDialog.edited) << "Bob saw the notice in the INVITE's first message";
}

TEST(BannerFrequency, ARejectedMessageDoesNotUseUpTheNotice) {
  auto chain = bannerChain(R"(, "frequency": "once_per_conversation")");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com"), 480).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com"), 200).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "hello");
}

TEST(BannerFrequency, NonMessagesDoNotCountAsTheFirstMessage) {
  auto chain = bannerChain(R"(, "frequency": "once_per_conversation")");
  const std::string composing = "<?xml version=\"1.0\"?><isComposing><state>active</state></isComposing>";
  run(*chain, message("alice@example.com", "bob@example.com", composing, "application/im-iscomposing+xml"));
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "NOTICE\r\nhello");
}

TEST(BannerFrequency, ConversationMemoryExpiresWhenIdleAndIsBounded) {
  using namespace std::chrono_literals;
  banner::ConversationMemory memory(std::chrono::seconds(1800), 3);
  const auto t0 = std::chrono::system_clock::time_point{} + 100000s;
  memory.remember("a", t0);
  EXPECT_TRUE(memory.seen("a", t0 + 29min));
  EXPECT_TRUE(memory.seen("a", t0 + 58min)) << "use refreshes the entry";
  EXPECT_FALSE(memory.seen("a", t0 + 89min)) << "idle for 31 minutes";
  EXPECT_EQ(memory.size(), 0u);
  memory.remember("a", t0);
  memory.remember("b", t0);
  memory.remember("c", t0);
  EXPECT_TRUE(memory.seen("a", t0));
  memory.remember("d", t0);
  EXPECT_EQ(memory.size(), 3u);
  EXPECT_FALSE(memory.seen("b", t0)) << "the least recently used goes first";
  EXPECT_TRUE(memory.seen("a", t0));
  memory.forget("a");
  EXPECT_FALSE(memory.seen("a", t0));
  for (int i = 0; i < 10000; ++i) memory.remember("k" + std::to_string(i), t0 + std::chrono::seconds(i));
  EXPECT_EQ(memory.size(), 3u);
}

// ---- scope ------------------------------------------------------------------------

TEST(BannerScope, ExternalSender) {
  auto chain = bannerChain(R"(, "scope": "external_sender", "internal_domains": ["example.com", "Contoso.COM"])");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "hello");
  EXPECT_EQ(run(*chain, message("alice@eu.sales.example.com", "bob@example.com")).body(), "hello");
  EXPECT_EQ(run(*chain, message("carol@contoso.com", "bob@example.com")).body(), "hello");
  EXPECT_EQ(run(*chain, message("dave@fabrikam.com", "bob@example.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("eve@notexample.com", "bob@example.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("eve@example.com.evil.net", "bob@example.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("alice@example.com", "dave@fabrikam.com")).body(), "hello");
}

TEST(BannerScope, ExternalRecipient) {
  auto chain = bannerChain(R"(, "scope": "external_recipient", "internal_domains": "example.com")");
  EXPECT_EQ(run(*chain, message("alice@example.com", "dave@fabrikam.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "hello");
  EXPECT_EQ(run(*chain, message("dave@fabrikam.com", "bob@example.com")).body(), "hello");
  EXPECT_EQ(run(*chain, readSample("13-rfc5547-invite-invoice-pdf-exe.sip")).edited, false);
}

TEST(BannerScope, InternalOnly) {
  auto chain = bannerChain(R"(, "scope": "internal", "internal_domains": ["*.example.com", "example.com"])");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@hq.example.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("alice@example.com", "dave@fabrikam.com")).body(), "hello");
  EXPECT_EQ(run(*chain, message("dave@fabrikam.com", "alice@example.com")).body(), "hello");
}

TEST(BannerScope, AllIsTheDefault) {
  auto chain = bannerChain(R"(, "internal_domains": ["example.com"])");
  EXPECT_EQ(run(*chain, message("dave@fabrikam.com", "bob@example.com")).body(), "NOTICE\r\nhello");
  EXPECT_EQ(run(*chain, message("alice@example.com", "bob@example.com")).body(), "NOTICE\r\nhello");
}

// ---- insertion details --------------------------------------------------------------

TEST(BannerText, HtmlWithoutBodyTagAndBodyWithAttributes) {
  using banner::Position;
  EXPECT_EQ(banner::insertHtml("<p>x</p>", "N", Position::Start), "N<br/><p>x</p>");
  EXPECT_EQ(banner::insertHtml("<p>x</p>", "N", Position::End), "<p>x</p><br/>N");
  EXPECT_EQ(banner::insertHtml("<BODY class=\"a>b\" >x</BODY>", "N", Position::Start),
            "<BODY class=\"a>b\" >N<br/>x</BODY>");
  EXPECT_EQ(banner::insertHtml("<BODY>x</Body >", "N", Position::End), "<BODY>x<br/>N</Body >");
  EXPECT_EQ(banner::insertHtml("<bodyguard>x", "N", Position::Start), "N<br/><bodyguard>x");
  EXPECT_EQ(banner::insertHtml("", "N", Position::Start), "N<br/>");
}

TEST(BannerText, PlainTextLineBreaksFollowTheText) {
  using banner::Position;
  EXPECT_EQ(banner::insertPlain("a\nb", "N", Position::Start), "N\na\nb");
  EXPECT_EQ(banner::insertPlain("a\r\nb", "N", Position::End), "a\r\nb\r\nN");
  EXPECT_EQ(banner::insertPlain("a\n", "N", Position::End), "a\nN");
  EXPECT_EQ(banner::insertPlain("", "N", Position::Start), "N");
  EXPECT_EQ(banner::insertPlain("\xEF\xBB\xBFhi", "N", Position::Start), "\xEF\xBB\xBFN\r\nhi");
}

TEST(BannerText, NoticeAsHtml) {
  EXPECT_EQ(banner::noticeAsHtml("<b>&"), "&lt;b&gt;&amp;");
  EXPECT_EQ(banner::noticeAsHtml("line 1\nline 2\r\nline 3"), "line 1<br/>line 2<br/>line 3");
}

TEST(BannerText, MultiLineNoticeInPlainText) {
  auto chain = chainFrom(R"([{"plugin": "banner", "text": "Line one\nLine two"}])");
  EXPECT_EQ(run(*chain, message("a@example.com", "b@example.com")).body(), "Line one\nLine two\r\nhello");
}

// ---- config ----------------------------------------------------------------------------

TEST(BannerConfig, ErrorsNameTheKey) {
  EXPECT_EQ(buildError(R"([{"plugin": "banner"}])"), "plugins[0].text: the notice text is required");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": ""}])"), "plugins[0].text: expected a non-empty notice");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": 5}])"), "plugins[0].text: expected a string");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "position": "middle"}])"),
            "plugins[0].position: expected start|end");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "frequency": "daily"}])"),
            "plugins[0].frequency: expected every_message|once_per_conversation");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "scope": "external"}])"),
            "plugins[0].scope: expected all|external_sender|external_recipient|internal");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "scope": "external_sender"}])"),
            "plugins[0].internal_domains: required when scope is external_sender");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "scope": "internal", "internal_domains": []}])"),
            "plugins[0].internal_domains: required when scope is internal");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "internal_domains": ["example.com", "a b"]}])"),
            "plugins[0].internal_domains[1]: expected a domain name such as example.com");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "marker": "two words"}])"),
            "plugins[0].marker: expected a token (letters, digits and -.!%*_+`'~)");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "marker": ""}])"),
            "plugins[0].marker: expected a token (letters, digits and -.!%*_+`'~)");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "max_conversations": 0}])"),
            "plugins[0].max_conversations: expected an integer from 1 to 10000000");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "colour": "red"}])"), "plugins[0].colour: unknown key");
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "position": "end", "frequency": "once_per_conversation",
      "scope": "external_recipient", "internal_domains": ["example.com"], "marker": "m1",
      "conversation_idle_seconds": 600, "max_conversations": 5000}])"), "");
}

// ---- limits and adversarial text (issue 16) ----------------------------------

TEST(BannerLimits, TextOverMaxBodyBytesFollowsTheFailMode) {
  const std::string text(100, 'x');
  auto open = bannerChain(R"(, "max_body_bytes": 99)");
  const Outcome passed = run(*open, message("alice@example.com", "bob@example.com", text));
  EXPECT_TRUE(passed.verdict.isContinue());
  EXPECT_EQ(passed.body(), text) << "fail open: delivered without the notice";
  EXPECT_FALSE(passed.header("X-Sipwarden-Banner").has_value()) << "nor marked as bannered";
  EXPECT_EQ(counter(*open, "over_limit.body"), 1u);
  EXPECT_EQ(open->entries()[0].counters->errors.load(), 1u);

  auto closed = bannerChain(R"(, "max_body_bytes": 99, "fail_mode": "closed", "fail_code": 513)");
  const Outcome refused = run(*closed, message("alice@example.com", "bob@example.com", text));
  EXPECT_EQ(refused.verdict.code(), 513);
  ASSERT_EQ(refused.verdict.headers().size(), 1u);
  EXPECT_EQ(refused.verdict.headers()[0].second, "399 sipwarden \"banner failed\"");

  // At the limit the notice goes in.
  const Outcome bannered =
      run(*bannerChain(R"(, "max_body_bytes": 100)"), message("a@example.com", "b@example.com", text));
  EXPECT_EQ(bannered.body(), "NOTICE\r\n" + text);
  EXPECT_EQ(buildError(R"([{"plugin": "banner", "text": "x", "max_body_bytes": 0}])"),
            "plugins[0].max_body_bytes: expected an integer from 1 to 1073741824");
}

TEST(BannerLimits, AConversationFailedOpenStillGetsTheNoticeNextTime) {
  auto chain = bannerChain(R"(, "frequency": "once_per_conversation", "max_body_bytes": 10)");
  const Outcome large = run(*chain, message("alice@example.com", "bob@example.com", std::string(11, 'x')));
  EXPECT_EQ(large.body(), std::string(11, 'x'));
  const Outcome next = run(*chain, message("alice@example.com", "bob@example.com", "hi"));
  EXPECT_EQ(next.body(), "NOTICE\r\nhi");
}

TEST(BannerAdversarial, HtmlOfManyTagsAndNoBody) {
  // 300,000 '<' and tags that are not <body>: one pass to place the notice.
  std::string markup;
  for (int i = 0; i < 100000; ++i) markup += "<b<";
  markup += "<bodyx>text";
  const Outcome start = run(*bannerChain(), message("a@example.com", "b@example.com", markup, "text/html"));
  EXPECT_EQ(start.body(), "NOTICE<br/>" + markup);
  const Outcome end =
      run(*bannerChain(R"(, "position": "end")"), message("a@example.com", "b@example.com", markup, "text/html"));
  EXPECT_EQ(end.body(), markup + "<br/>NOTICE");
}

}  // namespace
}  // namespace sipwarden::pipeline
