// url_filter: links in every wire form of an instant message, the shared
// samples with their expected findings, and the ways links hide (hxxp,
// invisible characters, homoglyph and punycode hosts, HTML references, file
// types behind %-escapes and double extensions), driven through the real
// chain and CoreExchange as the proxy drives them.
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "im/decoding.h"
#include "im/im_body.h"
#include "pipeline/loader.h"
#include "plugin_harness.h"
#include "sip/edit_list.h"
#include "sipwarden/utf8.h"

namespace sipwarden::plugins {
namespace url_filter { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::pipeline {
namespace {

// ---------------------------------------------------------------- helpers

// The url_filter block with `options` (JSON members without braces).
std::string block(const std::string& options) {
  return R"([{"plugin": "url_filter")" + (options.empty() ? "" : ", " + options) + "}]";
}

std::shared_ptr<const FilterChain> chainWith(const std::string& options = "") {
  return test_support::chainWith(plugins::url_filter::descriptor(), block(options), ChainSettings{{SIPWARDEN_TEST_PLUGIN_DIR}, ""});
}

std::string configError(const std::string& options) {
  return test_support::chainError(plugins::url_filter::descriptor(), block(options), ChainSettings{{SIPWARDEN_TEST_PLUGIN_DIR}, ""});
}

std::string sipRequest(const std::string& contentType, const std::string& body, const std::string& method = "MESSAGE",
                       const std::string& extraHeaders = "") {
  return method +
         " sip:bob@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKuf1\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:alice@example.com>;tag=a\r\n"
         "To: <sip:bob@example.com>\r\n"
         "Call-ID: uf-1\r\n"
         "CSeq: 1 " +
         method + "\r\n" + extraHeaders + "Content-Type: " + contentType +
         "\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string plain(const std::string& text) { return sipRequest("text/plain;charset=UTF-8", text); }
std::string htmlMessage(const std::string& text) { return sipRequest("text/html;charset=UTF-8", text); }

using test_support::readSample;

std::string base64(std::string_view data) { return im::encodeTransfer(im::TransferEncoding::Base64, data); }

// url_filter's questions about a run, on top of the harness's: the
// plugin's counters as they stood after it, and its rules.
struct Outcome : test_support::Outcome {
  std::map<std::string, std::uint64_t> counters;

  bool blocked() const { return verdict.kind() == Verdict::Kind::Reply && verdict.code() == 403; }
  bool hasRule(const std::string& rule) const { return tagged("rule", "url_filter:" + rule); }
  std::uint64_t counter(const std::string& name) const {
    const auto found = counters.find(name);
    return found == counters.end() ? 0 : found->second;
  }
};

Outcome run(const FilterChain& chain, const std::string& text) {
  Outcome outcome;
  static_cast<test_support::Outcome&>(outcome) = test_support::run(chain, text);
  {
    auto& counters = *chain.entries()[0].counters;
    std::lock_guard<std::mutex> hold(counters.namedLock);
    outcome.counters = counters.named;
  }
  if (outcome.out) {
    EXPECT_TRUE(outcome.contentLengthRight()) << outcome.wire;
  }
  return outcome;
}

Outcome runWith(const std::string& options, const std::string& text) { return run(*chainWith(options), text); }

// The first text part after a defang pass (the tests' usual question).
std::string defanged(const std::string& text, const std::string& options = "") {
  const Outcome outcome = runWith(R"("action": "defang")" + (options.empty() ? "" : ", " + options), plain(text));
  EXPECT_TRUE(outcome.verdict.isContinue()) << outcome.verdict.reason() << " " << outcome.warning();
  return outcome.parts().empty() ? "" : outcome.parts()[0];
}

// Whether the default (block) configuration refuses the text as a link.
bool blocksAsLink(const std::string& text, const std::string& options = "") {
  const Outcome outcome = runWith(options, plain(text));
  return outcome.blocked();
}

// ---------------------------------------------------------------- config

TEST(UrlFilterConfig, DefaultsBuildAndWatchMessageAndInvite) {
  auto chain = chainWith();
  ASSERT_EQ(chain->entries().size(), 1u);
  EXPECT_EQ(chain->entries()[0].methods, MethodSet::Message | MethodSet::Invite);
  const std::string options = sipRequest("text/plain", "http://evil.example.net/", "OPTIONS");
  const Outcome outcome = run(*chain, options);
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.trace[0].verdict, "skipped");
}

TEST(UrlFilterConfig, ErrorsNameTheKey) {
  EXPECT_EQ(configError(R"("action": "quarantine")"), "plugins[0].action: expected block|defang|warn");
  EXPECT_EQ(configError(R"("colour": "blue")"), "plugins[0].colour: unknown key");
  EXPECT_EQ(configError(R"("notice": 7)"), "plugins[0].notice: expected a string");
  EXPECT_EQ(configError(R"("max_urls": -1)"), "plugins[0].max_urls: expected an integer from 0 to 1000000");
  EXPECT_EQ(configError(R"("max_urls": "many")"), "plugins[0].max_urls: expected an integer");
  EXPECT_EQ(configError(R"("prefixes": "http")"), "");  // a single string is a list of one
  EXPECT_EQ(configError(R"("prefixes": ["http:", ""])"), "plugins[0].prefixes: '' is empty");
  EXPECT_EQ(configError(R"("prefixes": ["ht tp:"])"),
            "plugins[0].prefixes: 'ht tp:' holds a space, a quote or an angle bracket");
  EXPECT_EQ(configError(R"("prefixes": ["1http:"])"),
            "plugins[0].prefixes: '1http:' is not a scheme (expected letters, digits, '+', '-' or '.' before the ':')");
  EXPECT_EQ(configError(R"("prefixes": ["*"])"),
            "plugins[0].prefixes: '*' is not a host start (expected a name such as \"www*\" or \"ftp.\")");
  EXPECT_EQ(configError(R"("prefixes": [7])"), "plugins[0].prefixes[0]: expected a string");
  EXPECT_EQ(configError(R"("allow_intranet": ["10.0.0.0/33"])"),
            "plugins[0].allow_intranet: '10.0.0.0/33' is not a domain, an IP address or a CIDR network");
  EXPECT_EQ(configError(R"("allow_intranet": ["exаmple.com"])"),
            "plugins[0].allow_intranet: 'exаmple.com' is not a domain, an IP address or a CIDR network");
  EXPECT_EQ(configError(R"("allow_intranet": ["example..com"])"),
            "plugins[0].allow_intranet: 'example..com' is not a domain, an IP address or a CIDR network");
  EXPECT_EQ(configError(R"("allow_intranet": ["fd00::/129"])"),
            "plugins[0].allow_intranet: 'fd00::/129' is not a domain, an IP address or a CIDR network");
  EXPECT_EQ(configError(R"("block_file_extensions": [".tar.gz"])"),
            "plugins[0].block_file_extensions: '.tar.gz' is not a file extension (expected one like \".exe\"; "
            "only the last extension of a name counts)");
  EXPECT_EQ(configError(R"("block_file_extensions": ["none", ".exe"])"),
            "plugins[0].block_file_extensions: 'none' cannot be combined with extensions");
  EXPECT_EQ(configError(R"("allow_intranet": ["example.com", "*.corp.example.net", "10.0.0.0/8", "fd00::/8",
                                              "192.0.2.7", "2001:db8::1"])"),
            "");
}

// ---------------------------------------------------------------- actions

TEST(UrlFilterAction, BlockRepliesForbiddenWithWarningAndTag) {
  const Outcome outcome = runWith("", plain("Look: http://evil.example.net/landing"));
  ASSERT_TRUE(outcome.blocked());
  EXPECT_EQ(outcome.verdict.reason(), "Forbidden");
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"url_filter: links are not allowed\"");
  EXPECT_TRUE(outcome.hasRule("block"));
  EXPECT_EQ(outcome.counter("blocked.links"), 1u);
}

TEST(UrlFilterAction, TextWithoutLinksPassesUntouched) {
  const std::string message = readSample("01-message-text-plain.sip");
  for (const char* action : {"block", "defang", "warn"}) {
    const Outcome outcome = runWith(std::string(R"("action": ")") + action + "\"", message);
    EXPECT_TRUE(outcome.verdict.isContinue()) << action;
    EXPECT_EQ(outcome.wire, message) << action;
    EXPECT_TRUE(outcome.tags.empty()) << action;
  }
}

TEST(UrlFilterAction, DefangPutsUnderscoreBeforeSchemeAndWww) {
  const Outcome outcome =
      runWith(R"("action": "defang")", plain("a http://x.example.net/ b www.example.org/c d sip:bob@example.net"));
  ASSERT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.parts()[0], "a _http://x.example.net/ b _www.example.org/c d _sip:bob@example.net");
  EXPECT_TRUE(outcome.hasRule("defang"));
  EXPECT_EQ(outcome.counter("defanged"), 1u);
  EXPECT_EQ(outcome.counter("defanged.links"), 3u);
}

TEST(UrlFilterAction, DefangWithNoticeInPlainAndHtml) {
  const std::string notice = R"(Links "defanged" <by policy> & co.)";
  const Outcome outcome = runWith(R"("action": "defang", "notice": "Links \"defanged\" <by policy> & co.")",
                                  readSample("05-message-multipart-alternative.sip"));
  ASSERT_TRUE(outcome.verdict.isContinue());
  ASSERT_EQ(outcome.parts().size(), 2u);
  EXPECT_EQ(outcome.parts()[0], notice + "\r\nQ3 figures are on the portal: _http://portal.example.com/finance/q3");
  EXPECT_EQ(outcome.parts()[1],
            "Links &quot;defanged&quot; &lt;by policy&gt; &amp; co.<br/><p>Q3 figures are on the "
            "<a href=\"_http://portal.example.com/finance/q3\">portal</a>.</p>");
}

