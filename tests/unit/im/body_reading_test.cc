// The body reader (issue 17): every wire form a sender can choose is read
// into UTF-8 parts, or listed as unreadable with its reason; edits go back
// out in the form the part came in.
#include <gtest/gtest.h>
#include <zlib.h>

#include <map>

#include "im/decoding.h"
#include "sipwarden/utf8.h"
#include "im/im_body.h"
#include "im/rtf_text.h"
#include "im/enriched_text.h"

namespace sipwarden::im {
namespace {

struct Request {
  std::string method = "MESSAGE";
  std::string contentType;
  std::string body;
  std::map<std::string, std::string> headers;  // Content-Encoding, Ms-IM-Format
};

ImBody read(const Request& request) {
  return ImBody(request.method, request.contentType, request.body,
                [&](std::string_view name) -> std::optional<std::string_view> {
                  auto found = request.headers.find(std::string(name));
                  if (found == request.headers.end()) return std::nullopt;
                  return std::string_view(found->second);
                });
}

std::string allText(const ImBody& im) {
  std::string text;
  for (std::size_t i = 0; i < im.partCount(); ++i) text += std::string(im.partText(i)) + "\n";
  return text;
}

std::string gzip(std::string_view bytes) { return encodeContent(ContentEncoding::Gzip, bytes); }

std::string rawDeflate(std::string_view bytes) { return encodeContent(ContentEncoding::Deflate, bytes, true); }

std::string utf16le(std::string_view ascii, bool bom) {
  std::string out = bom ? std::string("\xff\xfe") : std::string();
  for (char c : ascii) {
    out += c;
    out += '\0';
  }
  return out;
}

const std::string kLink = "http://evil.example/x";

TEST(BodyReading, RtfTextAndHyperlinkTarget) {
  const std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Segoe UI;}}{\\colortbl;\\red0\\green0\\blue0;}"
      "\\f0 Hello {\\field{\\*\\fldinst{HYPERLINK \"" + kLink + "\"}}{\\fldrslt{\\ul click}}} caf\\'e9 \\u8364?\\par}";
  ImBody im = read({"MESSAGE", "text/rtf", rtf, {}});
  ASSERT_TRUE(im.present());
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_NE(im.partText(0).find(kLink), std::string_view::npos) << im.partText(0);
  EXPECT_NE(im.partText(0).find("click"), std::string_view::npos);
  EXPECT_NE(im.partText(0).find("caf\xc3\xa9 \xe2\x82\xac"), std::string_view::npos) << im.partText(0);
  EXPECT_EQ(im.partText(0).find("Segoe"), std::string_view::npos);
  EXPECT_FALSE(im.partEditable(0));
  EXPECT_EQ(im.partMediaType(0), "text/rtf");
  EXPECT_EQ(im.unreadableCount(), 0u);
  EXPECT_NE(im.plainText().find(kLink), std::string::npos);
}

TEST(BodyReading, RtfThatIsNotRtfOrNestsTooDeepIsUnreadable) {
  EXPECT_EQ(read({"MESSAGE", "text/rtf", "plain words " + kLink, {}}).unreadableCount(), 1u);
  std::string deep = "{\\rtf1 ";
  for (int i = 0; i < kMaxRtfDepth + 5; ++i) deep += "{";
  deep += kLink;
  ImBody im = read({"MESSAGE", "application/rtf", deep, {}});
  EXPECT_EQ(im.unreadableCount(), 1u);
  EXPECT_TRUE(im.present());
}

TEST(BodyReading, MsImFormatRtfHeaderCarriesTheLink) {
  const std::string rtf = "{\\rtf1\\ansi {\\field{\\*\\fldinst HYPERLINK \"" + kLink + "\"}{\\fldrslt here}}}";
  Request request{"MESSAGE", "text/plain", "hi", {}};
  request.headers["Ms-IM-Format"] = "text/rtf; charset=UTF-8; ms-body=" + encodeTransfer(TransferEncoding::Base64, rtf);
  request.headers["Ms-IM-Format"].erase(std::remove(request.headers["Ms-IM-Format"].begin(), request.headers["Ms-IM-Format"].end(), '\n'),
                                        request.headers["Ms-IM-Format"].end());
  request.headers["Ms-IM-Format"].erase(std::remove(request.headers["Ms-IM-Format"].begin(), request.headers["Ms-IM-Format"].end(), '\r'),
                                        request.headers["Ms-IM-Format"].end());
  ImBody im = read(request);
  EXPECT_NE(allText(im).find(kLink), std::string::npos) << allText(im);
}

