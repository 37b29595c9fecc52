// The file_filter plugin through the real chain: the three wire forms of a
// file offer (RFC 5547 SDP, Lync ms-filetransfer+xml, OCS msmsgsinvite), the
// shared samples, every option, and the tricks used to slip a file past a
// filter (case, double and trailing extensions, encodings, streams).
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>

#include "file_filter/file_names.h"
#include "file_filter/file_offers.h"
#include "pipeline/loader.h"
#include "plugin_harness.h"
#include "sip/edit_list.h"
#include "sip/message.h"

namespace sipwarden::plugins {
namespace file_filter { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::pipeline {
namespace {

namespace file_filter = sipwarden::plugins::file_filter;

using test_support::readSample;

std::shared_ptr<const FilterChain> chainFrom(const std::string& json) {
  return test_support::chainWith(plugins::file_filter::descriptor(), json);
}

std::shared_ptr<const FilterChain> defaultChain() { return chainFrom(R"([{"plugin": "file_filter"}])"); }

std::string buildError(const std::string& json) { return test_support::chainError(plugins::file_filter::descriptor(), json); }

using test_support::counter;
using test_support::Outcome;

// The request as the chain leaves it (file_filter does not edit: the wire
// is not parsed again).
Outcome run(const FilterChain& chain, const std::string& text) {
  return test_support::run(chain, text, {.parseWire = false});
}

std::string request(const std::string& method, const std::string& contentType, const std::string& body,
                    const std::string& extra = "") {
  return method + " sip:bob@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKff" + std::to_string(body.size()) + "\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:alice@example.com>;tag=a1\r\n"
         "To: <sip:bob@example.com>\r\n"
         "Call-ID: ff-" + std::to_string(body.size()) + "@192.0.2.10\r\n"
         "CSeq: 1 " + method + "\r\n" + extra +
         (contentType.empty() ? "" : "Content-Type: " + contentType + "\r\n") +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string sdpWith(const std::string& selector) {
  return "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
         "m=message 7654 TCP/MSRP *\r\na=sendonly\r\na=accept-types:message/cpim\r\n"
         "a=path:msrp://192.0.2.10:7654/x1;tcp\r\n" + selector + "\r\na=file-transfer-id:t1\r\n";
}

std::string sdpInvite(const std::string& selector) { return request("INVITE", "application/sdp", sdpWith(selector)); }

std::string lyncXml(const std::string& fileInfo) {
  return "<request xmlns=\"http://schemas.microsoft.com/rtc/2009/05/filetransfer\" requestId=\"1\"><publishFile>"
         "<fileInfo>" + fileInfo + "</fileInfo></publishFile></request>";
}

std::string lyncInvite(const std::string& fileInfo, const std::string& partHeaders = "",
                       const std::string& xmlOverride = "") {
  const std::string body =
      "--b1\r\nContent-Type: application/ms-filetransfer+xml\r\n" + partHeaders + "\r\n" +
      (xmlOverride.empty() ? lyncXml(fileInfo) : xmlOverride) + "\r\n"
      "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=data 20002 TCP/RTP/AVP 127\r\n\r\n--b1--\r\n";
  return request("INVITE", "multipart/mixed;boundary=\"b1\"", body);
}

std::string msmsgsMessage(const std::string& file, const std::string& command = "INVITE") {
  const std::string body = "Application-Name: File Transfer\r\n"
                           "Application-GUID: {5D3E02AB-6190-11d3-BBBB-00C04F795683}\r\n"
                           "Invitation-Command: " + command + "\r\nInvitation-Cookie: 41720\r\n"
                           "Application-File: " + file + "\r\nApplication-FileSize: 1234\r\n"
                           "Connectivity: N\r\nEncryption: R\r\n";
  return request("MESSAGE", "text/x-msmsgsinvite; charset=UTF-8", body);
}

const std::string kBlockedExe = "399 sipwarden \"file_filter: blocked extension .exe\"";

// The offers one leaf entity holds, as file_filter reads each entity the SDK
// yields.
std::vector<file_filter::FileOffer> offersIn(std::string_view mediaType, std::string_view content,
                                           std::size_t limit = 1000000) {
  std::vector<file_filter::FileOffer> offers;
  file_filter::scanEntity(mediaType, content, offers, limit);
  return offers;
}

// ---- the samples ----------------------------------------------------------

TEST(FileFilterSamples, OcsMsMsgsInviteReportExeIsForbidden) {
  auto chain = defaultChain();
  const Outcome outcome = run(*chain, readSample("10-ocs-msmsgsinvite-report-exe.sip"));
  ASSERT_EQ(outcome.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(outcome.verdict.code(), 403);
  EXPECT_EQ(outcome.warning(), kBlockedExe);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"report.exe"});
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"284672"});
  EXPECT_EQ(outcome.tagValues("rule"), std::vector<std::string>{"file_filter:blocked-extension"});
  EXPECT_EQ(counter(*chain, "blocked.exe"), 1u);
}

TEST(FileFilterSamples, LyncSetupMsiInviteIsNotAcceptableHere) {
  auto chain = defaultChain();
  const Outcome outcome = run(*chain, readSample("11-lync-filetransfer-invite-setup-msi.sip"));
  ASSERT_EQ(outcome.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.verdict.reason(), "Not Acceptable Here");
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .msi\"");
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"setup.msi"});
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"3145728"});
  EXPECT_EQ(counter(*chain, "blocked.msi"), 1u);
}

TEST(FileFilterSamples, Rfc5547PhotoJpgPassesUnchangedAndIsTagged) {
  auto chain = defaultChain();
  const std::string text = readSample("12-rfc5547-invite-photo-jpg.sip");
  const Outcome outcome = run(*chain, text);
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_FALSE(outcome.edited);
  EXPECT_EQ(outcome.wire, text);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"photo.jpg"});
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"182431"});
  EXPECT_TRUE(outcome.tagValues("rule").empty());
  EXPECT_EQ(counter(*chain, "allowed"), 1u);
  EXPECT_EQ(counter(*chain, "offers"), 1u);
}

TEST(FileFilterSamples, Rfc5547InvoicePdfExeIsBlockedWhateverTheTypeClaims) {
  auto chain = defaultChain();
  const Outcome outcome = run(*chain, readSample("13-rfc5547-invite-invoice-pdf-exe.sip"));
  ASSERT_EQ(outcome.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), kBlockedExe);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"invoice.pdf.exe"});
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"98304"});
}

TEST(FileFilterSamples, MessagesWithoutFilesPassUntouchedAndUntagged) {
  auto chain = defaultChain();
  for (const char* name : {"01-message-text-plain.sip", "02-message-text-plain-links.sip",
                           "03-message-text-html-href.sip", "04-message-cpim-text-plain-link.sip",
                           "05-message-multipart-alternative.sip", "06-lync-message-ms-im-format.sip",
                           "07-message-iscomposing.sip", "08-lync-im-session-invite.sip",
                           "09-lync-in-dialog-message.sip", "14-message-utf8-japanese-emoji-link.sip"}) {
    const Outcome outcome = run(*chain, readSample(name));
    EXPECT_TRUE(outcome.verdict.isContinue()) << name;
    EXPECT_FALSE(outcome.edited) << name;
    EXPECT_TRUE(outcome.tags.empty()) << name;
  }
  EXPECT_EQ(counter(*chain, "offers"), 0u);
}

// ---- RFC 5547 SDP -----------------------------------------------------------