TEST(UrlFilterAction, WarnLeavesLinksAndAddsTheNotice) {
  const Outcome outcome = runWith(R"("action": "warn")", plain("see http://x.example.net/"));
  ASSERT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(
      outcome.parts()[0],
      "Caution: this message contains links. Open them only if you trust the sender.\r\nsee http://x.example.net/");
  EXPECT_TRUE(outcome.hasRule("warn"));
  EXPECT_EQ(outcome.counter("warned"), 1u);
  const Outcome custom = runWith(R"("action": "warn", "notice": "[external link]")", plain("see www.example.org"));
  EXPECT_EQ(custom.parts()[0], "[external link]\r\nsee www.example.org");
}

TEST(UrlFilterAction, NoticeGoesAfterBodyTagAndByteOrderMarkInTheTextsLineStyle) {
  const std::string options = R"("action": "warn", "notice": "Careful:\nexternal links")";
  EXPECT_EQ(runWith(options, htmlMessage("<html><BODY class=\"x\"><p>www.example.org</p></BODY></html>")).body(),
            "<html><BODY class=\"x\">Careful:<br/>external links<br/><p>www.example.org</p></BODY></html>");
  EXPECT_EQ(runWith(options, plain("\xEF\xBB\xBFline one\nwww.example.org\n")).parts()[0],
            "\xEF\xBB\xBF"
            "Careful:\nexternal links\nline one\nwww.example.org\n");
}

TEST(UrlFilterAction, LinksInsideADefangedLinkAreDefangedToo) {
  // Once the outer link is broken, a client could make the inner one clickable.
  EXPECT_EQ(defanged("go http://a.example.net/r?u=http://evil.example.net/x now"),
            "go _http://a.example.net/r?u=_http://evil.example.net/x now");
  EXPECT_EQ(defanged("call tel:sip:bob@example.net"), "call _tel:_sip:bob@example.net");
  EXPECT_EQ(defanged("https://a.example.net/?next=www.evil.example.net&x=hxxp://b.example.net"),
            "_https://a.example.net/?next=_www.evil.example.net&x=_hxxp://b.example.net");
  EXPECT_EQ(defanged("file://server/x?\\\\evil\\share"), "_file://server/x?_\\\\evil\\share");
}