TEST(BodyReading, NoContentTypeIsReadAsText) {
  ImBody im = read({"MESSAGE", "", "go to " + kLink, {}});
  ASSERT_TRUE(im.present());
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_EQ(im.partText(0), "go to " + kLink);
  EXPECT_TRUE(im.partEditable(0));
}

std::string nested(int levels, const std::string& leaf) {
  std::string body = "Content-Type: text/plain\r\n\r\n" + leaf;
  for (int level = 0; level < levels; ++level) {
    const std::string boundary = "b" + std::to_string(level);
    body = "Content-Type: multipart/mixed; boundary=" + boundary + "\r\n\r\n--" + boundary + "\r\n" + body + "\r\n--" +
           boundary + "--\r\n";
  }
  return body;
}

TEST(BodyReading, MultipartToTheDocumentedDepthAndNoFurther) {
  for (int levels = 1; levels <= kMaxBodyNesting + 2; ++levels) {
    const std::string entity = nested(levels, kLink);
    const std::size_t split = entity.find("\r\n\r\n");
    const std::string contentType = entity.substr(14, split - 14);
    ImBody im = read({"MESSAGE", contentType, entity.substr(split + 4), {}});
    EXPECT_TRUE(im.present()) << levels;
    if (levels <= kMaxBodyNesting) {
      EXPECT_EQ(im.unreadableCount(), 0u) << levels;
      EXPECT_NE(allText(im).find(kLink), std::string::npos) << levels;
    } else {
      ASSERT_EQ(im.unreadableCount(), 1u) << levels;
      EXPECT_NE(im.unreadableReason(0).find("nested deeper than"), std::string_view::npos);
    }
  }
}

TEST(BodyReading, EnrichedAndXhtml) {
  ImBody enriched = read({"MESSAGE", "text/enriched", "<bold>see</bold> <<b> " + kLink + "\r\n<param>red</param>", {}});
  EXPECT_NE(allText(enriched).find("see <b> " + kLink), std::string::npos) << allText(enriched);
  EXPECT_FALSE(enriched.partEditable(0));
  ImBody xhtml = read({"MESSAGE", "application/xhtml+xml", "<html><body><a href=\"" + kLink + "\">x</a></body></html>", {}});
  ASSERT_EQ(xhtml.partCount(), 1u);
  EXPECT_EQ(xhtml.partType(0), "text/html");
  EXPECT_EQ(xhtml.partMediaType(0), "application/xhtml+xml");
  EXPECT_TRUE(xhtml.partEditable(0));
}

TEST(BodyReading, TransferEncodingsUndoneAndRedoneOnEdit) {
  const std::string b64 = encodeTransfer(TransferEncoding::Base64, "see " + kLink);
  const std::string qp = "see http=3A//evil.example/x=\r\n and caf=C3=A9";
  const std::string body = "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 +
                           "\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n" + qp +
                           "\r\n--b--\r\n";
  ImBody im = read({"MESSAGE", "multipart/mixed; boundary=b", body, {}});
  ASSERT_EQ(im.partCount(), 2u);
  EXPECT_EQ(im.partText(0), "see " + kLink);
  EXPECT_EQ(im.partText(1), "see http://evil.example/x and caf\xc3\xa9");
  ASSERT_TRUE(im.partEditable(0));
  im.setPartText(0, "see _" + kLink);
  im.setPartText(1, "safe caf\xc3\xa9");
  ImBody again = read({"MESSAGE", "multipart/mixed; boundary=b", im.renderBody(), {}});
  ASSERT_EQ(again.partCount(), 2u);
  EXPECT_EQ(again.partText(0), "see _" + kLink);
  EXPECT_EQ(again.partText(1), "safe caf\xc3\xa9");
  EXPECT_EQ(im.originalPlainText(), "see " + kLink + "\nsee http://evil.example/x and caf\xc3\xa9");
}