TEST(FileFilterSdp, QuotedNameWithEncodedQuoteAndPercent) {
  auto chain = defaultChain();
  Outcome outcome = run(*chain, sdpInvite(R"(a=file-selector:name:"my %22best%22 report.exe" type:application/octet-stream size:42)"));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"my \"best\" report.exe"});
  EXPECT_EQ(outcome.warning(), kBlockedExe) << "the Warning never carries the file name";
  outcome = run(*chain, sdpInvite(R"(a=file-selector:name:"100%25 done.txt" size:7)"));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"100% done.txt"});
}

TEST(FileFilterSdp, SelectorFieldsInAnyOrder) {
  auto chain = defaultChain();
  const Outcome outcome = run(*chain, sdpInvite(
      R"(a=file-selector:hash:sha-1:2F:8C:60:DA size:512 type:application/pdf name:"tool.scr")"));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .scr\"");
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"512"});
}

TEST(FileFilterSdp, UpperCaseExtension) {
  auto chain = defaultChain();
  const Outcome outcome = run(*chain, sdpInvite(R"(a=file-selector:name:"SETUP.EXE" type:image/jpeg)"));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), kBlockedExe);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"SETUP.EXE"});
}

TEST(FileFilterSdp, TrailingDotsAndSpacesAreIgnoredAsWindowsDoes) {
  auto chain = defaultChain();
  for (const char* name : {"report.exe. ", "report.exe...", "report.exe  . ", "report.exe\t"}) {
    const Outcome outcome = run(*chain, sdpInvite(std::string("a=file-selector:name:\"") + name + "\""));
    EXPECT_EQ(outcome.verdict.code(), 488) << name;
    EXPECT_EQ(outcome.warning(), kBlockedExe) << name;
  }
}

TEST(FileFilterSdp, EncodedDotAndStreamAndQuoteTricks) {
  auto chain = defaultChain();
  for (const char* name : {"evil%2Eexe", "evil%252eexe", "evil.exe::$DATA", "evil.exe:zone.jpg", "evil.exe%22",
                           "C:\\\\temp\\\\evil.exe", "dir/evil.exe", "evil.exe?"}) {
    const Outcome outcome = run(*chain, sdpInvite(std::string("a=file-selector:name:\"") + name + "\" size:1"));
    EXPECT_EQ(outcome.verdict.code(), 488) << name;
  }
}

TEST(FileFilterSdp, UnquotedAndUnterminatedNames) {
  auto chain = defaultChain();
  EXPECT_EQ(run(*chain, sdpInvite("a=file-selector:name:virus.vbs size:9")).verdict.code(), 488);
  const Outcome outcome = run(*chain, sdpInvite("a=file-selector:size:9 name:\"my virus.vbs"));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"my virus.vbs"});
}

TEST(FileFilterSdp, AllowedNamesPass) {
  auto chain = defaultChain();
  for (const char* name : {"photo.jpg", "notes.txt", "archive.tar.gz", "exe", "no-extension", "report.exe.pdf",
                           "setup.msi.docx", ".bashrc"}) {
    const Outcome outcome = run(*chain, sdpInvite(std::string("a=file-selector:name:\"") + name + "\""));
    EXPECT_TRUE(outcome.verdict.isContinue()) << name;
    EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{name});
  }
}

TEST(FileFilterSdp, EveryOfferInTheSdpCountsAndAnyBlockedOneBlocks) {
  auto chain = defaultChain();
  const std::string sdp = sdpWith("a=file-selector:name:\"a.jpg\" size:1") +
                          "m=message 7655 TCP/MSRP *\r\na=file-selector:name:\"b.bat\" size:2\r\n";
  const Outcome outcome = run(*chain, request("INVITE", "application/sdp", sdp));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .bat\"");
  EXPECT_EQ(outcome.tagValues("file"), (std::vector<std::string>{"a.jpg", "b.bat"}));
  EXPECT_EQ(outcome.tagValues("file_size"), (std::vector<std::string>{"1", "2"}));
}

TEST(FileFilterSdp, SdpPartOfAMultipartBody) {
  auto chain = defaultChain();
  const std::string body = "--xyz\r\nContent-Type: application/sdp\r\n\r\n" +
                           sdpWith("a=file-selector:name:\"run.cmd\" type:text/plain size:77") +
                           "\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nhere is the file\r\n--xyz--\r\n";
  const Outcome outcome = run(*chain, request("INVITE", "multipart/mixed; boundary=xyz", body));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .cmd\"");
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"77"});
}

TEST(FileFilterSdp, CompactContentTypeAndNestedMultipart) {
  auto chain = defaultChain();
  std::string text = sdpInvite("a=file-selector:name:\"x.wsf\"");
  text.replace(text.find("Content-Type: "), 14, "c: ");
  EXPECT_EQ(run(*chain, text).verdict.code(), 488);
  const std::string inner = "--in\r\nContent-Type: Application/SDP\r\n\r\n" +
                            sdpWith("a=file-selector:name:\"y.cpl\"") + "\r\n--in--\r\n";
  const std::string outer = "--out\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
                            "--out\r\nContent-Type: multipart/related; Boundary=\"in\"\r\n\r\n" + inner +
                            "\r\n--out--\r\n";
  const Outcome outcome = run(*chain, request("INVITE", "Multipart/Mixed; boundary=out", outer));
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .cpl\"");
}

TEST(FileFilterSdp, CallsWithoutFileSelectorsAreNotOffers) {
  auto chain = defaultChain();
  const std::string audio = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
                            "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=file-selectorx:name:\"a.exe\"\r\n";
  const Outcome outcome = run(*chain, request("INVITE", "application/sdp", audio));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_TRUE(outcome.tags.empty());
  EXPECT_TRUE(run(*chain, request("INVITE", "", "")).verdict.isContinue());
}

TEST(FileFilterSdp, SelectorWithoutNameIsAnOfferOnlyBlockAllBlocks) {
  const std::string text = sdpInvite("a=file-selector:type:application/octet-stream size:10");
  auto list = defaultChain();
  Outcome outcome = run(*list, text);
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_TRUE(outcome.tagValues("file").empty());
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"10"});
  auto all = chainFrom(R"([{"plugin": "file_filter", "action": "block_all"}])");
  EXPECT_EQ(run(*all, text).verdict.code(), 488);
}

// ---- Lync ms-filetransfer+xml ----------------------------------------------------

TEST(FileFilterLync, XmlEntitiesAreDecoded) {
  auto chain = defaultChain();
  Outcome outcome = run(*chain, lyncInvite("<id>{1}</id><name>Q&amp;A&#32;tool&#46;exe</name><size>99</size>"));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), kBlockedExe);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"Q&A tool.exe"});
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"99"});
  outcome = run(*chain, lyncInvite("<name>slides&#x2E;PPTX</name><size>5</size>"));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"slides.PPTX"});
}

TEST(FileFilterLync, CommentsCdataPrefixesAndNulTricks) {
  auto chain = defaultChain();
  Outcome outcome = run(*chain, lyncInvite("<!-- <name>a.jpg</name> --><name>b.exe</name>"));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"b.exe"});
  outcome = run(*chain, lyncInvite("<name><![CDATA[c.pif]]></name>"));
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .pif\"");
  outcome = run(*chain, lyncInvite("", "", "<ft:request xmlns:ft=\"x\"><ft:publishFile><ft:fileInfo>"
                                           "<ft:name>d.hta</ft:name></ft:fileInfo></ft:publishFile></ft:request>"));
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .hta\"");
  // A NUL is no XML character: the name cannot be read, so it is refused
  // (and its tag masks the control character).
  outcome = run(*chain, lyncInvite("<name>e.exe&#0;.jpg</name>"));
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: file name cannot be read (malformed entity in the name)\"");
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"e.exe_.jpg"}) << "control characters masked";
  outcome = run(*chain, lyncInvite("<name>f.jpg</name><name>g.reg</name>"));
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: file name cannot be read (two <name> elements)\"");
  EXPECT_EQ(outcome.tagValues("file"), (std::vector<std::string>{"f.jpg", "g.reg"}));
}