TEST(UrlFilterAction, RewritingTwiceChangesNothingMore) {
  auto chain = chainWith(R"("action": "defang", "notice": "[links defanged]")");
  const Outcome first = run(*chain, plain("see http://x.example.net/?u=http://y.example.net and www.example.org, "
                                          "\\\\server\\share and tel:sip:x@example.net"));
  ASSERT_EQ(first.parts().size(), 1u);
  const Outcome second = run(*chain, first.wire);
  EXPECT_EQ(second.wire, first.wire);
  const Outcome html = run(*chain, readSample("05-message-multipart-alternative.sip"));
  EXPECT_EQ(run(*chain, html.wire).wire, html.wire);
  const Outcome relative = run(*chain, htmlMessage(R"(<a href="page.html">x</a> <a href="//evil.example.net">y</a>)"));
  EXPECT_EQ(relative.body(), R"([links defanged]<br/><a href="_page.html">x</a> <a href="_//evil.example.net">y</a>)");
  EXPECT_EQ(run(*chain, relative.wire).wire, relative.wire);
  EXPECT_EQ(second.counter("defanged"), 1u);  // the first run's: nothing was left to defang
}

TEST(UrlFilterAction, NotAnInstantMessagePassesUntouched) {
  for (const char* name : {"07-message-iscomposing.sip", "08-lync-im-session-invite.sip",
                           "11-lync-filetransfer-invite-setup-msi.sip", "12-rfc5547-invite-photo-jpg.sip"}) {
    const std::string message = readSample(name);
    const Outcome outcome = runWith("", message);
    EXPECT_TRUE(outcome.verdict.isContinue()) << name;
    EXPECT_EQ(outcome.wire, message) << name;
  }
}

// ---------------------------------------------------------------- wire forms

TEST(UrlFilterWire, PlainTextContentLengthFollows) {
  const Outcome outcome = runWith(R"("action": "defang")", plain("go http://evil.example.net/x now"));
  EXPECT_EQ(outcome.body(), "go _http://evil.example.net/x now");
  EXPECT_EQ(outcome.out->header("Content-Length"), "33");
}

TEST(UrlFilterWire, HtmlHrefIsEntityDecodedBeforeTheHostIsJudged) {
  const std::string body = R"(<a href="http://intranet.example.com/w?a=1&amp;b=2">wiki</a>)";
  EXPECT_TRUE(runWith(R"("allow_intranet": ["example.com"])", htmlMessage(body)).verdict.isContinue());
  // "&#64;" is '@': the host is evil.example.net, not example.com.
  const std::string hidden = R"(<a href="http://intranet.example.com&#64;evil.example.net/">wiki</a>)";
  EXPECT_TRUE(runWith(R"("allow_intranet": ["example.com"])", htmlMessage(hidden)).blocked());
  const Outcome outcome = runWith(R"("action": "defang")", htmlMessage(body));
  EXPECT_EQ(outcome.body(), R"(<a href="_http://intranet.example.com/w?a=1&amp;b=2">wiki</a>)");
}

TEST(UrlFilterWire, CpimWrappedText) {
  const Outcome outcome = runWith(R"("action": "defang")", readSample("04-message-cpim-text-plain-link.sip"));
  ASSERT_EQ(outcome.parts().size(), 1u);
  EXPECT_EQ(outcome.parts()[0], "Nightly build artifacts: _https://ci.example.com/job/nightly/812/artifacts");
  EXPECT_NE(outcome.body().find("imdn.Message-ID: Qx7uP2mZ41\r\n"), std::string::npos);
}

TEST(UrlFilterWire, MultipartAlternativeBothPartsKeepTheBoundary) {
  const Outcome outcome = runWith(R"("action": "defang")", readSample("05-message-multipart-alternative.sip"));
  EXPECT_EQ(outcome.body(),
            "--alt-5b1e7c20\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\n"
            "Q3 figures are on the portal: _http://portal.example.com/finance/q3\r\n"
            "--alt-5b1e7c20\r\nContent-Type: text/html;charset=UTF-8\r\n\r\n"
            "<p>Q3 figures are on the <a href=\"_http://portal.example.com/finance/q3\">portal</a>.</p>\r\n"
            "--alt-5b1e7c20--\r\n");
}

TEST(UrlFilterWire, LyncMsImFormatHeaderIsRewrittenAndReencoded) {
  const Outcome outcome = runWith(R"("action": "defang")", readSample("06-lync-message-ms-im-format.sip"));
  ASSERT_TRUE(outcome.verdict.isContinue());
  ASSERT_EQ(outcome.parts().size(), 2u);
  EXPECT_EQ(outcome.parts()[0], "Design review deck: _http://share.example.com/sites/design/review-2026.pptx");
  EXPECT_NE(outcome.parts()[1].find("<a href=\"_http://share.example.com/sites/design/review-2026.pptx\">"
                                  "_http://share.example.com/sites/design/review-2026.pptx</a>"),
            std::string::npos)
      << outcome.parts()[1];
  EXPECT_TRUE(outcome.out->header("Ms-IM-Format")->starts_with("text/html; charset=UTF-8; ms-body="));
}

TEST(UrlFilterWire, InviteWithEmbeddedFirstMessage) {
  std::string invite = readSample("08-lync-im-session-invite.sip");
  const std::string old = "SGkgQm9iLCBkbyB5b3UgaGF2ZSBhIG1pbnV0ZSBmb3IgdGhlIGJ1ZGdldCByZXZpZXc/";
  invite.replace(invite.find(old), old.size(), base64("Budget: http://evil.example.net/budget"));
  const std::size_t imFormat = invite.find("Ms-IM-Format:");
  invite.erase(imFormat, invite.find("\r\n", imFormat) + 2 - imFormat);

  const Outcome blocked = runWith("", invite);
  EXPECT_TRUE(blocked.blocked());
  const Outcome outcome = runWith(R"("action": "defang")", invite);
  ASSERT_TRUE(outcome.verdict.isContinue());
  ASSERT_EQ(outcome.parts().size(), 1u);
  EXPECT_EQ(outcome.parts()[0], "Budget: _http://evil.example.net/budget");
  EXPECT_NE(outcome.out->header("Ms-Text-Format")->find(base64("Budget: _http://evil.example.net/budget")),
            std::string_view::npos);
}

// ---------------------------------------------------------------- samples

TEST(UrlFilterSamples, S02ThreeLinksPunctuationLeftOutside) {
  const Outcome outcome = runWith(R"("action": "defang")", readSample("02-message-text-plain-links.sip"));
  EXPECT_EQ(outcome.counter("defanged.links"), 3u);
  EXPECT_EQ(outcome.parts()[0],
            "Release notes: _http://docs.example.com/release/4.2/notes.html, open bugs: "
            "_https://tracker.example.org/issues?project=hop&state=open and a mirror at "
            "_www.fabrikam.com/downloads/hop.");
  EXPECT_TRUE(runWith("", readSample("02-message-text-plain-links.sip")).blocked());
}

TEST(UrlFilterSamples, S03HrefOnlyLinkPassesWhenIntranet) {
  const std::string message = readSample("03-message-text-html-href.sip");
  const Outcome blocked = runWith("", message);
  EXPECT_TRUE(blocked.blocked());
  EXPECT_EQ(blocked.counter("blocked.links"), 1u);
  const Outcome allowed = runWith(R"("allow_intranet": ["example.com"])", message);
  EXPECT_TRUE(allowed.verdict.isContinue());
  EXPECT_EQ(allowed.wire, message);
  EXPECT_EQ(allowed.counter("allowed.intranet"), 1u);
  const Outcome defanged = runWith(R"("action": "defang")", message);
  EXPECT_NE(defanged.body().find(
                "<a href=\"_http://intranet.example.com/wiki/Onboarding?team=ops&amp;lang=en\">onboarding page</a>"),
            std::string::npos);
}

TEST(UrlFilterSamples, S04CpimLinkOnlyContentLengthChanges) {
  const std::string message = readSample("04-message-cpim-text-plain-link.sip");
  const Outcome outcome = runWith(R"("action": "defang")", message);
  EXPECT_EQ(outcome.counter("defanged.links"), 1u);
  EXPECT_EQ(outcome.out->header("Content-Length"), "343");
  EXPECT_EQ(outcome.body().size(), 343u);
  EXPECT_TRUE(runWith(R"("allow_intranet": ["ci.example.com"])", message).verdict.isContinue());
  EXPECT_TRUE(runWith(R"("allow_intranet": ["other.example.com"])", message).blocked());
}

TEST(UrlFilterSamples, S05SameLinkInBothPartsCountsOnceForMaxUrls) {
  const std::string message = readSample("05-message-multipart-alternative.sip");
  const Outcome outcome = runWith(R"("action": "defang", "max_urls": 1)", message);
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.counter("defanged.links"), 2u);
}

TEST(UrlFilterSamples, S06PptxIsNotBlockedAndAllThreeCopiesAreFound) {
  const std::string message = readSample("06-lync-message-ms-im-format.sip");
  const Outcome outcome = runWith("", message);
  EXPECT_TRUE(outcome.blocked());
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"url_filter: links are not allowed\"");  // not a file type
  EXPECT_EQ(runWith(R"("action": "defang")", message).counter("defanged.links"), 3u);   // body, href, anchor text
  EXPECT_TRUE(runWith(R"("allow_intranet": ["example.com"])", message).verdict.isContinue());
}

TEST(UrlFilterSamples, S09InDialogMessageOneLink) {
  const std::string message = readSample("09-lync-in-dialog-message.sip");
  const Outcome outcome = runWith(R"("action": "defang")", message);
  EXPECT_EQ(outcome.counter("defanged.links"), 1u);
  EXPECT_EQ(outcome.parts()[0], "Slides for the review: _https://share.example.com/sites/finance/budget-2027.pptx");
  EXPECT_EQ(runWith(R"("allow_intranet": ["share.example.com"])", message).wire, message);
}

TEST(UrlFilterSamples, S14LinkAfterFullWidthColonUtf8Kept) {
  const std::string message = readSample("14-message-utf8-japanese-emoji-link.sip");
  const Outcome outcome = runWith(R"("action": "defang")", message);
  EXPECT_EQ(outcome.counter("defanged.links"), 1u);
  EXPECT_EQ(outcome.body().size(), 114u);
  EXPECT_EQ(outcome.out->header("Content-Length"), "114");
  EXPECT_NE(outcome.body().find("\xEF\xBC\x9A_https://docs.example.com/minutes/2026-11-24 "), std::string::npos);
  EXPECT_TRUE(utf8::isValid(outcome.body()));
  const Outcome warned = runWith(R"("action": "warn", "notice": "⚠ リンクに注意")", message);
  EXPECT_TRUE(warned.parts()[0].starts_with("⚠ リンクに注意\r\n明日の"));
  EXPECT_TRUE(utf8::isValid(warned.body()));
}

// ---------------------------------------------------------------- detection

TEST(UrlFilterDetect, SentencePunctuationIsNotPartOfTheLink) {
  EXPECT_EQ(defanged("(see http://a.example.net/x)."), "(see _http://a.example.net/x).");
  EXPECT_EQ(defanged("wiki: https://en.wikipedia.org/wiki/Foo_(bar), ok"),
            "wiki: _https://en.wikipedia.org/wiki/Foo_(bar), ok");
  EXPECT_EQ(defanged("\"http://a.example.net/q?x=1\"!"), "\"_http://a.example.net/q?x=1\"!");
  EXPECT_EQ(defanged("“http://a.example.net/”; 'www.example.org'?"), "“_http://a.example.net/”; '_www.example.org'?");

  // The file-type check sees the link without the punctuation.
  EXPECT_TRUE(runWith(R"("action": "warn")", plain("get http://a.example.net/setup.exe!")).blocked());
  EXPECT_TRUE(runWith(R"("action": "warn")", plain("get http://a.example.net/setup.exe).")).blocked());
}

TEST(UrlFilterDetect, WordsThatAreNotLinks) {
  for (const char* text :
       {"meet at 10:30, e.g. in room 4.2", "Note: it works. Re: your mail", "news: we shipped v1.2.3",
        "mail bob@example.com", "www is short for world wide web", "the file notes.html", "ratio 3:2 and http: alone",
        "a_http://example.net/x was defanged already"}) {
    EXPECT_FALSE(blocksAsLink(text)) << text;
  }
}

TEST(UrlFilterDetect, ObfuscatedSchemes) {
  EXPECT_EQ(defanged("hxxp://evil.example.net/a and HXXPS://evil.example.net/b"),
            "_hxxp://evil.example.net/a and _HXXPS://evil.example.net/b");
  EXPECT_EQ(defanged("ttp://evil.example.net/c"), "_ttp://evil.example.net/c");
  EXPECT_EQ(defanged("x-http://evil.example.net/d"), "x-_http://evil.example.net/d");
  // Once "Http:" is broken, "\\\\evil..." would be a UNC path of its own.
  EXPECT_EQ(defanged("Http:\\\\evil.example.net\\e"), "_Http:_\\\\evil.example.net\\e");
  // hxxp counts as http: not a link when http: is not a prefix.
  EXPECT_FALSE(blocksAsLink("hxxp://evil.example.net/a", R"("prefixes": ["mailto:"])"));
}

TEST(UrlFilterDetect, InvisibleCharactersInsideLinksAreSeenThroughAndRemoved) {
  EXPECT_EQ(defanged("x ht\u200Btp://evil.exa\u200Cmple.net/pa\u00ADth y"), "x _http://evil.example.net/path y");
  EXPECT_EQ(defanged("w\u2060ww.evil.example.net/\uFEFFx"), "_www.evil.example.net/x");
  EXPECT_EQ(defanged("\u200Dhttp://a.example.net"), "\u200D_http://a.example.net");  // before the link: kept
  EXPECT_TRUE(blocksAsLink("h\u200Bxxp://evil.example.net"));
  // An allowed host stays allowed when written with a soft hyphen.
  EXPECT_FALSE(blocksAsLink("http://intra\u00ADnet.example.com/x", R"("allow_intranet": ["example.com"])"));
  // A zero-width space cannot glue an allowed name to another host.
  EXPECT_TRUE(blocksAsLink("http://example.com\u200B.evil.net/x", R"("allow_intranet": ["example.com"])"));
}

TEST(UrlFilterDetect, InvisibleCharacterReferencesInHtml) {
  const Outcome outcome =
      runWith(R"("action": "defang")", htmlMessage("<p>ht&#8203;tp://evil.example.net/a&shy;b</p>"));
  EXPECT_EQ(outcome.body(), "<p>_http://evil.example.net/ab</p>");
  EXPECT_TRUE(runWith("", htmlMessage(R"(<a href="h&#116;tp&colon;//evil.example.net">x</a>)")).blocked());
  EXPECT_TRUE(runWith("", htmlMessage(R"h(<a href="jav&#x09;ascript:alert(1)">x</a>)h")).blocked());
}

TEST(UrlFilterDetect, InternationalHostsAreLinks) {
  EXPECT_TRUE(blocksAsLink("visit xn--80ak6aa92e.com today", R"("prefixes": [])"));
  EXPECT_TRUE(blocksAsLink("visit exаmple.com today"));  // Cyrillic а, no scheme
  EXPECT_TRUE(blocksAsLink("visit пример.рф today"));
  EXPECT_TRUE(blocksAsLink("visit https://exаmple.com/login", R"("prefixes": [])"));
  EXPECT_FALSE(blocksAsLink("visit example.com today"));  // an ASCII bare host is not a prefix link
  EXPECT_EQ(defanged("visit exаmple.com/login"), "visit _exаmple.com/login");
}

TEST(UrlFilterDetect, HomoglyphDoesNotMatchTheAllowList) {
  const std::string allow = R"("allow_intranet": ["example.com"])";
  EXPECT_FALSE(blocksAsLink("http://example.com/login", allow));
  EXPECT_FALSE(blocksAsLink("http://wiki.EXAMPLE.com./login", allow));
  EXPECT_TRUE(blocksAsLink("http://exаmple.com/login", allow));  // Cyrillic а
  EXPECT_TRUE(blocksAsLink("http://xn--exmple-4nf.com/login", allow));
  EXPECT_TRUE(blocksAsLink("http://ex%D0%B0mple.com/login", allow));
  EXPECT_TRUE(blocksAsLink("http://example.com.evil.net/", allow));
  EXPECT_TRUE(blocksAsLink("http://notexample.com/", allow));
  EXPECT_TRUE(blocksAsLink("http://example.com@evil.net/", allow));
  EXPECT_TRUE(blocksAsLink("http://evil.net\\@example.com/", allow));
  EXPECT_TRUE(blocksAsLink("http://evil.net#@example.com/", allow));
  EXPECT_TRUE(blocksAsLink("mailto:bob@evil.net,alice@example.com", allow));
  EXPECT_FALSE(blocksAsLink("mailto:alice@example.com", allow));
  EXPECT_FALSE(blocksAsLink("sip:alice@example.com", allow));
  EXPECT_TRUE(blocksAsLink("tel:+15551234567", allow));  // no host: never intranet
}

TEST(UrlFilterDetect, CidrAllowListIpv4) {
  const std::string allow = R"("allow_intranet": ["10.0.0.0/8", "192.0.2.7"])";
  EXPECT_FALSE(blocksAsLink("http://10.1.2.3/wiki", allow));
  EXPECT_FALSE(blocksAsLink("http://192.0.2.7:8080/", allow));
  EXPECT_FALSE(blocksAsLink("http://0x0a.1.2.3/", allow));  // 10.1.2.3 as a browser reads it
  EXPECT_FALSE(blocksAsLink("http://167838211/", allow));   // 10.1.2.3 as one number
  EXPECT_TRUE(blocksAsLink("http://11.1.2.3/", allow));
  EXPECT_TRUE(blocksAsLink("http://192.0.2.8/", allow));
  EXPECT_TRUE(blocksAsLink("http://0x0b000001/", allow));  // 11.0.0.1
  EXPECT_TRUE(blocksAsLink("http://10.1.2.3.evil.net/", allow));
  EXPECT_TRUE(blocksAsLink("http://10.1.2.300/", allow));
}

TEST(UrlFilterDetect, CidrAllowListIpv6) {
  const std::string allow = R"("allow_intranet": ["fd00::/8", "10.0.0.0/8"])";
  EXPECT_FALSE(blocksAsLink("http://[fd12:3456::1]/wiki", allow));
  EXPECT_FALSE(blocksAsLink("http://[FD00::1]:8443/", allow));
  EXPECT_FALSE(blocksAsLink("http://[::ffff:10.1.2.3]/", allow));  // IPv4-mapped
  EXPECT_TRUE(blocksAsLink("http://[2001:db8::1]/", allow));
  EXPECT_TRUE(blocksAsLink("http://[fe80::1]/", allow));
}

TEST(UrlFilterDetect, HtmlLinksAreReadFromAttributesNotFromOtherMarkup) {
  EXPECT_TRUE(runWith("", htmlMessage(R"h(<a href="javascript:alert(1)">x</a>)h")).blocked());
  EXPECT_TRUE(runWith("", htmlMessage(R"(<a href='//evil.example.net/x'>x</a>)")).blocked());
  EXPECT_TRUE(runWith("", htmlMessage(R"(<A HREF=http://evil.example.net>x</A>)")).blocked());
  EXPECT_TRUE(runWith("", htmlMessage(R"(<img src="http://tracker.example.net/p.gif">)")).blocked());
  EXPECT_TRUE(
      runWith("", htmlMessage(R"h(<span style="background:url(http://evil.example.net/b.png)">x</span>)h")).blocked());
  EXPECT_TRUE(runWith("", htmlMessage(R"(<p>http://exa<b></b>mple.net/x</p>)")).blocked());
  // Not links: a namespace, an in-page anchor, a style without url().
  EXPECT_TRUE(runWith("", htmlMessage(R"(<body xmlns="http://www.w3.org/1999/xhtml"><a href="#top">top</a></body>)"))
                  .verdict.isContinue());
  EXPECT_TRUE(runWith("", htmlMessage(R"(<SPAN style="font-family:Segoe UI; font-size:10pt;">hi &amp; bye</SPAN>)"))
                  .verdict.isContinue());
  // Without "href" in the prefixes, an href counts only by its scheme.
  const std::string noHref = R"("prefixes": ["http:", "www*"])";
  EXPECT_TRUE(runWith(noHref, htmlMessage(R"h(<a href="javascript:alert(1)">x</a>)h")).verdict.isContinue());
  EXPECT_TRUE(runWith(noHref, htmlMessage(R"(<a href="http://evil.example.net">x</a>)")).blocked());
  // Defanging an attribute and the text of the same anchor.
  const Outcome outcome =
      runWith(R"("action": "defang")", htmlMessage(R"(<a href="http://e.example.net/">http://e.example.net/</a>)"));
  EXPECT_EQ(outcome.body(), R"(<a href="_http://e.example.net/">_http://e.example.net/</a>)");
}

TEST(UrlFilterDetect, CustomPrefixes) {
  const std::string httpsOnly = R"("prefixes": ["https:"])";
  EXPECT_FALSE(blocksAsLink("http://a.example.net/ www.example.org", httpsOnly));
  EXPECT_TRUE(blocksAsLink("https://a.example.net/", httpsOnly));
  EXPECT_TRUE(blocksAsLink("see ftp.example.net/pub", R"("prefixes": ["ftp."])"));
  EXPECT_TRUE(blocksAsLink("see www2.example.net", R"("prefixes": ["www*"])"));
  EXPECT_TRUE(blocksAsLink("open ms-settings:privacy", R"("prefixes": ["ms-settings:"])"));
  EXPECT_TRUE(blocksAsLink("open \\\\fileserver\\share\\doc.txt", R"("prefixes": ["file:"])"));
  EXPECT_FALSE(blocksAsLink("open \\\\fileserver\\share\\doc.txt", R"("prefixes": ["http:"])"));
  EXPECT_TRUE(blocksAsLink("go to intranet/wiki now", R"("prefixes": ["intranet/"])"));
}

TEST(UrlFilterDetect, LinkRightAfterMultiByteCharactersNeverSplitsOne) {
  const std::string text = "Привет:http://a.example.net/путь😀 и 資料はwww.example.org/資料です";
  const std::string out = defanged(text);
  EXPECT_EQ(out, "Привет:_http://a.example.net/путь😀 и 資料は_www.example.org/資料です");
  EXPECT_TRUE(utf8::isValid(out));
}

TEST(UrlFilterDetect, PathologicalTextStaysLinear) {
  // Each would cost quadratic time with a naive rescan or bracket count.
  std::string colons;
  std::string brackets = "see http://a.example.net/";
  std::string dots;
  std::string schemes;
  for (int i = 0; i < 20000; ++i) {
    colons += "a:";
    brackets += ")";
    dots += "a.";
    schemes += "x-";
  }
  schemes += "http://evil.example.net/";
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(runWith(R"("action": "defang")", plain(colons)).blocked());
  EXPECT_EQ(defanged(brackets).substr(0, 30), "see _http://a.example.net/))))");
  EXPECT_FALSE(runWith(R"("action": "defang")", plain(dots + " " + dots)).blocked());
  EXPECT_TRUE(blocksAsLink(schemes));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

// ---------------------------------------------------------------- file types

TEST(UrlFilterExtension, BlockedWhateverTheActionWithItsOwnRule) {
  for (const char* action : {"block", "defang", "warn"}) {
    const Outcome outcome =
        runWith(std::string(R"("action": ")") + action + "\"", plain("get http://dl.example.net/setup.exe"));
    ASSERT_TRUE(outcome.blocked()) << action;
    EXPECT_EQ(outcome.warning(), "399 sipwarden \"url_filter: link to a blocked file type (.exe)\"");
    EXPECT_TRUE(outcome.hasRule("extension"));
    EXPECT_EQ(outcome.counter("blocked.extension"), 1u);
  }
}

TEST(UrlFilterExtension, SeesThroughEncodingDoubleExtensionsAndTrailingDots) {
  const std::string warn = R"("action": "warn")";
  for (const char* text :
       {"http://dl.example.net/setup%2Eexe", "http://dl.example.net/setup%252eEXE",
        "http://dl.example.net/report.pdf.exe", "http://dl.example.net/a.exe.?x=1", "http://dl.example.net/a.exe%20%20",
        "http://dl.example.net/a.exe%00.jpg", "http://dl.example.net/a.exe::$DATA",
        "http://dl.example.net/a.exe;jsessionid=1", "http://dl.example.net/get.php?name=tool.msi&x=1",
        "http://dl.example.net/a.exe#frag", "https://dl.example.net/a.ex\u200Be", "ftp://dl.example.net/pub/tool.bat",
        "file:///C:/Users/Public/run.cmd", "\\\\fileserver\\share\\setup.msi", "smb://fileserver.corp/x.vbs",
        "資料はdl.example.net/a.exeです"}) {
    const Outcome outcome = runWith(warn, plain(std::string("see ") + text));
    EXPECT_TRUE(outcome.blocked()) << text;
    EXPECT_TRUE(outcome.hasRule("extension")) << text;
  }
  for (const char* text : {"http://dl.example.net/report.pdf", "http://dl.example.net/exe/",
                           "http://dl.example.net/a.executive", "http://dl.example.net/?q=which+exe"}) {
    EXPECT_FALSE(runWith(warn, plain(std::string("see ") + text)).blocked()) << text;
  }
}

TEST(UrlFilterExtension, BareHostsAndRelativeHrefsAreCheckedWithoutAnyPrefix) {
  // Lync KB 4487822: a link that no prefix matched was not checked at all.
  const std::string noPrefixes = R"("prefixes": [], "action": "warn")";
  EXPECT_TRUE(runWith(noPrefixes, plain("grab example.com/x.exe")).blocked());
  EXPECT_TRUE(runWith(noPrefixes, plain("grab 198.51.100.23/tools/x.scr")).blocked());
  EXPECT_TRUE(runWith(noPrefixes, htmlMessage(R"(<a href="tools/setup.exe">setup</a>)")).blocked());
  EXPECT_FALSE(runWith(noPrefixes, plain("the file setup.exe is on the share")).blocked());
  EXPECT_FALSE(runWith(noPrefixes, plain("grab example.com/x.pdf")).blocked());
}

TEST(UrlFilterExtension, IntranetLinksToBlockedTypesAreStillBlocked) {
  EXPECT_TRUE(
      runWith(R"("allow_intranet": ["example.com"])", plain("http://intranet.example.com/setup.msi")).blocked());
}

TEST(UrlFilterExtension, ConfiguredListsAndTurningItOff) {
  const std::string zip = R"("action": "warn", "block_file_extensions": ["zip", "*.ISO"])";
  EXPECT_TRUE(runWith(zip, plain("http://dl.example.net/a.zip")).blocked());
  EXPECT_TRUE(runWith(zip, plain("http://dl.example.net/a.iso")).blocked());
  EXPECT_FALSE(runWith(zip, plain("http://dl.example.net/a.exe")).blocked());
  const std::string both = R"("action": "warn", "block_file_extensions": ["default", "zip"])";
  EXPECT_TRUE(runWith(both, plain("http://dl.example.net/a.zip")).blocked());
  EXPECT_TRUE(runWith(both, plain("http://dl.example.net/a.exe")).blocked());
  for (const char* off : {R"([])", R"("none")", R"("false")", "false"}) {
    const Outcome outcome = runWith(std::string(R"("action": "defang", "block_file_extensions": )") + off,
                                    plain("http://dl.example.net/a.exe"));
    EXPECT_TRUE(outcome.verdict.isContinue()) << off;
    EXPECT_EQ(outcome.parts()[0], "_http://dl.example.net/a.exe") << off;
  }
  for (const char* on : {R"("true")", "true"}) {
    EXPECT_TRUE(runWith(std::string(R"("action": "warn", "block_file_extensions": )") + on,
                        plain("http://a.example.net/a.exe"))
                    .blocked())
        << on;
  }
}

// ---------------------------------------------------------------- max_urls

TEST(UrlFilterMaxUrls, MoreDistinctLinksThanTheLimitBlock) {
  const std::string options = R"("action": "warn", "max_urls": 2)";
  const Outcome outcome = runWith(options, plain("http://a.example.net http://b.example.net www.c.example.net"));
  ASSERT_TRUE(outcome.blocked());
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"url_filter: too many links (3, at most 2)\"");
  EXPECT_TRUE(outcome.hasRule("max_urls"));
  EXPECT_EQ(outcome.counter("blocked.max_urls"), 1u);
  EXPECT_FALSE(runWith(options, plain("http://a.example.net http://a.example.net http://a.example.net")).blocked());
  EXPECT_FALSE(runWith(options, plain("http://a.example.net http://b.example.net")).blocked());
  // Intranet links count too: the limit is about the message, not the policy.
  EXPECT_TRUE(
      runWith(R"("max_urls": 1, "allow_intranet": ["example.net"])", plain("http://a.example.net http://b.example.net"))
          .blocked());
}

TEST(UrlFilterMaxUrls, EveryRuleThatFiredIsTagged) {
  const Outcome outcome = runWith(R"("max_urls": 1)", plain("http://a.example.net/x.exe http://b.example.net"));
  ASSERT_TRUE(outcome.blocked());
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"url_filter: link to a blocked file type (.exe)\"");
  EXPECT_TRUE(outcome.hasRule("extension"));
  EXPECT_TRUE(outcome.hasRule("max_urls"));
  EXPECT_TRUE(outcome.hasRule("block"));
}

TEST(UrlFilterMaxUrls, ManyLinksInOneMessage) {
  std::string text;
  for (int i = 0; i < 1500; ++i) text += "http://h" + std::to_string(i) + ".example.net/ ";
  const Outcome outcome = runWith(R"("action": "defang")", plain(text));
  ASSERT_TRUE(outcome.blocked());
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"url_filter: too many links (1500, at most 1000)\"");
}

// ---------------------------------------------------------------- limits (issue 16)

using test_support::repeated;

bool failedClosed(const Outcome& outcome) { return outcome.failedClosed("url_filter"); }

TEST(UrlFilterLimits, ConfigErrorsNameTheKey) {
  EXPECT_EQ(configError(R"("max_body_bytes": 0)"),
            "plugins[0].max_body_bytes: expected an integer from 1 to 1073741824");
  EXPECT_EQ(configError(R"("max_body_bytes": "1M")"), "plugins[0].max_body_bytes: expected an integer");
  EXPECT_EQ(configError(R"("max_links": 0)"), "plugins[0].max_links: expected an integer from 1 to 1000000");
  EXPECT_EQ(configError(R"("max_links": 10, "max_body_bytes": 4096)"), "");
}

TEST(UrlFilterLimits, TextOverMaxBodyBytesFollowsTheFailMode) {
  // 40 bytes of text with a link the block action would refuse: not read.
  const std::string text = "see http://evil.example.net/ right now!!";
  ASSERT_EQ(text.size(), 40u);
  const Outcome open = runWith(R"("max_body_bytes": 39)", plain(text));
  EXPECT_TRUE(open.verdict.isContinue());
  EXPECT_EQ(open.trace[0].verdict, "error (open)");
  EXPECT_EQ(open.trace[0].reason, "text of 40 bytes, over max_body_bytes (39)");
  EXPECT_EQ(open.counter("over_limit.body"), 1u);
  EXPECT_EQ(open.body(), text) << "fail open passes the message as it came";

  const Outcome closed = runWith(R"("max_body_bytes": 39, "fail_mode": "closed")", plain(text));
  EXPECT_TRUE(failedClosed(closed)) << closed.verdict.code() << " " << closed.warning();
  EXPECT_EQ(closed.trace[0].verdict, "error (closed)");

  // At the limit the text is read, and the link refused.
  EXPECT_TRUE(runWith(R"("max_body_bytes": 40, "fail_mode": "closed")", plain(text)).blocked());
}

TEST(UrlFilterLimits, EveryTextPartCountsTowardsMaxBodyBytes) {
  // Two 20-byte parts: 40 bytes in all.
  const std::string body =
      "--b\r\nContent-Type: text/plain\r\n\r\n01234567890123456789\r\n"
      "--b\r\nContent-Type: text/html\r\n\r\n<b>4567890123456</b>\r\n--b--\r\n";
  const std::string request = sipRequest("multipart/alternative;boundary=b", body);
  EXPECT_EQ(runWith(R"("max_body_bytes": 39)", request).trace[0].verdict, "error (open)");
  EXPECT_EQ(runWith(R"("max_body_bytes": 40)", request).trace[0].verdict, "continue");
}

TEST(UrlFilterLimits, MoreLinksThanMaxLinksFollowTheFailMode) {
  // Five links to defang, three allowed: the last two would go undefanged.
  const std::string text = "http://a.example.net http://b.example.net http://c.example.net "
                           "http://d.example.net http://e.example.net";
  const Outcome open = runWith(R"("action": "defang", "max_links": 3)", plain(text));
  EXPECT_TRUE(open.verdict.isContinue());
  EXPECT_EQ(open.trace[0].verdict, "error (open)");
  EXPECT_EQ(open.trace[0].reason, "more than max_links (3) links");
  EXPECT_EQ(open.counter("over_limit.links"), 1u);
  EXPECT_EQ(open.body(), text) << "nothing half-defanged";

  EXPECT_TRUE(failedClosed(runWith(R"("action": "defang", "max_links": 3, "fail_mode": "closed")", plain(text))));
  // Exactly max_links links are all read and defanged.
  const Outcome atLimit = runWith(R"("action": "defang", "max_links": 5, "fail_mode": "closed")", plain(text));
  EXPECT_TRUE(atLimit.verdict.isContinue());
  EXPECT_EQ(atLimit.counter("defanged.links"), 5u);
}

TEST(UrlFilterLimits, ARefusalAmongTheLinksReadStands) {
  const std::string text = "http://a.example.net/ http://b.example.net/ http://c.example.net/ http://d.example.net/";
  // block: the first link refuses the message, fail mode open or not.
  const Outcome blocked = runWith(R"("max_links": 2)", plain(text));
  EXPECT_TRUE(blocked.blocked());
  EXPECT_EQ(blocked.warning(), "399 sipwarden \"url_filter: links are not allowed\"");
  // A blocked file type among the links read.
  EXPECT_TRUE(runWith(R"("action": "defang", "max_links": 2)", plain("x.example.net/setup.exe " + text)).blocked());
  // Past max_urls already.
  EXPECT_TRUE(runWith(R"("action": "defang", "max_urls": 1, "max_links": 2)", plain(text)).blocked());
  // A blocked file type after the limit is not seen: the fail mode decides.
  const Outcome unseen =
      runWith(R"("action": "defang", "max_links": 2, "fail_mode": "closed")", plain(text + " x.example.net/setup.exe"));
  EXPECT_TRUE(failedClosed(unseen));
}

TEST(UrlFilterLimits, HtmlLinksCountTowardsMaxLinks) {
  const std::string html = R"(<a href="http://a.example.net/">a</a> <img src="http://b.example.net/i.png"> )"
                           R"(<a href="http://c.example.net/">c</a>)";
  EXPECT_EQ(runWith(R"("action": "defang", "max_links": 2)", htmlMessage(html)).trace[0].verdict, "error (open)");
  EXPECT_EQ(runWith(R"("action": "defang", "max_links": 4)", htmlMessage(html)).trace[0].verdict, "continue");
}

// ---------------------------------------------------------------- adversarial bodies (issue 16)

TEST(UrlFilterAdversarial, OneLinkAsLongAsTheBody) {
  // 900 KiB of "http://a.": one link, refused.
  const std::string text = repeated("http://a.", 100000);
  const Outcome blocked = runWith("", plain(text));
  EXPECT_TRUE(blocked.blocked());
  // Defanged: the link and every link start inside it get their '_'.
  const Outcome defanged = runWith(R"("action": "defang")", plain(text));
  ASSERT_TRUE(defanged.verdict.isContinue()) << defanged.verdict.reason();
  EXPECT_EQ(defanged.body(), repeated("_http://a.", 100000));
}

TEST(UrlFilterAdversarial, ManyShortLinksStopAtTheLimit) {
  // 100,000 links to files ("a.co/x"): the default limit of 10,000 stops
  // the search, and no refusal is among them.
  const std::string text = repeated("a.co/x ", 100000);
  const Outcome open = runWith("", plain(text));
  EXPECT_TRUE(open.verdict.isContinue());
  EXPECT_EQ(open.trace[0].reason, "more than max_links (10000) links");
  EXPECT_TRUE(failedClosed(runWith(R"("fail_mode": "closed")", plain(text))));
  // With the limit raised, all of them are read (and none is a file type).
  const Outcome all = runWith(R"("max_links": 100000, "fail_mode": "closed")", plain(text));
  EXPECT_TRUE(all.verdict.isContinue()) << all.verdict.code();
  EXPECT_TRUE(runWith(R"("max_links": 100001)", plain(text + "a.co/x.exe")).blocked());
}

TEST(UrlFilterAdversarial, AmpersandsWithoutSemicolonsInHtml) {
  // 300,000 '&' without a ';': each was a search for ';' to the end of the
  // part. The link after them is still found, and references still decode.
  const std::string html = repeated("&", 300000) + R"( <a href="http&colon;//evil.example.net/">x</a>)";
  const Outcome outcome = runWith("", htmlMessage(html));
  EXPECT_TRUE(outcome.blocked());
  // Named references still decode; a name longer than 16 characters is text.
  EXPECT_TRUE(runWith("", htmlMessage(R"(<a href="http&colon;//e.example.net/">x</a>)")).blocked());
  EXPECT_FALSE(runWith("", htmlMessage(R"(<p>http&colonxxxxxxxxxxxxxxxxxxxx;//e.example.net</p>)")).blocked());
}

TEST(UrlFilterAdversarial, LongHostUnderAnAllowedDomain) {
  // 600 labels under example.com: longer than any entry, still its subdomain.
  const std::string host = repeated("a.", 600) + "example.com";
  EXPECT_FALSE(runWith(R"("allow_intranet": ["example.com"])", plain("http://" + host + "/x")).blocked());
  EXPECT_TRUE(runWith(R"("allow_intranet": ["example.com"])", plain("http://" + host + ".evil.net/x")).blocked());
}

TEST(UrlFilterAdversarial, ALongAllowListIsLookedUpByName) {
  std::string entries;
  for (int i = 0; i < 5000; ++i) entries += (i ? ", \"" : "\"") + ("d" + std::to_string(i)) + ".example.org\"";
  const std::string options = R"("allow_intranet": [)" + entries + "]";
  EXPECT_FALSE(runWith(options, plain("http://www.d4999.example.org/ http://d0.example.org")).blocked());
  EXPECT_TRUE(runWith(options, plain("http://d5000.example.org/")).blocked());
  EXPECT_TRUE(runWith(options, plain("http://example.org/")).blocked());
  EXPECT_TRUE(runWith(options, plain("http://xd1.example.org/")).blocked());
}

// ---------------------------------------------------------------- links as a browser reads them (issue 17)

std::string withSubject(const std::string& subjects, const std::string& text = "hi") {
  return sipRequest("text/plain;charset=UTF-8", text, "MESSAGE", subjects);
}

TEST(UrlFilterBrowser, FullWidthAndIdeographicDotsSeparateLabels) {
  const std::string allow = R"("allow_intranet": ["contoso.com"])";
  for (const char* text :
       {"http://contoso.com\uFF0Eevil.example/", "http://contoso.com\u3002evil.example/",
        "http://contoso.com\uFF61evil.example/", "see www.contoso.com\uFF0Eevil.example now",
        "http://contoso.com\uFF0E\u200Bevil.example/",  // an invisible character after the dot changes nothing
        "http://contoso.com\uFF0E\uFF45vil.example/", "http://contoso%2Ecom.evil.example/",
        "http://contoso.com%EF%BC%8Eevil.example/"}) {
    EXPECT_TRUE(blocksAsLink(text, allow)) << text;
  }
  // The same folding lets the real intranet host through.
  for (const char* text : {"http://wiki\uFF0Econtoso\u3002com/x", "http://\uFF43\uFF4F\uFF4E\uFF54\uFF4F\uFF53\uFF4F.com/",
                           "http://wiki%EF%BC%8Econtoso.com/", "http://contoso.com\uFF0E/x",
                           // In prose an ideographic full stop ends the sentence, not the host.
                           "\u8cc7\u6599\u306fhttp://wiki.contoso.com\u3002\u3088\u308d\u3057\u304f"}) {
    EXPECT_FALSE(blocksAsLink(text, allow)) << text;
  }
  // A full-width hyphen-minus joins labels too: "corp" alone is not "corp-evil.example".
  EXPECT_TRUE(blocksAsLink("http://corp\uFF0Devil.example/", R"("allow_intranet": ["corp"])"));
  // Full-width digits are an IPv4 address.
  EXPECT_FALSE(blocksAsLink("http://\uFF11\uFF10.1.2.3/", R"("allow_intranet": ["10.0.0.0/8"])"));
  // In HTML: an attribute value is a URL (always folded), and a tag does not split a host.
  EXPECT_TRUE(runWith(allow, htmlMessage("<a href=\"http://contoso.com\uFF0Eevil.example/\">x</a>")).blocked());
  EXPECT_TRUE(runWith(allow, htmlMessage("<p>http://contoso.com&#xFF0E;evil.example/</p>")).blocked());
  EXPECT_TRUE(runWith(allow, htmlMessage("<p>http://contoso.com\uFF0E<b>evil</b>.example/</p>")).blocked());
}

TEST(UrlFilterBrowser, CharactersABrowserMapsIntoAHostDoNotEndTheLink) {
  // Circled, squared and mathematical-style letters map to ASCII letters in
  // a browser's host: the link runs on, and its host is not ASCII.
  const std::string allow = R"("allow_intranet": ["contoso.com"])";
  for (const char* text : {"http://contoso.com.\u24D4vil.example/", "http://contoso.com\u24D4vil.example/",
                           "http://contoso.com.\u2170nfo.example/", "see www.contoso.com.\u24D4vil.example/x"}) {
    EXPECT_TRUE(blocksAsLink(text, allow)) << text;
  }
  // An enumeration before a bare host is not part of it.
  EXPECT_FALSE(blocksAsLink("\u2460 contoso.com/x \u2461example.com/y"));
}

TEST(UrlFilterBrowser, FullWidthSchemesAreSchemes) {
  EXPECT_TRUE(blocksAsLink("see \uFF48\uFF54\uFF54\uFF50://evil.example/ now"));
  EXPECT_TRUE(blocksAsLink("see \uFF48\uFF54\uFF54\uFF50\uFF53\uFF1A\uFF0F\uFF0F\uFF45\uFF56\uFF49\uFF4C\uFF0E"
                           "\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45/x"));
  EXPECT_TRUE(blocksAsLink("\uFF4A\uFF41\uFF56\uFF41\uFF53\uFF43\uFF52\uFF49\uFF50\uFF54:alert(1)"));
  EXPECT_EQ(defanged("see \uFF48\uFF54\uFF54\uFF50://evil.example/ now"), "see _\uFF48\uFF54\uFF54\uFF50://evil.example/ now");
  EXPECT_EQ(defanged("see \uFF37\uFF37\uFF37\uFF0E\uFF45\uFF56\uFF49\uFF4C\uFF0E\uFF43\uFF4F\uFF4D now"),
            "see _\uFF37\uFF37\uFF37\uFF0E\uFF45\uFF56\uFF49\uFF4C\uFF0E\uFF43\uFF4F\uFF4D now");
  // A full-width colon in prose is not a scheme's.
  EXPECT_FALSE(blocksAsLink("\u8b70\u984c\uFF1A\u4e88\u7b97\u3068\uFF21\uFF22\uFF23\uFF1A\u78ba\u8a8d"));
}

TEST(UrlFilterBrowser, DefaultPrefixesCoverSchemesThatRunCodeOrDeliverFiles) {
  for (const char* text :
       {"javascript:alert(document.cookie)", "click javascript:void(0) now", "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/svg+xml,x", "vbscript:msgbox(1)", "smb://evil.example/share/a.txt",
        "ms-msdt:/id PCWDiagnostic /skip force", "search-ms:query=invoice&crumb=location:\\\\evil.example@SSL\\d",
        "search:query=invoice", "ms-officecmd:{\"id\":3}", "ms-word:ofe|u|https://evil.example/a.docx",
        "ms-excel:ofv|u|https://evil.example/a.xlsx", "ms-powerpoint:ofe|u|https://evil.example/a.pptx",
        "ms-appinstaller:?source=https://evil.example/a.msix", "ws://evil.example/c2", "wss://evil.example/c2",
        "mhtml:http://evil.example/a.mht!x-usc:http://evil.example/b", "ms-its:mhtml:file://c:/x.mht!http://evil/x",
        "itms-services://?action=download-manifest&url=https://evil.example/m.plist"}) {
    EXPECT_TRUE(blocksAsLink(std::string("open ") + text)) << text;
  }
  for (const char* text : {"Data: 42 rows", "search: nothing found", "javascript: the language"}) {
    EXPECT_FALSE(blocksAsLink(text)) << text;
  }
  // An Office link is judged by the document's host.
  const std::string allow = R"("allow_intranet": ["contoso.com"])";
  EXPECT_FALSE(blocksAsLink("ms-word:ofe|u|https://share.contoso.com/a.docx", allow));
  EXPECT_TRUE(blocksAsLink("ms-word:ofe|u|https://contoso.com.evil.example/a.docx", allow));
  EXPECT_TRUE(blocksAsLink("wss://contoso.com.evil.example/", allow));
  EXPECT_FALSE(blocksAsLink("wss://chat.contoso.com/", allow));
  EXPECT_EQ(defanged("go javascript:alert(1) and data:text/html,x"), "go _javascript:alert(1) and _data:text/html,x");
}

TEST(UrlFilterBrowser, LinksInTheSubjectHeader) {
  const Outcome blocked = runWith("", withSubject("Subject: see http://evil.example/x\r\n"));
  EXPECT_TRUE(blocked.blocked());
  EXPECT_EQ(blocked.warning(), "399 sipwarden \"url_filter: links are not allowed\"");
  EXPECT_TRUE(runWith("", withSubject("s: see www.evil.example\r\n")).blocked());  // the compact form
  EXPECT_FALSE(runWith(R"("allow_intranet": ["contoso.com"])", withSubject("Subject: http://wiki.contoso.com/\r\n"))
                   .blocked());
  EXPECT_TRUE(runWith("", withSubject("Subject: meeting notes\r\n")).verdict.isContinue());

  const Outcome defang = runWith(R"("action": "defang")", withSubject("Subject: see http://evil.example/x now\r\n"));
  ASSERT_TRUE(defang.verdict.isContinue());
  EXPECT_EQ(defang.out->header("Subject"), "see _http://evil.example/x now");
  EXPECT_EQ(defang.body(), "hi");
  EXPECT_EQ(defang.counter("defanged.links"), 1u);
  const Outcome both = runWith(R"("action": "defang", "notice": "[x]")",
                               withSubject("Subject: ht\u200Btp://evil.example/\r\n", "and www.evil.example/y"));
  EXPECT_EQ(both.out->header("Subject"), "_http://evil.example/");
  EXPECT_EQ(both.parts()[0], "[x]\r\nand _www.evil.example/y");

  const Outcome warned = runWith(R"("action": "warn")", withSubject("Subject: see http://evil.example/x\r\n"));
  EXPECT_TRUE(warned.verdict.isContinue());
  EXPECT_EQ(warned.out->header("Subject"), "see http://evil.example/x");

  // Several Subject headers cannot each be rewritten: refused.
  const Outcome several =
      runWith(R"("action": "defang")", withSubject("Subject: hello\r\nSubject: see http://evil.example/\r\n"));
  EXPECT_TRUE(several.blocked());
  EXPECT_EQ(several.warning(),
            "399 sipwarden \"url_filter: link in content that cannot be rewritten (several Subject headers)\"");
  EXPECT_TRUE(several.hasRule("unrewritable"));
  // A notification's Subject is not shown: not an instant message.
  EXPECT_TRUE(run(*chainWith(), sipRequest("application/im-iscomposing+xml", "<x/>", "MESSAGE",
                                           "Subject: http://evil.example/\r\n"))
                  .verdict.isContinue());
}

TEST(UrlFilterBrowser, LinksInsideSipUriParameters) {
  const std::string allow = R"("allow_intranet": ["contoso.com"])";
  EXPECT_FALSE(blocksAsLink("call sip:alice@contoso.com;transport=tls", allow));
  EXPECT_TRUE(blocksAsLink("call sip:alice@contoso.com;x=http://evil.example/", allow));
  EXPECT_TRUE(blocksAsLink("call sips:alice@contoso.com?subject=www.evil.example", allow));
  // ';' in the user part (a telephone number) is not a parameter.
  EXPECT_FALSE(blocksAsLink("call sip:+15551234;phone-context=x@contoso.com;user=phone", allow));
  EXPECT_EQ(defanged("call sip:alice@contoso.com;x=http://evil.example/ now"),
            "call _sip:alice@contoso.com;x=_http://evil.example/ now");
  EXPECT_TRUE(runWith(allow, htmlMessage(R"(<a href="sip:alice@contoso.com;x=http://evil.example/">x</a>)")).blocked());
  EXPECT_EQ(runWith(R"("action": "defang")", htmlMessage(R"(<a href="sip:a@contoso.com;x=http://evil.example/">x</a>)"))
                .body(),
            R"(<a href="_sip:a@contoso.com;x=_http://evil.example/">x</a>)");
}

TEST(UrlFilterBrowser, MetaRefreshAndConditionalComments) {
  for (const char* body :
       {R"(<meta http-equiv="refresh" content="0;url=http://evil.example/">)",
        R"(<META HTTP-EQUIV=Refresh CONTENT="5; URL='//evil.example/x'">)",
        R"(<meta http-equiv="refresh" content="0, evil.example/x.html">)",
        R"(<meta property="og:url" content="http://evil.example/">)",
        R"(<!--[if IE]><a href=http://evil.example/>x</a><![endif]-->)",
        R"(<!--[IF gte mso 9]><p>http://evil.example/</p><![endif]-->)",
        R"(<![if !IE]><a href="http://evil.example/">x</a><![endif]>)"}) {
    EXPECT_TRUE(runWith("", htmlMessage(body)).blocked()) << body;
  }
  for (const char* body : {R"(<!-- http://evil.example/ -->hi)", R"(<meta http-equiv="refresh" content="30">)",
                           R"(<meta charset="utf-8"><p>hi</p>)"}) {
    EXPECT_TRUE(runWith("", htmlMessage(body)).verdict.isContinue()) << body;
  }
  EXPECT_EQ(runWith(R"("action": "defang")", htmlMessage(R"(<meta http-equiv="refresh" content="0;url=http://evil.example/">)"))
                .body(),
            R"(<meta http-equiv="refresh" content="0;url=_http://evil.example/">)");
  EXPECT_EQ(runWith(R"("action": "defang")", htmlMessage(R"(<!--[if IE]><a href="http://evil.example/">x</a><![endif]-->)"))
                .body(),
            R"(<!--[if IE]><a href="_http://evil.example/">x</a><![endif]-->)");
}

// ---- the body reader's forms (issue 17) ---------------------------------------

TEST(UrlFilterBodyForms, LinksInEveryDecodedFormAreFound) {
  const std::string link = "http://evil.example/x";
  const std::string rtf = "{\\rtf1\\ansi {\\field{\\*\\fldinst{HYPERLINK \"" + link + "\"}}{\\fldrslt click}}\\par}";
  EXPECT_TRUE(runWith("", sipRequest("text/rtf", rtf)).blocked());
  EXPECT_TRUE(runWith("", sipRequest("", "see " + link)).blocked()) << "no Content-Type";
  EXPECT_TRUE(runWith("", sipRequest("text/enriched", "<bold>see</bold> " + link)).blocked());
  EXPECT_TRUE(runWith("", sipRequest("application/xhtml+xml", "<html><a href=\"" + link + "\">x</a></html>")).blocked());
  EXPECT_TRUE(runWith("", sipRequest("message/cpim", "From: <sip:a@x>\r\n\r\nsee " + link)).blocked());
  const std::string qp = "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                         "see http=3A//evil.=\r\nexample/x\r\n--b--\r\n";
  EXPECT_TRUE(runWith("", sipRequest("multipart/mixed; boundary=b", qp)).blocked());
}

TEST(UrlFilterBodyForms, UnreadableIs415UnlessSetOtherwise) {
  std::string nested = "Content-Type: text/plain\r\n\r\nsee http://evil.example/";
  for (int level = 0; level < 5; ++level) {
    const std::string b = "b" + std::to_string(level);
    nested = "Content-Type: multipart/mixed; boundary=" + b + "\r\n\r\n--" + b + "\r\n" + nested + "\r\n--" + b + "--\r\n";
  }
  const std::size_t split = nested.find("\r\n\r\n");
  const std::string request = sipRequest(nested.substr(14, split - 14), nested.substr(split + 4));
  const Outcome strict = runWith("", request);
  EXPECT_EQ(strict.verdict.code(), 415);
  EXPECT_NE(strict.warning().find("url_filter: unreadable content: multipart/mixed nested deeper than 4 levels"),
            std::string::npos)
      << strict.warning();
  const Outcome flagged = runWith(R"("on_unreadable": "flag")", request);
  EXPECT_TRUE(flagged.verdict.isContinue());
  EXPECT_TRUE(flagged.hasRule("unreadable"));
  EXPECT_EQ(flagged.counter("unreadable"), 1u);
  EXPECT_TRUE(runWith(R"("on_unreadable": "pass")", request).verdict.isContinue());
}

TEST(UrlFilterBodyForms, DefangOfALinkInRtfBlocksInstead) {
  const std::string rtf = "{\\rtf1\\ansi see http://evil.example/x\\par}";
  const Outcome outcome = runWith(R"("action": "defang")", sipRequest("text/rtf", rtf));
  EXPECT_TRUE(outcome.blocked());
  EXPECT_NE(outcome.warning().find("cannot be rewritten (text/rtf)"), std::string::npos) << outcome.warning();
  // A base64 part is rewritten in base64.
  const std::string b64 = "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                          "c2VlIGh0dHA6Ly9ldmlsLmV4YW1wbGUveA==\r\n--b--\r\n";
  const Outcome defanged = runWith(R"("action": "defang")", sipRequest("multipart/mixed; boundary=b", b64));
  EXPECT_TRUE(defanged.verdict.isContinue());
  ASSERT_EQ(defanged.parts().size(), 1u);
  EXPECT_EQ(defanged.parts()[0], "see _http://evil.example/x");
}

}  // namespace
}  // namespace sipwarden::pipeline