TEST(BodyReading, BrokenOrUnknownTransferEncodingIsUnreadable) {
  const std::string body = "--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644\r\n--b\r\n"
                           "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--b--\r\n";
  ImBody im = read({"MESSAGE", "multipart/mixed; boundary=b", body, {}});
  EXPECT_EQ(im.unreadableCount(), 2u);
  EXPECT_TRUE(im.present());
}

TEST(BodyReading, GzipAndDeflateBodies) {
  for (const auto& [encoding, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"gzip", gzip("see " + kLink)},
           {"deflate", encodeContent(ContentEncoding::Deflate, "see " + kLink)},
           {"deflate", rawDeflate("see " + kLink)}}) {
    Request request{"MESSAGE", "text/plain", bytes, {{"Content-Encoding", encoding}}};
    ImBody im = read(request);
    ASSERT_EQ(im.partCount(), 1u) << encoding;
    EXPECT_EQ(im.partText(0), "see " + kLink);
    im.setPartText(0, "see _" + kLink);
    ImBody again = read({"MESSAGE", "text/plain", im.renderBody(), {{"Content-Encoding", encoding}}});
    ASSERT_EQ(again.partCount(), 1u);
    EXPECT_EQ(again.partText(0), "see _" + kLink) << encoding;
  }
}

TEST(BodyReading, DecompressionBombAndCorruptStreamsAreRefused) {
  const std::string bomb = gzip(std::string(kMaxDecodedBodyBytes + 1, 'a'));
  ImBody im = read({"MESSAGE", "text/plain", bomb, {{"Content-Encoding", "gzip"}}});
  ASSERT_EQ(im.unreadableCount(), 1u);
  EXPECT_NE(im.unreadableReason(0).find("expands past"), std::string_view::npos);
  EXPECT_EQ(im.partCount(), 0u);
  EXPECT_TRUE(im.present());
  std::string truncated = gzip("see " + kLink);
  truncated.resize(truncated.size() - 6);
  EXPECT_EQ(read({"MESSAGE", "text/plain", truncated, {{"Content-Encoding", "gzip"}}}).unreadableCount(), 1u);
  EXPECT_EQ(read({"MESSAGE", "text/plain", gzip("x") + "trailing", {{"Content-Encoding", "gzip"}}}).unreadableCount(), 1u);
  EXPECT_EQ(read({"MESSAGE", "text/plain", "abc", {{"Content-Encoding", "br"}}}).unreadableCount(), 1u);
}

TEST(BodyReading, CharsetsConvertedToUtf8) {
  struct Case {
    std::string charset;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"utf-16", utf16le("see " + kLink, true)},
      {"utf-16", utf16le("see " + kLink, false)},
      {"UTF-16LE", utf16le("see " + kLink, false)},
      {"iso-8859-1", "see " + kLink + " caf\xe9"},
      {"windows-1252", "see " + kLink + " \x80"},
      {"iso-8859-5", "see " + kLink + " \xbf"},
  };
  for (const Case& c : cases) {
    ImBody im = read({"MESSAGE", "text/plain; charset=" + c.charset, c.bytes, {}});
    // UTF-16 without a byte order mark is also read in the other order (read-only).
    ASSERT_EQ(im.partCount(), c.charset == "utf-16" && !c.bytes.starts_with("\xff\xfe") ? 2u : 1u) << c.charset;
    EXPECT_EQ(im.plainText(), std::string(im.partText(0)));
    EXPECT_TRUE(utf8::isValid(im.partText(0)));
    EXPECT_NE(im.partText(0).find("see " + kLink), std::string_view::npos) << c.charset;
    EXPECT_EQ(im.unreadableCount(), 0u) << c.charset;
  }
  // An edit goes back in the part's charset.
  ImBody im = read({"MESSAGE", "text/plain; charset=iso-8859-1", "caf\xe9 " + kLink, {}});
  im.setPartText(0, std::string("caf\xc3\xa9 _") + kLink);
  EXPECT_EQ(im.renderBody(), "caf\xe9 _" + kLink);
}