TEST(FileFilterLync, Base64EncodedPartIsDecoded) {
  auto chain = defaultChain();
  // base64 of lyncXml("<name>h.exe</name>") is built below to keep the test readable.
  const std::string xml = lyncXml("<name>h.exe</name><size>3</size>");
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  for (std::size_t i = 0; i < xml.size(); i += 3) {
    const std::uint32_t chunk = (static_cast<unsigned char>(xml[i]) << 16) |
                                (i + 1 < xml.size() ? static_cast<unsigned char>(xml[i + 1]) << 8 : 0) |
                                (i + 2 < xml.size() ? static_cast<unsigned char>(xml[i + 2]) : 0);
    encoded += alphabet[(chunk >> 18) & 63];
    encoded += alphabet[(chunk >> 12) & 63];
    encoded += i + 1 < xml.size() ? alphabet[(chunk >> 6) & 63] : '=';
    encoded += i + 2 < xml.size() ? alphabet[chunk & 63] : '=';
    if (encoded.size() % 77 == 76) encoded += "\r\n";
  }
  const Outcome outcome = run(*chain, lyncInvite("", "Content-Transfer-Encoding: base64\r\n", encoded));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"h.exe"});
}

TEST(FileFilterLync, UnterminatedMultipartStillScanned) {
  auto chain = defaultChain();
  const std::string body = "--b1\r\nContent-Type: application/ms-filetransfer+xml\r\n\r\n" +
                           lyncXml("<name>i.com</name>");
  EXPECT_EQ(run(*chain, request("INVITE", "multipart/mixed;boundary=b1", body)).verdict.code(), 488);
}

// ---- OCS text/x-msmsgsinvite ------------------------------------------------------

TEST(FileFilterMsMsgs, InviteCommandWithBlockedFileIsForbidden) {
  auto chain = defaultChain();
  const Outcome outcome = run(*chain, msmsgsMessage("Payroll.XLS.JS"));
  EXPECT_EQ(outcome.verdict.code(), 403);
  EXPECT_EQ(outcome.verdict.reason(), "Forbidden");
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .js\"");
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"1234"});
}

TEST(FileFilterMsMsgs, AcceptAndCancelAreNotOffers) {
  auto chain = defaultChain();
  for (const char* command : {"ACCEPT", "CANCEL"}) {
    const Outcome outcome = run(*chain, msmsgsMessage("report.exe", command));
    EXPECT_TRUE(outcome.verdict.isContinue()) << command;
    EXPECT_TRUE(outcome.tags.empty()) << command;
  }
}

TEST(FileFilterMsMsgs, AllowedFilePassesUnchanged) {
  auto chain = defaultChain();
  const std::string text = msmsgsMessage("minutes.docx");
  const Outcome outcome = run(*chain, text);
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.wire, text);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"minutes.docx"});
}

TEST(FileFilterMsMsgs, InsideAnInviteItIsNotAcceptableHere) {
  auto chain = defaultChain();
  std::string text = msmsgsMessage("x.bat");
  text.replace(0, 7, "INVITE");
  text.replace(text.find("CSeq: 1 MESSAGE"), 15, "CSeq: 1 INVITE");
  EXPECT_EQ(run(*chain, text).verdict.code(), 488);
}

// ---- options -------------------------------------------------------------------------

TEST(FileFilterOptions, BlockAllBlocksEveryOfferButNothingElse) {
  auto chain = chainFrom(R"([{"plugin": "file_filter", "action": "block_all"}])");
  Outcome outcome = run(*chain, readSample("12-rfc5547-invite-photo-jpg.sip"));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: file transfer not allowed\"");
  EXPECT_EQ(outcome.tagValues("rule"), std::vector<std::string>{"file_filter:blocked-all"});
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"photo.jpg"});
  outcome = run(*chain, msmsgsMessage("notes.txt"));
  EXPECT_EQ(outcome.verdict.code(), 403);
  EXPECT_EQ(counter(*chain, "blocked.all"), 2u);
  EXPECT_TRUE(run(*chain, readSample("01-message-text-plain.sip")).verdict.isContinue());
  EXPECT_TRUE(run(*chain, readSample("08-lync-im-session-invite.sip")).verdict.isContinue());
}

TEST(FileFilterOptions, OffPassesEverythingButStillTagsForTheArchive) {
  auto chain = chainFrom(R"([{"plugin": "file_filter", "action": "off"}])");
  for (const char* name : {"10-ocs-msmsgsinvite-report-exe.sip", "11-lync-filetransfer-invite-setup-msi.sip",
                           "13-rfc5547-invite-invoice-pdf-exe.sip"}) {
    const std::string text = readSample(name);
    const Outcome outcome = run(*chain, text);
    EXPECT_TRUE(outcome.verdict.isContinue()) << name;
    EXPECT_EQ(outcome.wire, text) << name;
    EXPECT_EQ(outcome.tagValues("file").size(), 1u) << name;
    EXPECT_TRUE(outcome.tagValues("rule").empty()) << name;
  }
  EXPECT_EQ(counter(*chain, "allowed"), 3u);
}

TEST(FileFilterOptions, CustomListWithAndWithoutDotsReplacesTheDefault) {
  auto chain = chainFrom(R"([{"plugin": "file_filter", "extensions": ["jpg", ".PDF", "*.Zip"]}])");
  Outcome outcome = run(*chain, readSample("12-rfc5547-invite-photo-jpg.sip"));
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .jpg\"");
  EXPECT_TRUE(run(*chain, readSample("13-rfc5547-invite-invoice-pdf-exe.sip")).verdict.isContinue())
      << ".exe is not on the custom list";
  EXPECT_EQ(run(*chain, sdpInvite("a=file-selector:name:\"Q3.pdf\"")).warning(),
            "399 sipwarden \"file_filter: blocked extension .pdf\"");
  EXPECT_EQ(run(*chain, msmsgsMessage("backup.ZIP")).verdict.code(), 403);
  EXPECT_EQ(counter(*chain, "blocked.jpg"), 1u);
  EXPECT_EQ(counter(*chain, "blocked.pdf"), 1u);
  EXPECT_EQ(counter(*chain, "blocked.zip"), 1u);
}

TEST(FileFilterOptions, SingleStringAndEmptyList) {
  auto single = chainFrom(R"([{"plugin": "file_filter", "extensions": "docx"}])");
  EXPECT_EQ(run(*single, msmsgsMessage("a.docx")).verdict.code(), 403);
  auto none = chainFrom(R"([{"plugin": "file_filter", "extensions": []}])");
  EXPECT_TRUE(run(*none, readSample("13-rfc5547-invite-invoice-pdf-exe.sip")).verdict.isContinue());
}