TEST(BodyReading, Utf16WithoutCharsetAndBadBytesAreHandled) {
  ImBody sniffed = read({"MESSAGE", "text/plain", utf16le("see " + kLink, false), {}});
  ASSERT_EQ(sniffed.partCount(), 2u);
  EXPECT_EQ(sniffed.partText(0), "see " + kLink);
  EXPECT_FALSE(sniffed.partEditable(1));
  EXPECT_EQ(sniffed.plainText(), "see " + kLink);
  ImBody latin = read({"MESSAGE", "text/plain", "caf\xe9 " + kLink, {}});
  ASSERT_EQ(latin.unreadableCount(), 1u);
  ASSERT_EQ(latin.partCount(), 1u);
  EXPECT_TRUE(utf8::isValid(latin.partText(0)));
  EXPECT_NE(latin.partText(0).find(kLink), std::string_view::npos);
  EXPECT_FALSE(latin.partEditable(0));
  EXPECT_EQ(read({"MESSAGE", "text/plain; charset=x-no-such-charset", kLink, {}}).unreadableCount(), 1u);
  EXPECT_EQ(read({"MESSAGE", "text/plain; charset=utf-8", "\xed\xa0\x80" + kLink, {}}).unreadableCount(), 1u);
}

TEST(BodyReading, CpimWithASingleEmptyLine) {
  ImBody im = read({"MESSAGE", "message/cpim", "From: <sip:a@x>\r\nTo: <sip:b@x>\r\n\r\nsee " + kLink, {}});
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_EQ(im.partText(0), "see " + kLink);
  EXPECT_EQ(im.partLocation(0), "cpim");
  // The usual form still reads its MIME headers.
  ImBody usual = read({"MESSAGE", "message/cpim",
                       "From: <sip:a@x>\r\n\r\nContent-Type: text/html\r\n\r\n<a href='" + kLink + "'>x</a>", {}});
  ASSERT_EQ(usual.partCount(), 1u);
  EXPECT_EQ(usual.partType(0), "text/html");
  EXPECT_EQ(read({"MESSAGE", "message/cpim", "From: <sip:a@x>\r\n" + kLink, {}}).unreadableCount(), 1u);
}

TEST(BodyReading, CpimWrappingANotificationIsNotAMessage) {
  ImBody imdn = read({"MESSAGE", "message/cpim",
                      "From: <sip:a@x>\r\n\r\nContent-Type: message/imdn+xml\r\n\r\n<imdn/>", {}});
  EXPECT_FALSE(imdn.present());
  EXPECT_FALSE(read({"MESSAGE", "application/im-iscomposing+xml", "<isComposing/>", {}}).present());
  EXPECT_TRUE(read({"MESSAGE", "image/png", "\x89PNG", {}}).present());
  EXPECT_EQ(read({"MESSAGE", "image/png", "\x89PNG", {}}).unreadableCount(), 0u);
}

TEST(BodyReading, AmbiguousOrBrokenMultipartIsUnreadable) {
  EXPECT_EQ(read({"MESSAGE", "multipart/mixed", "--x\r\n\r\n" + kLink + "\r\n--x--", {}}).unreadableCount(), 1u);
  EXPECT_EQ(read({"MESSAGE", "multipart/mixed; boundary=zz", "--x\r\n\r\n" + kLink, {}}).unreadableCount(), 1u);
  const std::string twoTypes =
      "--b\r\nContent-Type: image/png\r\nContent-Type: text/plain\r\n\r\n" + kLink + "\r\n--b--\r\n";
  EXPECT_EQ(read({"MESSAGE", "multipart/mixed; boundary=b", twoTypes, {}}).unreadableCount(), 1u);
  const std::string noBlankLine = "--b\r\n" + kLink + "\r\n--b--\r\n";
  EXPECT_EQ(read({"MESSAGE", "multipart/mixed; boundary=b", noBlankLine, {}}).unreadableCount(), 1u);
  // A last part without its close delimiter is read, not dropped.
  ImBody open = read({"MESSAGE", "multipart/mixed; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\n" + kLink, {}});
  ASSERT_EQ(open.partCount(), 1u);
  EXPECT_EQ(open.partText(0), kLink);
}

TEST(BodyReading, FoldedPartHeadersAreJoined) {
  const std::string body = "--b\r\nContent-Type: text/plain;\r\n charset=iso-8859-1\r\n\r\ncaf\xe9\r\n--b--\r\n";
  ImBody im = read({"MESSAGE", "multipart/mixed; boundary=b", body, {}});
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_EQ(im.partText(0), "caf\xc3\xa9");
}

TEST(BodyReading, RcsFileTransferDescriptorIsReadOnlyText) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><file xmlns=\"urn:gsma:params:xml:ns:rcs:rcs:fthttp\">"
      "<file-info type=\"file\"><file-size>1234</file-size><file-name>invoice.exe</file-name>"
      "<content-type>application/octet-stream</content-type><data url=\"https://files.example/abc\" "
      "until=\"2026-12-31T00:00:00Z\"/></file-info></file>";
  ImBody im = read({"MESSAGE", "application/vnd.gsma.rcs-ft-http+xml", xml, {}});
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_FALSE(im.partEditable(0));
  EXPECT_NE(im.partText(0).find("invoice.exe"), std::string_view::npos);
  EXPECT_NE(im.partText(0).find("https://files.example/abc"), std::string_view::npos);
  ASSERT_EQ(im.entityCount(), 1u);
  EXPECT_EQ(im.entityType(0), "application/vnd.gsma.rcs-ft-http+xml");
}

TEST(BodyReading, EntitiesOfAnInviteAreDecoded) {
  const std::string sdp = "v=0\r\na=file-selector:name:\"x.exe\" type:application/octet-stream size:10\r\n";
  const std::string body = "--b\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                           encodeTransfer(TransferEncoding::Base64, sdp) + "\r\n--b--\r\n";
  ImBody im = read({"INVITE", "multipart/mixed; boundary=b", body, {}});
  EXPECT_FALSE(im.present());
  ASSERT_EQ(im.entityCount(), 1u);
  EXPECT_EQ(im.entityType(0), "application/sdp");
  EXPECT_EQ(im.entityContent(0), sdp);
  EXPECT_EQ(im.entityLocation(0), "multipart[0]");
}

TEST(BodyReading, EditsInsideAnEncodedContainerAreRefused) {
  const std::string inner = "--c\r\nContent-Type: text/plain\r\n\r\n" + kLink + "\r\n--c--\r\n";
  const std::string body = "--b\r\nContent-Type: multipart/mixed; boundary=c\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                           encodeTransfer(TransferEncoding::Base64, inner) + "\r\n--b--\r\n";
  ImBody im = read({"MESSAGE", "multipart/mixed; boundary=b", body, {}});
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_EQ(im.partText(0), kLink);
  EXPECT_FALSE(im.partEditable(0));
  im.setPartText(0, "changed");
  EXPECT_EQ(im.partText(0), kLink);
  EXPECT_FALSE(im.bodyModified());
}

TEST(Decoding, Utf8Validation) {
  EXPECT_TRUE(utf8::isValid("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  for (std::string bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\xc3", "\xe2\x82"}) {
    EXPECT_FALSE(utf8::isValid(bad));
    EXPECT_TRUE(utf8::isValid(utf8::repair("a" + bad + "b")));
  }
  EXPECT_EQ(utf8::repair("a\xffz"), "a\xef\xbf\xbdz");
}

TEST(EnrichedText, LineBreaksFoldAsTheRfcSays) {
  EXPECT_EQ(enrichedText("a\r\nb\r\n\r\nc"), "a b\nc");
  EXPECT_EQ(enrichedText("<<x>"), "<x>");
}


// ---- found by the wire-forms tests (issue 17) ----------------------------------

TEST(BodyReading, PlainTextHoldsEveryReadablePartOnce) {
  const std::string rtf = "{\\rtf1\\ansi secret word\\par}";
  std::string copy = encodeTransfer(TransferEncoding::Base64, rtf);
  copy.erase(std::remove_if(copy.begin(), copy.end(), [](char c) { return c == '\r' || c == '\n'; }), copy.end());
  Request lync{"MESSAGE", "text/plain", "hi", {{"Ms-IM-Format", "text/rtf; ms-body=" + copy}}};
  EXPECT_EQ(read(lync).plainText(), "hi\nsecret word\n");  // RTF's \par ends a line
  const std::string mixed = "--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--b\r\nContent-Type: text/html\r\n\r\n"
                            "<p>the <b>real</b> text</p>\r\n--b--\r\n";
  EXPECT_EQ(read({"MESSAGE", "multipart/mixed; boundary=b", mixed, {}}).plainText(), "see below\nthe real text\n");
  const std::string alternative = "--b\r\nContent-Type: text/plain\r\n\r\nsame words\r\n--b\r\nContent-Type: text/html\r\n\r\n"
                                  "<p>same words</p>\r\n--b--\r\n";
  EXPECT_EQ(read({"MESSAGE", "multipart/alternative; boundary=b", alternative, {}}).plainText(), "same words");
}