TEST(FileFilterOptions, DefaultListIsTheLyncList) {
  auto chain = defaultChain();
  for (const char* extension : {"ade", "bat", "chm", "cmd", "com", "cpl", "exe", "hta", "js", "lnk", "msi", "pif",
                                "reg", "scr", "url", "vbs", "vsmacros", "wsh"}) {
    const Outcome outcome = run(*chain, msmsgsMessage(std::string("file.") + extension));
    EXPECT_EQ(outcome.verdict.code(), 403) << extension;
  }
  for (const char* extension : {"jpg", "png", "docx", "pdf", "txt", "zip", "pptx"}) {
    EXPECT_TRUE(run(*chain, msmsgsMessage(std::string("file.") + extension)).verdict.isContinue()) << extension;
  }
}

TEST(FileFilterOptions, OnlyInviteAndMessageAreInspected) {
  auto chain = defaultChain();
  std::string text = msmsgsMessage("x.exe");
  text.replace(0, 7, "INFO");
  text.replace(text.find("CSeq: 1 MESSAGE"), 15, "CSeq: 1 INFO");
  const Outcome outcome = run(*chain, text);
  EXPECT_TRUE(outcome.verdict.isContinue());
  ASSERT_EQ(outcome.trace.size(), 1u);
  EXPECT_EQ(outcome.trace[0].verdict, "skipped");
}

TEST(FileFilterConfig, ErrorsNameTheKey) {
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "action": "block"}])"),
            "plugins[0].action: expected block_all|block_list|off");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "action": 1}])"), "plugins[0].action: expected a string");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "extensions": 5}])"),
            "plugins[0].extensions: expected a list of strings");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "extensions": [".exe", 7]}])"),
            "plugins[0].extensions[1]: expected a string");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "extensions": [".exe", ".tar.gz"]}])"),
            "plugins[0].extensions[1]: expected a file extension such as \".exe\" (one dot, no spaces)");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "extensions": ["."]}])"),
            "plugins[0].extensions[0]: expected a file extension such as \".exe\" (one dot, no spaces)");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "extensions": ["e x e"]}])"),
            "plugins[0].extensions[0]: expected a file extension such as \".exe\" (one dot, no spaces)");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "actions": "off"}])"), "plugins[0].actions: unknown key");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "action": "off", "extensions": ["exe"]}])"), "");
}

// ---- the parser on its own ------------------------------------------------------------

TEST(FileFilterParser, CandidateExtensions) {
  EXPECT_EQ(file_filter::candidateExtensions("invoice.pdf.exe"), std::vector<std::string>{".exe"});
  EXPECT_EQ(file_filter::candidateExtensions("report.EXE. "), std::vector<std::string>{".exe"});
  EXPECT_EQ(file_filter::candidateExtensions("a.exe::$DATA"), (std::vector<std::string>{".exe::$data", ".exe"}));
  EXPECT_EQ(file_filter::candidateExtensions(std::string("a.exe\0.jpg", 10)), (std::vector<std::string>{".jpg", ".exe"}));
  EXPECT_EQ(file_filter::candidateExtensions("a.exe\"<>|*?"), std::vector<std::string>{".exe"});
  EXPECT_TRUE(file_filter::candidateExtensions("README").empty());
  EXPECT_TRUE(file_filter::candidateExtensions("").empty());
}

TEST(FileFilterParser, SelectorNameDecodesOnlyQuoteAndPercent) {
  EXPECT_EQ(file_filter::decodeSelectorName("a%22b%25c%20d"), "a\"b%c%20d");
  EXPECT_EQ(file_filter::decodeSelectorName("%2"), "%2");
}

TEST(FileFilterParser, OfferTypesAreTheLeafFormsRead) {
  EXPECT_TRUE(file_filter::offerType("application/sdp"));
  EXPECT_TRUE(file_filter::offerType("text/x-msmsgsinvite"));
  EXPECT_TRUE(file_filter::offerType("application/ms-filetransfer+xml"));
  EXPECT_TRUE(file_filter::offerType("application/vnd.gsma.rcs-ft-http+xml"));
  EXPECT_FALSE(file_filter::offerType("text/plain"));
  EXPECT_FALSE(file_filter::offerType("multipart/mixed"));
  EXPECT_FALSE(file_filter::offerType("application/im-iscomposing+xml"));
  EXPECT_TRUE(offersIn("text/plain", "Invitation-Command: INVITE\nApplication-File: z.exe\n").empty());
}

TEST(FileFilterParser, FormsAreReported) {
  auto offers = offersIn("application/ms-filetransfer+xml", lyncXml("<name>a.b</name>"));
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].form, file_filter::Form::LyncXml);
  offers = offersIn("application/sdp", sdpWith("a=file-selector:name:\"x.y\""));
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].form, file_filter::Form::Sdp);
  offers = offersIn("text/x-msmsgsinvite", "Invitation-Command: INVITE\nApplication-File: z.q\n");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].form, file_filter::Form::MsMsgsInvite);
  EXPECT_EQ(offers[0].name, "z.q");
}

// ---- names read strictly, failing closed (issue 17) -----------------------------------

std::string unreadableWarning(const std::string& why) {
  return "399 sipwarden \"file_filter: file name cannot be read (" + why + ")\"";
}

TEST(FileFilterStrictSdp, SelectorsWhoseNameCannotBeReadAreRefusedWithTheReason) {
  struct Case {
    std::string selector;
    std::string why;
  };
  const std::vector<Case> cases = {
      // A client that escapes with backslashes means `Q3 "final".xlsx.scr`;
      // RFC 5547 has no escapes and reads `Q3 \` and then garbage.
      {R"(a=file-selector:name:"Q3 \"final\".xlsx.scr" size:9)", "backslash before the closing quote"},
      {R"(a=file-selector:name:"invoice.pdf\" size:9)", "backslash before the closing quote"},
      {R"(a=file-selector:name:"report.txt" name:"setup.exe")", "two name: attributes"},
      {R"(a=file-selector:size:9 name:"notes.txt type:text/plain)", "unterminated quote"},
      {"a=file-selector:name:\"notes.txt\"" + std::string(10000, '"'), "characters after the closing quote"},
      {R"(a=file-selector:name:"notes.txt" x"y.exe")", "quote outside the name"},
      {R"(a=file-selector:name:notes.txt size:9)", "name not quoted"},
      {R"(a=file-selector:name:"" size:9)", "empty name"},
      {R"(a=file-selector:name: size:9)", "empty name"},
      {R"(a=file-selector:name:"50%.txt")", "'%' not followed by two hex digits"},
      {R"(a=file-selector:name:"a%2.txt")", "'%' not followed by two hex digits"},
      {std::string("a=file-selector:name:\"a.txt\0.b\"", 31), "NUL in name"},
      {R"(a=file-selector:type:text/plain;charset="utf-8 name:"notes.txt")", "unterminated quote in type:"},
      {"a=file-selector:name:\"caf\xE9.txt\"", "file name is not UTF-8"},
  };
  auto chain = defaultChain();
  for (const auto& c : cases) {
    const Outcome outcome = run(*chain, sdpInvite(c.selector));
    EXPECT_EQ(outcome.verdict.code(), 488) << c.selector;
    EXPECT_EQ(outcome.warning(), unreadableWarning(c.why)) << c.selector;
    EXPECT_EQ(outcome.tagValues("rule"), std::vector<std::string>{"file_filter:unreadable-name"}) << c.selector;
  }
  EXPECT_EQ(counter(*chain, "blocked.unreadable_name"), cases.size());
}