TEST(BodyReading, TransferEncodingOnTheRequestItself) {
  Request request{"MESSAGE", "text/plain", encodeTransfer(TransferEncoding::Base64, "see " + kLink),
                  {{"Content-Transfer-Encoding", "base64"}}};
  ImBody im = read(request);
  ASSERT_EQ(im.partCount(), 1u);
  EXPECT_EQ(im.partText(0), "see " + kLink);
}

TEST(BodyReading, ATypeOrEncodingGivenTwiceIsUnreadable) {
  Request request{"MESSAGE", "text/plain", "see " + kLink, {}};
  for (const std::string repeated : {"Content-Type", "Content-Encoding", "Content-Transfer-Encoding"}) {
    ImBody im(request.method, request.contentType, request.body,
              [](std::string_view) -> std::optional<std::string_view> { return std::nullopt; },
              [&](std::string_view name) -> std::size_t { return name == repeated ? 2 : 0; });
    ASSERT_EQ(im.unreadableCount(), 1u) << repeated;
    EXPECT_NE(im.unreadableReason(0).find(repeated), std::string_view::npos);
    EXPECT_TRUE(im.present());
  }
}

TEST(BodyReading, ForwardedMailSvgAndRtfEncapsulatedHtml) {
  ImBody mail = read({"MESSAGE", "message/rfc822",
                      "From: a@x\r\nSubject: fw\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                          encodeTransfer(TransferEncoding::Base64, "see " + kLink),
                      {}});
  EXPECT_NE(allText(mail).find(kLink), std::string::npos);
  ImBody svg = read({"MESSAGE", "image/svg+xml", "<svg><a href=\"" + kLink + "\"><text>x</text></a></svg>", {}});
  ASSERT_EQ(svg.partCount(), 1u);
  EXPECT_EQ(svg.partType(0), "text/html");
  ImBody rtf = read({"MESSAGE", "text/rtf",
                     "{\\rtf1\\ansi\\fromhtml1 {\\*\\htmltag84 <a href=\"" + kLink + "\">}here{\\*\\htmltag92 </a>}}", {}});
  EXPECT_NE(allText(rtf).find(kLink), std::string::npos) << allText(rtf);
}


// ---- the red team's ways past the reader (issue 17) --------------------------

bool sees(const ImBody& im, const std::string& what) { return allText(im).find(what) != std::string::npos; }
bool seesOrRefuses(const ImBody& im, const std::string& what) { return sees(im, what) || im.unreadableCount() > 0; }

TEST(BodyReadingRedTeam, ADelimiterMustStartALine) {
  const std::string a = "--b\r\nContent-Type: text/plain\r\n\r\nhello x--b\r\nContent-Type: image/png\r\n\r\n" + kLink + "\r\n--b--\r\n";
  EXPECT_TRUE(sees(read({"MESSAGE", "multipart/mixed; boundary=b", a, {}}), kLink));
  const std::string b = "--b\r\nContent-Type: text/plain\r\n\r\nhi --b--\r\n" + kLink + "\r\n--b--\r\n";
  EXPECT_TRUE(sees(read({"MESSAGE", "multipart/mixed; boundary=b", b, {}}), kLink));
  const std::string c = "--b\r\n\r\nhello\r\n--b " + kLink;
  EXPECT_TRUE(seesOrRefuses(read({"MESSAGE", "multipart/mixed; boundary=b", c, {}}), kLink));
  const std::string padded = "--b  \r\n\r\nhello\r\n--b--\t\r\n";
  ImBody ok = read({"MESSAGE", "multipart/mixed; boundary=b", padded, {}});
  EXPECT_EQ(ok.unreadableCount(), 0u);
  EXPECT_EQ(allText(ok), "hello\n");
}

TEST(BodyReadingRedTeam, PreambleAndEpilogueAreRead) {
  ImBody im = read({"MESSAGE", "multipart/mixed; boundary=b", kLink + "\r\n--b\r\n\r\nhello\r\n--b--\r\n" + kLink + "2", {}});
  std::vector<std::string> where;
  for (std::size_t i = 0; i < im.partCount(); ++i) {
    if (im.partText(i).find(kLink) != std::string_view::npos) where.emplace_back(im.partLocation(i));
  }
  EXPECT_EQ(where, (std::vector<std::string>{"preamble", "epilogue"}));
}

TEST(BodyReadingRedTeam, MediaTypesAsSipAndMimeWriteThem) {
  ImBody spaced = read({"MESSAGE", "text / plain", kLink, {}});
  EXPECT_TRUE(sees(spaced, kLink));
  ImBody comment = read({"MESSAGE", "multipart/mixed; boundary=b", "--b\r\nContent-Type: (c) text/plain\r\n\r\n" + kLink + "\r\n--b--\r\n", {}});
  EXPECT_TRUE(sees(comment, kLink));
  EXPECT_EQ(read({"MESSAGE", "text", kLink, {}}).unreadableCount(), 1u);
  EXPECT_EQ(read({"MESSAGE", "multipart/mixed; boundary=a; boundary=b", "--a\r\n\r\nhello\r\n--a--\r\n--b\r\n\r\n" + kLink, {}})
                .unreadableCount(),
            1u);
  EXPECT_EQ(read({"MESSAGE", "text/plain; charset=utf-8; charset=utf-7", kLink, {}}).unreadableCount(), 1u);
  ImBody escaped = read({"MESSAGE", "multipart/mixed; x=\"a\\\"; boundary=zz\"; boundary=b", "--b\r\n\r\n" + kLink + "\r\n--b--\r\n", {}});
  EXPECT_TRUE(seesOrRefuses(escaped, kLink));
}

TEST(BodyReadingRedTeam, ACharsetThatContradictsTheBytesIsReadBothWays) {
  EXPECT_TRUE(sees(read({"MESSAGE", "text/plain; charset=utf-16", kLink, {}}), kLink));
  EXPECT_TRUE(sees(read({"MESSAGE", "text/plain", "\xff\xfe" + kLink + "!", {}}), kLink));
  EXPECT_TRUE(sees(read({"MESSAGE", "text/plain", kLink + std::string(8, '\0'), {}}), kLink));
  EXPECT_TRUE(sees(read({"MESSAGE", "text/plain; charset=cp037", kLink, {}}), kLink));
  // Big-endian without a mark, padded so the zero bytes point the other way.
  std::string be;
  for (char c : kLink) be += std::string(1, '\0') + c;
  for (int i = 0; i < 25; ++i) be += std::string("\x20\x00", 2);  // U+2000, its zero byte low
  EXPECT_TRUE(sees(read({"MESSAGE", "text/plain; charset=utf-16", be, {}}), kLink));
  // A plain Latin-1 message gets no second reading: defang can still edit it.
  ImBody latin = read({"MESSAGE", "text/plain; charset=iso-8859-1", "caf\xe9 " + kLink, {}});
  EXPECT_EQ(latin.partCount(), 1u);
}

TEST(BodyReadingRedTeam, ManyTinyPartsAreRefusedNotKept) {
  std::string tiny;
  for (int i = 0; i < 200000; ++i) tiny += "--b\n\nx\n";
  ImBody im = read({"MESSAGE", "multipart/mixed; boundary=b", gzip(tiny), {{"Content-Encoding", "gzip"}}});
  ASSERT_GE(im.unreadableCount(), 1u);
  EXPECT_LE(im.entityCount(), kMaxBodyParts);
  EXPECT_FALSE(im.plainText().empty());
}