TEST(FileFilterStrictSdp, NamesRfc5547CanReadPass) {
  auto chain = defaultChain();
  struct Case {
    std::string selector;
    std::string name;
  };
  for (const Case& c : std::vector<Case>{
           {R"(a=file-selector:name:"my %22best%22 notes.txt" size:9)", "my \"best\" notes.txt"},
           {R"(a=file-selector:name:"100%25 done.txt")", "100% done.txt"},
           {R"(a=file-selector:name:"C:\temp\notes.txt")", "C:\\temp\\notes.txt"},
           {R"(a=file-selector:type:text/plain;charset="utf-8" name:"x y.txt" size:3)", "x y.txt"},
           {"a=file-selector:NAME:\"caf\xC3\xA9.txt\"  size:3 ", "caf\xC3\xA9.txt"},
       }) {
    const Outcome outcome = run(*chain, sdpInvite(c.selector));
    EXPECT_TRUE(outcome.verdict.isContinue()) << c.selector << " " << outcome.warning();
    EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{c.name}) << c.selector;
    EXPECT_TRUE(outcome.tagValues("rule").empty()) << c.selector;
  }
  EXPECT_EQ(counter(*chain, "blocked.unreadable_name"), 0u);
}

TEST(FileFilterStrictSdp, TypeAndSizeAreReadBesideTheName) {
  const auto offers = offersIn(
      "application/sdp", sdpWith(R"(a=file-selector:type:text/plain;charset="a b" size:12 name:"n.txt")"));
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].name, "n.txt");
  EXPECT_EQ(offers[0].type, "text/plain");
  EXPECT_EQ(offers[0].size, "12");
  EXPECT_EQ(offers[0].unreadable, "");
}

TEST(FileFilterStrict, WithoutABlockListAnUnreadableNameIsFlaggedNotRefused) {
  const std::string text = sdpInvite(R"(a=file-selector:name:"report.txt" name:"setup.exe")");
  for (const char* config : {R"([{"plugin": "file_filter", "action": "off"}])",
                             R"([{"plugin": "file_filter", "extensions": []}])"}) {
    auto chain = chainFrom(config);
    const Outcome outcome = run(*chain, text);
    EXPECT_TRUE(outcome.verdict.isContinue()) << config;
    EXPECT_EQ(outcome.wire, text) << config;
    EXPECT_EQ(outcome.tagValues("rule"), std::vector<std::string>{"file_filter:unreadable-name"}) << config;
    EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"report.txt"}) << config;
    EXPECT_EQ(counter(*chain, "unreadable_name"), 1u) << config;
    EXPECT_EQ(counter(*chain, "allowed"), 1u) << config;
  }
  auto all = chainFrom(R"([{"plugin": "file_filter", "action": "block_all"}])");
  EXPECT_EQ(run(*all, text).warning(), "399 sipwarden \"file_filter: file transfer not allowed\"");
}

TEST(FileFilterStrict, UnreadableBlocksEvenWhenAnotherOfferIsOnTheList) {
  // The refusal names the name that cannot be read: it comes first.
  const std::string sdp = sdpWith(R"(a=file-selector:name:"a.exe")") +
                          "m=message 7655 TCP/MSRP *\r\na=file-selector:name:\"b.txt\" name:\"c.txt\"\r\n";
  const Outcome outcome = run(*defaultChain(), request("INVITE", "application/sdp", sdp));
  EXPECT_EQ(outcome.warning(), unreadableWarning("two name: attributes"));
}

TEST(FileFilterStrictLync, NamesAnXmlParserAndARegexReadDifferentlyAreRefused) {
  struct Case {
    std::string fileInfo;
    std::string why;
  };
  auto chain = defaultChain();
  for (const Case& c : std::vector<Case>{
           {"<name>a.txt</name><name>b.txt</name>", "two <name> elements"},
           {"<name>a&nbsp;.txt</name>", "malformed entity in the name"},
           {"<name>a&amp.txt</name>", "malformed entity in the name"},
           {"<name>a&#xD800;.txt</name>", "malformed entity in the name"},
           {"<name>a.exe<!-- -->.txt</name>", "markup inside the name"},
           {"<name>a<b/>.txt</name>", "markup inside the name"},
           {"<name>a<![CDATA[.exe</name>", "unterminated <fileInfo>"},  // the CDATA swallows the rest
           {"<name>notes.txt", "unterminated name element"},
           {"<name>notes\x01.txt</name>", "control character in the name"},
       }) {
    const Outcome outcome = run(*chain, lyncInvite(c.fileInfo));
    EXPECT_EQ(outcome.verdict.code(), 488) << c.fileInfo;
    EXPECT_EQ(outcome.warning(), unreadableWarning(c.why)) << c.fileInfo;
  }
  // Entities, CDATA and prefixes an XML parser reads one way still pass.
  for (const char* fileInfo : {"<name>Q&amp;A&#32;notes&#x2E;txt</name>", "<name><![CDATA[a<b>.txt]]></name>",
                               "<ft:name>x.txt</ft:name>"}) {
    EXPECT_TRUE(run(*chain, lyncInvite(fileInfo)).verdict.isContinue()) << fileInfo;
  }
}

TEST(FileFilterStrictMsMsgs, TwoFilesOrTwoCommandsAreRefused) {
  auto chain = defaultChain();
  const std::string twoFiles = "Invitation-Command: INVITE\r\nApplication-File: a.txt\r\nApplication-File: b.txt\r\n";
  Outcome outcome = run(*chain, request("MESSAGE", "text/x-msmsgsinvite", twoFiles));
  EXPECT_EQ(outcome.verdict.code(), 403);
  EXPECT_EQ(outcome.warning(), unreadableWarning("two Application-File headers"));
  // The hop used to take the last command (CANCEL: no offer) while a client
  // may act on the first (INVITE).
  const std::string twoCommands =
      "Invitation-Command: INVITE\r\nApplication-File: x.exe\r\nInvitation-Command: CANCEL\r\n";
  outcome = run(*chain, request("MESSAGE", "text/x-msmsgsinvite", twoCommands));
  EXPECT_EQ(outcome.verdict.code(), 403);
  EXPECT_EQ(outcome.warning(), unreadableWarning("two Invitation-Command headers"));
  outcome = run(*chain, request("MESSAGE", "text/x-msmsgsinvite", "Invitation-Command: INVITE\r\nApplication-File:\r\n"));
  EXPECT_EQ(outcome.warning(), unreadableWarning("empty name"));
}

// ---- names judged as Windows opens them (issue 17) -------------------------------------