TEST(BodyReadingRedTeam, MsBodyCopiesAreReadAsParametersOrRefused) {
  const std::string copy = encodeTransfer(TransferEncoding::Base64, "see " + kLink);
  std::string b64 = copy;
  b64.erase(std::remove_if(b64.begin(), b64.end(), [](char c) { return c == '\r' || c == '\n'; }), b64.end());
  for (const std::string& value : {"text/plain; ms-body=" + b64 + "; charset=UTF-8",
                                   "text/plain; x=\"ms-body=AA\"; ms-body=" + b64, "text/plain; ms-body=\"" + b64 + "\""}) {
    EXPECT_TRUE(sees(read({"MESSAGE", "text/plain", "hi", {{"Ms-IM-Format", value}}}), kLink)) << value;
  }
  for (const std::string& value : {"text/plain; ms-body=" + b64.substr(0, b64.size() - 1) + "!",
                                   "text/x-markdown; ms-body=" + b64}) {
    EXPECT_EQ(read({"MESSAGE", "text/plain", "hi", {{"Ms-IM-Format", value}}}).unreadableCount(), 1u) << value;
  }
  // An edit replaces only the copy.
  ImBody im = read({"MESSAGE", "text/plain", "hi", {{"Ms-IM-Format", "text/plain; ms-body=" + b64 + "; charset=UTF-8"}}});
  ASSERT_EQ(im.partCount(), 2u);
  im.setPartText(1, "changed");
  const auto headers = im.renderHeaders();
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].second, "text/plain; ms-body=Y2hhbmdlZA==; charset=UTF-8");
}

TEST(BodyReadingRedTeam, CpimWithOnlyATransferEncoding) {
  ImBody im = read({"MESSAGE", "message/cpim",
                    "From: <sip:a@x>\r\n\r\nContent-Transfer-Encoding: base64\r\n\r\n" + encodeTransfer(TransferEncoding::Base64, kLink),
                    {}});
  EXPECT_TRUE(sees(im, kLink));
}

TEST(BodyReadingRedTeam, XmlEntitiesAndCdataInXhtmlAreRefused) {
  EXPECT_EQ(read({"MESSAGE", "application/xhtml+xml",
                  "<!DOCTYPE html [<!ENTITY e \"" + kLink + "\">]><html><p>&e;</p></html>", {}})
                .unreadableCount(),
            1u);
  EXPECT_EQ(read({"MESSAGE", "application/xhtml+xml", "<html><p><![CDATA[" + kLink + "]]></p></html>", {}}).unreadableCount(), 1u);
}

TEST(BodyReadingRedTeam, ANotificationThatIsNotOneIsText) {
  ImBody im = read({"MESSAGE", "application/im-iscomposing+xml", kLink, {}});
  EXPECT_TRUE(im.present());
  EXPECT_TRUE(sees(im, kLink));
  EXPECT_FALSE(read({"MESSAGE", "application/im-iscomposing+xml", "<?xml version='1.0'?><isComposing/>", {}}).present());
}

TEST(BodyReadingRedTeam, Utf16AndRawDeflateEditsGoBackAsTheyCame) {
  std::string be = "\xfe\xff";
  for (char c : std::string("see " + kLink)) be += std::string(1, '\0') + c;
  ImBody im = read({"MESSAGE", "text/plain; charset=utf-16", be, {}});
  im.setPartText(0, "ok");
  EXPECT_EQ(im.renderBody(), std::string("\xfe\xff\0o\0k", 6));
  ImBody raw = read({"MESSAGE", "text/plain", rawDeflate("see " + kLink), {{"Content-Encoding", "deflate"}}});
  raw.setPartText(0, "ok");
  z_stream stream{};
  inflateInit2(&stream, -15);
  const std::string rendered = raw.renderBody();
  char out[64];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rendered.data()));
  stream.avail_in = static_cast<uInt>(rendered.size());
  stream.next_out = reinterpret_cast<Bytef*>(out);
  stream.avail_out = sizeof out;
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  inflateEnd(&stream);
  EXPECT_EQ(std::string(out, stream.total_out), "ok");
}

TEST(BodyReadingRedTeam, QuotedPrintableEscapesMustBeWellFormed) {
  const std::string bad = "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhtt=\rp://evil.example/\r\n--b--\r\n";
  EXPECT_EQ(read({"MESSAGE", "multipart/mixed; boundary=b", bad, {}}).unreadableCount(), 1u);
}

}  // namespace
}  // namespace sipwarden::im