TEST(FileFilterDisguisedNames, BidiAndInvisibleCharactersAreRemovedBeforeTheExtensionIsTaken) {
  auto chain = defaultChain();
  struct Case {
    std::string name;
    std::string tag;  // as the archive and the log show it
  };
  for (const Case& c : std::vector<Case>{
           // Shows as "reportexe.pdf".
           {"report\xE2\x80\xAE" "fdp.exe", "report<U+202E>fdp.exe"},
           {"report.ex\xE2\x80\x8B" "e", "report.ex<U+200B>e"},             // zero-width space
           {"report.exe\xC2\xAD", "report.exe<U+00AD>"},                    // soft hyphen
           {"report.e\xE2\x81\xA0xe\xEF\xBB\xBF", "report.e<U+2060>xe<U+FEFF>"},  // word joiner, BOM
           {"report.\xE2\x81\xA6" "exe\xE2\x81\xA9", "report.<U+2066>exe<U+2069>"},  // isolates
           {"report.exe\xD8\x9C", "report.exe<U+061C>"},                    // Arabic letter mark
           {"report.exe\xE2\x80\x8F", "report.exe<U+200F>"},                // RLM
           // Full-width forms: Windows sees no extension, a client that
           // normalises (NFKC) saves "x.exe".
           {"x\xEF\xBC\x8E" "exe", "x\xEF\xBC\x8E" "exe"},
           {"\xEF\xBD\x93\xEF\xBD\x85\xEF\xBD\x94\xEF\xBD\x95\xEF\xBD\x90\xEF\xBC\x8E\xEF\xBC\xA5\xEF\xBC\xB8\xEF\xBC\xA5",
            "\xEF\xBD\x93\xEF\xBD\x85\xEF\xBD\x94\xEF\xBD\x95\xEF\xBD\x90\xEF\xBC\x8E\xEF\xBC\xA5\xEF\xBC\xB8\xEF\xBC\xA5"},
           {"x\xE3\x80\x82" "exe", "x\xE3\x80\x82" "exe"},  // ideographic full stop
       }) {
    for (const std::string& text :
         {sdpInvite("a=file-selector:name:\"" + c.name + "\""), lyncInvite("<name>" + c.name + "</name>"),
          msmsgsMessage(c.name)}) {
      const Outcome outcome = run(*chain, text);
      EXPECT_EQ(outcome.warning(), kBlockedExe) << c.tag;
      EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{c.tag});
    }
  }
  EXPECT_GE(counter(*chain, "names.invisible"), 21u);
}

TEST(FileFilterDisguisedNames, LegitimateJoinersAndMarksPass) {
  auto chain = defaultChain();
  // Persian needs ZWNJ; Hebrew file names carry RLM.
  const std::string persian = "\xD9\x86\xD8\xA7\xD9\x85\xD9\x87\xE2\x80\x8C\xD9\x87\xD8\xA7.pdf";
  const Outcome outcome = run(*chain, sdpInvite("a=file-selector:name:\"" + persian + "\""));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.tagValues("file"),
            std::vector<std::string>{"\xD9\x86\xD8\xA7\xD9\x85\xD9\x87<U+200C>\xD9\x87\xD8\xA7.pdf"});
  EXPECT_TRUE(run(*chain, sdpInvite("a=file-selector:name:\"\xE2\x80\x8F\xD7\xA9.docx\"")).verdict.isContinue());
}

// ---- RCS / Linphone file transfer over HTTP (issue 17) --------------------------------

std::string rcsFileInfo(const std::string& type, const std::string& inner) {
  return "<file-info type=\"" + type + "\">" + inner + "</file-info>";
}

std::string rcsDescriptor(const std::string& fileInfos) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<file xmlns=\"urn:gsma:params:xml:ns:rcs:rcs:fthttp\">\r\n" +
         fileInfos + "\r\n</file>\r\n";
}

const std::string kRcsThumbnail = rcsFileInfo(
    "thumbnail", "<file-size>7427</file-size><content-type>image/jpeg</content-type>"
                 "<data url=\"https://ft.example.com/t/thumb.jpg\" until=\"2030-01-01T00:00:00Z\"/>");

std::string rcsFile(const std::string& name, const std::string& url = "https://ft.example.com/f/abc123") {
  return rcsFileInfo("file", "<file-size>284672</file-size>" +
                                 (name.empty() ? "" : "<file-name>" + name + "</file-name>") +
                                 "<content-type>application/pdf</content-type><data url=\"" + url +
                                 "\" until=\"2030-01-01T00:00:00Z\"/>");
}

std::string rcsMessage(const std::string& descriptor) {
  return request("MESSAGE", "application/vnd.gsma.rcs-ft-http+xml", descriptor);
}

TEST(FileFilterRcs, BlockedFileIsForbiddenAndTheThumbnailIsNotTheFile) {
  auto chain = defaultChain();
  const Outcome outcome = run(*chain, rcsMessage(rcsDescriptor(kRcsThumbnail + rcsFile("invoice.pdf.exe"))));
  EXPECT_EQ(outcome.verdict.code(), 403);
  EXPECT_EQ(outcome.warning(), kBlockedExe);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"invoice.pdf.exe"});
  EXPECT_EQ(outcome.tagValues("file_size"), std::vector<std::string>{"284672"});
  EXPECT_EQ(counter(*chain, "offers"), 1u) << "the thumbnail is not an offer";
}

TEST(FileFilterRcs, AllowedFilePassesUnchangedAndIsTagged) {
  auto chain = defaultChain();
  const std::string text = rcsMessage(rcsDescriptor(kRcsThumbnail + rcsFile("holiday.mov")));
  const Outcome outcome = run(*chain, text);
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.wire, text);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"holiday.mov"});
  const auto offers = offersIn("application/vnd.gsma.rcs-ft-http+xml",
                                            rcsDescriptor(kRcsThumbnail + rcsFile("holiday.mov")));
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].form, file_filter::Form::RcsFtHttp);
  EXPECT_EQ(offers[0].type, "application/pdf");
  EXPECT_EQ(offers[0].url, "https://ft.example.com/f/abc123");
  EXPECT_EQ(offers[0].unreadable, "");
  // A thumbnail alone offers nothing.
  EXPECT_TRUE(run(*chain, rcsMessage(rcsDescriptor(kRcsThumbnail))).tags.empty());
}

TEST(FileFilterRcs, WithoutAFileNameTheUrlNamesTheFile) {
  // Linphone saves such a file under the URL's last path segment.
  auto chain = defaultChain();
  Outcome outcome = run(*chain, rcsMessage(rcsDescriptor(rcsFile("", "https://ft.example.com/d/tool%2Eexe?t=1#x"))));
  EXPECT_EQ(outcome.warning(), kBlockedExe);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"tool.exe"});
  // Linphone writes `url = "..."`; attribute values are entity-decoded.
  const std::string linphone = "<file-info type=\"file\"><file-size>1</file-size>"
                               "<data url = \"https://ft.example.com/a?b=1&amp;n=/x.exe\"/></file-info>";
  outcome = run(*chain, rcsMessage(rcsDescriptor(linphone)));
  EXPECT_TRUE(outcome.verdict.isContinue()) << "the query is not the path";
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"a"});
}

TEST(FileFilterRcs, AmbiguousDescriptorsAreRefused) {
  auto chain = defaultChain();
  struct Case {
    std::string fileInfos;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{
           {rcsFileInfo("file", "<file-name>a.txt</file-name><file-name>b.txt</file-name>"),
            "two <file-name> elements"},
           {"<file-info type=\"thumbnail\" type=\"file\"><file-name>a.txt</file-name></file-info>",
            "two type attributes on <file-info>"},
           {rcsFileInfo("file", "<file-name>a.txt</file-name><data url=\"https://a/x\"/><data url=\"https://a/y\"/>"),
            "two <data> elements"},
           {rcsFileInfo("file", "<file-name>a&#0;.txt</file-name>"), "malformed entity in the name"},
           {"<file-info type=\"file\"><file-name>a.txt</file-name>", "unterminated <file-info>"},
       }) {
    const Outcome outcome = run(*chain, rcsMessage(rcsDescriptor(c.fileInfos)));
    EXPECT_EQ(outcome.verdict.code(), 403) << c.fileInfos;
    EXPECT_EQ(outcome.warning(), unreadableWarning(c.why)) << c.fileInfos;
  }
  // An unknown or missing type is taken for a file.
  EXPECT_EQ(run(*chain, rcsMessage(rcsDescriptor("<file-info><file-name>a.exe</file-name></file-info>"))).warning(),
            kBlockedExe);
  EXPECT_EQ(run(*chain, rcsMessage(rcsDescriptor(rcsFileInfo("Thumbnail", "<file-name>a.exe</file-name>")))).warning(),
            kBlockedExe);
}

TEST(FileFilterRcs, InsideCpimAndMultipart) {
  auto chain = defaultChain();
  const std::string descriptor = rcsDescriptor(kRcsThumbnail + rcsFile("setup.msi"));
  const std::string cpim = "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n"
                           "DateTime: 2030-01-01T00:00:00Z\r\n\r\n"
                           "Content-Type: application/vnd.gsma.rcs-ft-http+xml\r\n"
                           "Content-Length: " + std::to_string(descriptor.size()) + "\r\n\r\n" + descriptor;
  Outcome outcome = run(*chain, request("MESSAGE", "message/cpim", cpim));
  EXPECT_EQ(outcome.verdict.code(), 403);
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .msi\"");
  const std::string multipart = "--m\r\nContent-Type: text/plain\r\n\r\nhere\r\n--m\r\n"
                                "Content-Type: message/cpim\r\n\r\n" + cpim + "\r\n--m--\r\n";
  outcome = run(*chain, request("MESSAGE", "multipart/mixed; boundary=m", multipart));
  EXPECT_EQ(outcome.warning(), "399 sipwarden \"file_filter: blocked extension .msi\"");
}

// ---- limits and adversarial bodies (issue 16) -----------------------------------------

// RFC 5547 selectors, one line each.
std::string selectors(const std::vector<std::string>& names) {
  std::string lines;
  for (const auto& name : names) {
    lines += (lines.empty() ? "" : "\r\n") + std::string("a=file-selector:name:\"") + name + "\" size:10";
  }
  return lines;
}

bool failedClosed(const Outcome& outcome) { return outcome.failedClosed("file_filter"); }

TEST(FileFilterLimits, ConfigErrorsNameTheKey) {
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "max_body_bytes": 0}])"),
            "plugins[0].max_body_bytes: expected an integer from 1 to 1073741824");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "max_offers": 0}])"),
            "plugins[0].max_offers: expected an integer from 1 to 1000000");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "max_offers": "all"}])"),
            "plugins[0].max_offers: expected an integer");
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "max_offers": 5, "max_body_bytes": 65536}])"), "");
}

TEST(FileFilterLimits, BodyOverMaxBodyBytesFollowsTheFailMode) {
  const std::string selector = "a=file-selector:name:\"setup.exe\" size:10";
  const std::string size = std::to_string(sdpWith(selector).size());
  const std::string under = std::to_string(sdpWith(selector).size() - 1);
  const Outcome open = run(*chainFrom(R"([{"plugin": "file_filter", "max_body_bytes": )" + under + "}]"),
                           sdpInvite(selector));
  EXPECT_TRUE(open.verdict.isContinue());
  ASSERT_EQ(open.trace.size(), 1u);
  EXPECT_EQ(open.trace[0].verdict, "error (open)");
  EXPECT_EQ(open.trace[0].reason, "body of " + size + " bytes, over max_body_bytes (" + under + ")");
  EXPECT_TRUE(open.tagValues("file").empty()) << "a body not read is not tagged";

  auto closed = chainFrom(R"([{"plugin": "file_filter", "fail_mode": "closed", "max_body_bytes": )" + under + "}]");
  EXPECT_TRUE(failedClosed(run(*closed, sdpInvite(selector))));
  EXPECT_EQ(counter(*closed, "over_limit.body"), 1u);
  // A body that cannot hold an offer is not read whatever its size.
  EXPECT_TRUE(run(*closed, request("MESSAGE", "text/plain", std::string(200, 'x'))).verdict.isContinue());
  // At the limit it is read, and the offer refused.
  auto atLimit = chainFrom(R"([{"plugin": "file_filter", "fail_mode": "closed", "max_body_bytes": )" + size + "}]");
  EXPECT_EQ(run(*atLimit, sdpInvite(selector)).verdict.code(), 488);
}

TEST(FileFilterLimits, MoreOffersThanMaxOffersFollowTheFailMode) {
  const std::string offers = selectors({"a1.txt", "a2.txt", "a3.txt", "a4.txt", "a5.txt"});
  const Outcome open = run(*chainFrom(R"([{"plugin": "file_filter", "max_offers": 3}])"), sdpInvite(offers));
  EXPECT_TRUE(open.verdict.isContinue());
  EXPECT_EQ(open.trace[0].verdict, "error (open)");
  EXPECT_EQ(open.trace[0].reason, "more than max_offers (3) file offers");
  EXPECT_EQ(open.tagValues("file"), (std::vector<std::string>{"a1.txt", "a2.txt", "a3.txt"}))
      << "the offers examined are tagged, the others not";

  auto closed = chainFrom(R"([{"plugin": "file_filter", "fail_mode": "closed", "max_offers": 3}])");
  EXPECT_TRUE(failedClosed(run(*closed, sdpInvite(offers))));
  EXPECT_EQ(counter(*closed, "over_limit.offers"), 1u);
  // Exactly max_offers offers are all examined.
  auto five = chainFrom(R"([{"plugin": "file_filter", "fail_mode": "closed", "max_offers": 5}])");
  EXPECT_TRUE(run(*five, sdpInvite(offers)).verdict.isContinue());
}

TEST(FileFilterLimits, ARefusalAmongTheOffersReadStands) {
  auto open = chainFrom(R"([{"plugin": "file_filter", "max_offers": 3}])");
  const Outcome blocked = run(*open, sdpInvite(selectors({"a1.txt", "x.exe", "a3.txt", "a4.txt", "a5.txt"})));
  EXPECT_EQ(blocked.verdict.code(), 488);
  EXPECT_EQ(blocked.warning(), kBlockedExe);
  auto all = chainFrom(R"([{"plugin": "file_filter", "action": "block_all", "max_offers": 1}])");
  EXPECT_EQ(run(*all, sdpInvite(selectors({"a1.txt", "a2.txt"}))).verdict.code(), 488);
  // A blocked file after the limit is not seen: the fail mode decides.
  auto closed = chainFrom(R"([{"plugin": "file_filter", "fail_mode": "closed", "max_offers": 3}])");
  EXPECT_TRUE(failedClosed(run(*closed, sdpInvite(selectors({"a1.txt", "a2.txt", "a3.txt", "a4.txt", "x.exe"})))));
}

TEST(FileFilterLimits, FindOffersStopsOnePastTheLimit) {
  const std::string sdp = sdpWith(selectors({"a1.txt", "a2.txt", "a3.txt", "a4.txt", "a5.txt"}));
  EXPECT_EQ(offersIn("application/sdp", sdp, 2).size(), 3u);
  EXPECT_EQ(offersIn("application/sdp", sdp, 5).size(), 5u);
  const std::string msmsgs = "Invitation-Command: INVITE\nApplication-File: a.q\nApplication-File: b.q\n"
                             "Application-File: c.q\n";
  EXPECT_EQ(offersIn("text/x-msmsgsinvite", msmsgs, 1).size(), 2u);
  std::string infos;
  for (int i = 0; i < 4; ++i) infos += "<fileInfo><name>f" + std::to_string(i) + ".txt</name></fileInfo>";
  EXPECT_EQ(offersIn("application/ms-filetransfer+xml", "<request>" + infos + "</request>", 2).size(), 3u);
}

// An INVITE whose offer sits `levels` multiparts deep.
std::string nestedOffer(int levels, const std::string& name) {
  std::string body = sdpWith("a=file-selector:name:\"" + name + "\"");
  std::string type = "application/sdp";
  for (int level = 0; level < levels; ++level) {
    const std::string boundary = "n" + std::to_string(level);
    body = "--" + boundary + "\r\nContent-Type: " + type + "\r\n\r\n" + body + "\r\n--" + boundary + "--\r\n";
    type = "multipart/mixed; boundary=" + boundary;
  }
  return request("INVITE", type, body);
}

TEST(FileFilterLimits, BodyNestedTooDeepFollowsOnUnreadable) {
  // The SDK reads kMaxBodyNesting levels; an offer deeper is unreadable
  // content, which on_unreadable decides (block by default): not passed as if
  // there were no offer.
  auto chain = defaultChain();
  EXPECT_EQ(run(*chain, nestedOffer(kMaxBodyNesting, "x.exe")).verdict.code(), 488);
  EXPECT_TRUE(run(*chain, nestedOffer(kMaxBodyNesting, "x.txt")).verdict.isContinue());
  const Outcome deep = run(*chain, nestedOffer(kMaxBodyNesting + 1, "x.txt"));
  EXPECT_EQ(deep.verdict.code(), 415);
  EXPECT_TRUE(deep.warning().starts_with("399 sipwarden \"file_filter: unreadable content: ")) << deep.warning();
  EXPECT_EQ(deep.tagValues("rule"), std::vector<std::string>{"file_filter:unreadable"});
  EXPECT_EQ(counter(*chain, "unreadable"), 1u);

  auto flag = chainFrom(R"([{"plugin": "file_filter", "on_unreadable": "flag"}])");
  Outcome outcome = run(*flag, nestedOffer(kMaxBodyNesting + 1, "x.exe"));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.tagValues("rule"), std::vector<std::string>{"file_filter:unreadable"});
  auto pass = chainFrom(R"([{"plugin": "file_filter", "on_unreadable": "pass"}])");
  outcome = run(*pass, nestedOffer(kMaxBodyNesting + 1, "x.exe"));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_TRUE(outcome.tagValues("rule").empty());
  EXPECT_EQ(counter(*pass, "unreadable"), 1u);
  // `off` blocks nothing: at most it flags.
  auto off = chainFrom(R"([{"plugin": "file_filter", "action": "off"}])");
  outcome = run(*off, nestedOffer(kMaxBodyNesting + 1, "x.exe"));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.tagValues("rule"), std::vector<std::string>{"file_filter:unreadable"});
  EXPECT_EQ(buildError(R"([{"plugin": "file_filter", "on_unreadable": "drop"}])"),
            "plugins[0].on_unreadable: expected block|flag|pass");
}

TEST(FileFilterLimits, ABlockedOfferReadStandsBeforeUnreadableContent) {
  // A readable .exe beside a part nested too deep: the extension is named.
  const std::string deep = nestedOffer(kMaxBodyNesting + 1, "x.txt");
  const std::string deepBody = deep.substr(deep.find("\r\n\r\n") + 4);
  const std::string deepType = "multipart/mixed; boundary=n" + std::to_string(kMaxBodyNesting);
  const std::string body = "--top\r\nContent-Type: application/sdp\r\n\r\n" + sdpWith("a=file-selector:name:\"y.exe\"") +
                           "\r\n--top\r\nContent-Type: " + deepType + "\r\n\r\n" + deepBody + "\r\n--top--\r\n";
  const Outcome outcome = run(*defaultChain(), request("INVITE", "multipart/mixed; boundary=top", body));
  EXPECT_EQ(outcome.warning(), kBlockedExe);
}

TEST(FileFilterSdk, EncodedOffersAreReadAsTheSdkDecodesThem) {
  auto chain = defaultChain();
  // quoted-printable SDP part; gzip is covered by the SDK's own tests.
  const std::string body = "--q\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                           "v=3D0\r\na=3Dfile-selector:name:\"q.e=\r\nxe\"\r\n--q--\r\n";
  const Outcome outcome = run(*chain, request("INVITE", "multipart/mixed; boundary=q", body));
  EXPECT_EQ(outcome.warning(), kBlockedExe);
  EXPECT_EQ(outcome.tagValues("file"), std::vector<std::string>{"q.exe"});
}

TEST(FileFilterAdversarial, NameOfManyStreamPiecesEachWithItsExtension) {
  // "a.x0:a.x1:...:a.exe": every piece is a candidate, each extension once.
  std::string name;
  for (int i = 0; i < 20000; ++i) name += "a.x" + std::to_string(i) + ":";
  name += "a.exe";
  const std::vector<std::string> candidates = file_filter::candidateExtensions(name);
  ASSERT_EQ(candidates.size(), 20001u);
  EXPECT_EQ(candidates.front(), ".exe");
  EXPECT_EQ(candidates[1], ".x0");
  EXPECT_EQ(candidates.back(), ".x19999");
  const Outcome outcome = run(*defaultChain(), sdpInvite("a=file-selector:name:\"" + name + "\""));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), kBlockedExe);
}

TEST(FileFilterAdversarial, NameOfQuotes) {
  // 10,000 %22 (decoded quotes) and stray quotes in the selector.
  std::string name = "a";
  for (int i = 0; i < 10000; ++i) name += "%22";
  const Outcome outcome =
      run(*defaultChain(), sdpInvite("a=file-selector:name:\"" + name + ".exe\" " + std::string(10001, '"')));
  EXPECT_EQ(outcome.verdict.code(), 488);
}

TEST(FileFilterAdversarial, LongBoundaryOverABodyThatAlmostRepeatsIt) {
  // A 4 KiB boundary of '-' over 300,000 '-': a delimiter search comparing
  // the whole delimiter at every '-' would make 1.2 billion comparisons.
  const std::string boundary = std::string(4095, '-') + "x";
  const std::string body = "--" + boundary + "\r\nContent-Type: text/plain\r\n\r\nhi\r\n" + std::string(300000, '-') +
                           "\r\n--" + boundary + "\r\nContent-Type: application/sdp\r\n\r\n" +
                           sdpWith("a=file-selector:name:\"x.exe\"") + "\r\n--" + boundary + "--\r\n";
  const Outcome outcome =
      run(*defaultChain(), request("INVITE", "multipart/mixed; boundary=\"" + boundary + "\"", body));
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.warning(), kBlockedExe);
}

TEST(FileFilterAdversarial, LyncNameOfAmpersands) {
  // 200,000 '&' without ';' before the name: each was a search to the end.
  const std::string fileInfo = "<name>" + std::string(200000, '&') + "&amp;x.exe</name><size>10</size>";
  const Outcome outcome = run(*defaultChain(), lyncInvite(fileInfo));
  EXPECT_EQ(outcome.verdict.code(), 488);
  auto offers = offersIn("application/ms-filetransfer+xml", lyncXml(fileInfo));
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].name, std::string(200001, '&') + "x.exe");
}

TEST(FileFilterAdversarial, ManyOffersStopAtTheDefaultLimit) {
  std::vector<std::string> names;
  for (int i = 0; i < 20000; ++i) names.push_back("f" + std::to_string(i) + ".txt");
  auto closed = chainFrom(R"([{"plugin": "file_filter", "fail_mode": "closed"}])");
  const Outcome outcome = run(*closed, sdpInvite(selectors(names)));
  EXPECT_TRUE(failedClosed(outcome));
  EXPECT_EQ(outcome.trace[0].reason, "more than max_offers (100) file offers");
  EXPECT_EQ(counter(*closed, "offers"), 100u);
}

}  // namespace
}  // namespace sipwarden::pipeline
