// Over 500 lines because it is one reading: the container walk (multipart,
// CPIM, rfc822), the per-part decoding and the rendering of edits share the
// Part and Span bookkeeping, and splitting them would spread one invariant
// (a part's bytes, its decoding and how an edit goes back) over files.
#include "im/im_body.h"

#include <algorithm>

#include <tuple>
#include <unordered_set>

#include "im/enriched_text.h"
#include "im/rtf_text.h"
#include "sipwarden/delimiter_search.h"
#include "sip/grammar.h"
#include "sip/header_id.h"
#include "sipwarden/html_text.h"
#include "sipwarden/utf8.h"

namespace sipwarden::im {
namespace {

// Bodies that carry no text a person reads: they pass as before, and a
// MESSAGE made only of them is not an instant message (docs/plugin-sdk.md).
bool isNotification(std::string_view type) {
  static constexpr std::string_view kNotifications[] = {
      "application/im-iscomposing+xml", "message/imdn+xml",         "application/pidf+xml",
      "application/pidf-diff+xml",      "application/xpidf+xml",    "application/rlmi+xml",
      "application/watcherinfo+xml",    "application/dialog-info+xml", "application/simple-message-summary",
      "application/reginfo+xml",        "message/sipfrag",          "application/sdp"};
  return std::find(std::begin(kNotifications), std::end(kNotifications), type) != std::end(kNotifications);
}

// SVG is XML whose <a href> a browser-based client makes clickable.
// A notification body that does not look like its format is not one: a
// client that shows any MESSAGE body would show it as text.
bool looksLikeItsFormat(std::string_view type, std::string_view body) {
  std::size_t start = body.starts_with("\xef\xbb\xbf") ? 3 : 0;
  while (start < body.size() && (body[start] == ' ' || body[start] == '\t' || body[start] == '\r' || body[start] == '\n')) {
    ++start;
  }
  body.remove_prefix(std::min(start, body.size()));
  if (type == "application/sdp") return body.starts_with("v=");
  if (type == "message/sipfrag") return body.starts_with("SIP/") || body.find(" SIP/2.0") != std::string_view::npos;
  if (type == "application/simple-message-summary") return sip::iequals(body.substr(0, 16), "Messages-Waiting");
  return body.starts_with("<");  // the XML ones
}

bool readsAsHtml(std::string_view type) {
  return type == "text/html" || type == "application/xhtml+xml" || type == "image/svg+xml";
}
bool isRtf(std::string_view type) { return type == "text/rtf" || type == "application/rtf"; }
bool isEnriched(std::string_view type) { return type == "text/enriched" || type == "text/richtext"; }
bool isRcsFileTransfer(std::string_view type) { return type == "application/vnd.gsma.rcs-ft-http+xml"; }

// Content whose failure to read is a decision for the filters: what a
// client shows as text, and the containers that hold it.
bool isTextLike(std::string_view type) {
  return type.starts_with("text/") || readsAsHtml(type) || isRtf(type) || isRcsFileTransfer(type) ||
         type.starts_with("multipart/") || type == "message/cpim" || type == "message/rfc822" || type == "message/global";
}

// Header values quoted in a reason: short, printable ASCII only.
std::string printable(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, 64)) {
    const auto byte = static_cast<unsigned char>(c);
    out += (byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\') ? c : '?';
  }
  return out;
}

std::string child(const std::string& parent, std::string_view name) {
  return parent == "body" ? std::string(name) : parent + "." + std::string(name);
}

// What an RCS file-transfer-over-HTTP descriptor says, as text: the file's
// name, type and size, and each download URL (the file's and its
// thumbnail's), one per line, so that url_filter and keyword read it like
// any message.
std::string rcsFileTransferText(std::string_view xml) {
  std::string text = html::toText(xml);
  for (std::size_t at = xml.find("url"); at != std::string_view::npos; at = xml.find("url", at + 3)) {
    std::size_t pos = at + 3;
    while (pos < xml.size() && (xml[pos] == ' ' || xml[pos] == '\t')) ++pos;
    if (pos >= xml.size() || xml[pos] != '=') continue;
    ++pos;
    while (pos < xml.size() && (xml[pos] == ' ' || xml[pos] == '\t')) ++pos;
    if (pos >= xml.size() || (xml[pos] != '"' && xml[pos] != '\'')) continue;
    const std::size_t end = xml.find(xml[pos], pos + 1);
    if (end == std::string_view::npos) break;
    text += "\n" + html::toText(xml.substr(pos + 1, end - pos - 1));
  }
  return text;
}

// UTF-16 sent without a charset (or a BOM) shows as text full of NULs.
bool looksLikeUtf16(std::string_view bytes) {
  if (bytes.size() >= 2 && (bytes.starts_with("\xff\xfe") || bytes.starts_with("\xfe\xff"))) return true;
  const std::size_t nuls = static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\0'));
  return nuls * 4 >= bytes.size() && nuls > 0;
}

}  // namespace

namespace {

ImBody::Headers lookUp(const ImBody::HeaderLookup& header, const ImBody::HeaderCount& count) {
  ImBody::Headers found;
  found.contentEncoding = header("Content-Encoding");
  found.transferEncoding = header("Content-Transfer-Encoding");
  found.msTextFormat = header("Ms-Text-Format");
  found.msImFormat = header("Ms-IM-Format");
  auto times = [&](const char* name, const std::optional<std::string_view>& value) -> std::size_t {
    return count ? count(name) : value ? 1 : 0;
  };
  found.contentTypes = count ? count("Content-Type") : 1;
  found.contentEncodings = times("Content-Encoding", found.contentEncoding);
  found.transferEncodings = times("Content-Transfer-Encoding", found.transferEncoding);
  found.msTextFormats = times("Ms-Text-Format", found.msTextFormat);
  found.msImFormats = times("Ms-IM-Format", found.msImFormat);
  return found;
}

}  // namespace

ImBody::ImBody(std::string_view method, std::string_view contentType, std::string body, const HeaderLookup& header,
               const HeaderCount& count)
    : ImBody(method, contentType, std::move(body), lookUp(header, count)) {}

ImBody::ImBody(std::string_view method, std::string_view contentType, std::string body, const Headers& headers)
    : method_(method), body_(std::move(body)) {
  if (!body_.empty()) {
    bool readable = true;
    const std::pair<const char*, std::size_t> repeats[] = {{"Content-Type", headers.contentTypes},
                                                           {"Content-Encoding", headers.contentEncodings},
                                                           {"Content-Transfer-Encoding", headers.transferEncodings}};
    for (const auto& [name, times] : repeats) {
      if (times > 1) {
        addUnreadable(std::string("the request gives ") + name + " more than once");
        readable = false;
      }
    }
    if (readable && headers.contentEncoding) {
      bodyEncoding_ = contentEncodingOf(*headers.contentEncoding);
      if (bodyEncoding_ != ContentEncoding::Identity) {
        Inflated inflated = decodeContent(bodyEncoding_, body_, kMaxDecodedBodyBytes);
        if (inflated.bytes) {
          body_ = std::move(*inflated.bytes);
          rawDeflate_ = inflated.rawDeflate;
        } else {
          addUnreadable(inflated.error + " (Content-Encoding: " + printable(*headers.contentEncoding) + ")");
          bodyEncoding_ = ContentEncoding::Identity;
          readable = false;
        }
      }
    }
    // RFC 3261 has no Content-Transfer-Encoding, but clients built on MIME
    // libraries honour one on the request itself.
    if (readable && !headers.transferEncoding && bodyEncoding_ == ContentEncoding::Identity &&
        readPlainUtf8(contentType)) {
      readable = false;  // read by the fast path
    }
    if (readable) {
      readEntity(Declared{contentType, headers.transferEncoding.value_or(""), "body", false},
                 Span{-1, 0, body_.size()}, 0);
    }
  }
  if (method_ == "MESSAGE" || method_ == "INVITE") {
    const std::tuple<const char*, const std::optional<std::string_view>&, std::size_t> copies[] = {
        {"Ms-Text-Format", headers.msTextFormat, headers.msTextFormats},
        {"Ms-IM-Format", headers.msImFormat, headers.msImFormats}};
    for (const auto& [name, value, times] : copies) {
      if (times > 1) {
        addUnreadable(std::string("the request gives ") + name + " more than once");
      } else if (value) {
        scanHeader(name, *value);
      }
    }
  }
}

bool ImBody::readPlainUtf8(std::string_view contentType) {
  // Most messages are "text/plain" or "text/plain;charset=UTF-8" over ASCII
  // or UTF-8: read them without the general machinery, which costs more
  // than the rest of the filter chain on such a message.
  const std::size_t semicolon = std::min(contentType.find(';'), contentType.size());
  if (!sip::iequals(sip::trim(contentType.substr(0, semicolon)), "text/plain")) return false;
  if (semicolon < contentType.size()) {
    std::string_view parameter = sip::trim(contentType.substr(semicolon + 1));
    if (!sip::iequals(parameter, "charset=utf-8") && !sip::iequals(parameter, "charset=\"utf-8\"") &&
        !sip::iequals(parameter, "charset=us-ascii")) {
      return false;
    }
  }
  const std::string_view bytes = body_;
  if (!isPlainAscii(bytes) && (bytes.find('\0') != std::string_view::npos || !utf8::isValid(bytes))) return false;
  ++leaves_;
  entities_.push_back(Entity{"text/plain", "body", Span{-1, 0, body_.size()}});
  if (method_ != "MESSAGE") return true;
  Part part;
  part.type = "text/plain";
  part.mediaType = "text/plain";
  part.location = "body";
  part.span = Span{-1, 0, body_.size()};
  parts_.push_back(std::move(part));
  return true;
}

void ImBody::addUnreadable(std::string reason) {
  // One reason per place is enough to decide; a body of 100,000 broken parts
  // must not make 100,000 strings.
  if (unreadable_.size() < 16) unreadable_.push_back(std::move(reason));
}

ImBody::Span ImBody::store(std::string bytes) {
  buffers_.push_back(std::move(bytes));
  return Span{static_cast<int>(buffers_.size() - 1), 0, buffers_.back().size()};
}

std::string ImBody::originalPlainText() const {
  return originalPlainText_ ? *originalPlainText_ : joinedText(true);
}

void ImBody::readEntity(const Declared& declared, Span span, int depth) {
  const std::string& where = declared.location;
  if (declared.ambiguous) {
    addUnreadable("two different Content-Type or Content-Transfer-Encoding headers in " + where);
    return;
  }
  MediaType media = parseMediaType(declared.contentType);
  if (!media.valid) {
    addUnreadable("a Content-Type that is not a media type (" + printable(declared.contentType) + ") in " + where);
    return;
  }
  if (media.conflicting) {
    addUnreadable("a Content-Type parameter given twice with different values in " + where);
    return;
  }
  if (leaves_ >= kMaxBodyParts) {
    if (leaves_++ == kMaxBodyParts) addUnreadable("more than " + std::to_string(kMaxBodyParts) + " parts");
    return;
  }
  // RFC 2046's default for a part; a body sent without a Content-Type is
  // shown as text by the clients that accept it.
  if (media.type.empty()) media.type = "text/plain";
  const bool textLike = isTextLike(media.type);
  const TransferEncoding transfer = transferEncodingOf(declared.transfer);
  if (transfer == TransferEncoding::Unknown) {
    if (textLike) addUnreadable("unknown Content-Transfer-Encoding " + printable(declared.transfer) + " in " + where);
    else ++otherParts_;
    return;
  }
  Span decoded = span;
  if (transfer != TransferEncoding::Identity) {
    std::optional<std::string> bytes = decodeTransfer(transfer, viewOf(span));
    if (!bytes) {
      if (textLike) addUnreadable("broken " + printable(declared.transfer) + " encoding in " + where);
      else ++otherParts_;
      return;
    }
    decoded = store(std::move(*bytes));
  }
  const bool cpim = media.type == "message/cpim";
  const bool embedded = media.type == "message/rfc822" || media.type == "message/global";
  if (cpim || embedded || media.type.starts_with("multipart/")) {
    if (depth >= kMaxBodyNesting) {
      addUnreadable(media.type + " nested deeper than " + std::to_string(kMaxBodyNesting) + " levels in " + where);
      return;
    }
    if (cpim) readCpim(decoded, where, depth + 1);
    else if (embedded) readEmbeddedMessage(decoded, where, depth + 1);
    else readMultipart(media.boundary, decoded, where, depth + 1);
    return;
  }
  ++leaves_;
  entities_.push_back(Entity{media.type, where, decoded});
  if (isNotification(media.type)) {
    if (looksLikeItsFormat(media.type, viewOf(decoded))) {
      ++notifications_;
      return;
    }
    readText("text/plain", MediaType{}, span, decoded, transfer, where);
    return;
  }
  // The OCS 2007 file offer is text/* but no text a person reads.
  if (!textLike || media.type == "text/x-msmsgsinvite") {
    ++otherParts_;
    return;
  }
  readText(media.type, media, span, decoded, transfer, where);
}

void ImBody::readCpim(Span span, const std::string& location, int depth) {
  // RFC 3862: CPIM headers, empty line, MIME headers, empty line, content.
  const std::string_view content = viewOf(span);
  const std::string where = child(location, "cpim");
  const std::size_t mimeStart = headerSectionEnd(content, 0);
  if (mimeStart == std::string_view::npos) {
    addUnreadable("message/cpim without an empty line after its headers in " + location);
    return;
  }
  const std::string_view rest = content.substr(mimeStart);
  if (looksLikeHeaderSection(rest)) {
    const std::size_t contentStart = headerSectionEnd(content, mimeStart);
    if (contentStart == std::string_view::npos) {
      addUnreadable("message/cpim whose MIME headers do not end in " + location);
      return;
    }
    const std::string_view headers = content.substr(mimeStart, contentStart - mimeStart);
    const MimeHeader type = mimeHeader(headers, "Content-Type");
    const MimeHeader transfer = mimeHeader(headers, "Content-Transfer-Encoding");
    if (type.value || transfer.value) {
      readEntity(Declared{type.value.value_or(""), transfer.value.value_or(""), where, type.repeated || transfer.repeated},
                 Span{span.buffer, span.offset + contentStart, span.length - contentStart}, depth);
      return;
    }
  }
  // Clients that write a single empty line put the text right after the
  // CPIM headers.
  readEntity(Declared{"text/plain", {}, where, false}, Span{span.buffer, span.offset + mimeStart, span.length - mimeStart},
             depth);
}

void ImBody::readEmbeddedMessage(Span span, const std::string& location, int depth) {
  // An e-mail forwarded as a message (RFC 2046 message/rfc822): its header
  // section, then its body in whatever form its own headers give.
  const std::string_view content = viewOf(span);
  const std::string where = child(location, "rfc822");
  const std::size_t bodyStart = headerSectionEnd(content, 0);
  if (bodyStart == std::string_view::npos) {
    addUnreadable("message/rfc822 without an empty line after its headers in " + location);
    return;
  }
  const std::string_view headers = content.substr(0, bodyStart);
  const MimeHeader type = mimeHeader(headers, "Content-Type");
  const MimeHeader transfer = mimeHeader(headers, "Content-Transfer-Encoding");
  readEntity(Declared{type.value.value_or(""), transfer.value.value_or(""), where, type.repeated || transfer.repeated},
             Span{span.buffer, span.offset + bodyStart, span.length - bodyStart}, depth);
}

void ImBody::readMultipart(const std::string& boundary, Span span, const std::string& location, int depth) {
  if (boundary.empty()) {
    addUnreadable("multipart body without a boundary in " + location);
    return;
  }
  const std::string_view content = viewOf(span);
  const std::string delimiter = "--" + boundary;
  const DelimiterSearch search(delimiter);
  // RFC 2046: a delimiter starts a line; "--boundary" in the middle of a
  // line is text of the part it sits in.
  auto nextDelimiter = [&](std::size_t from) {
    std::size_t at = search.find(content, from);
    while (at != std::string_view::npos && at > 0 && content[at - 1] != '\n') at = search.find(content, at + 1);
    return at;
  };
  // After the delimiter: "--" for the close one, then only transport
  // padding (spaces, tabs) to the end of the line. Anything else is read
  // differently by different parsers.
  auto lineAfter = [&](std::size_t at, bool& close, std::size_t& next) {
    std::size_t pos = at + delimiter.size();
    close = content.compare(pos, 2, "--") == 0;
    if (close) pos += 2;
    while (pos < content.size() && (content[pos] == ' ' || content[pos] == '\t')) ++pos;
    if (pos < content.size() && content[pos] == '\r') ++pos;
    if (pos == content.size()) {
      next = pos;
      return true;
    }
    next = pos + 1;
    return content[pos] == '\n';
  };
  std::size_t pos = nextDelimiter(0);
  if (pos == std::string_view::npos) {
    addUnreadable("multipart body whose boundary never starts a line in " + location);
    return;
  }
  addReadOnlyText(content.substr(0, pos), "text/plain", child(location, "preamble"));
  int index = 0;
  while (pos != std::string_view::npos) {
    bool close = false;
    std::size_t partStart = 0;
    if (!lineAfter(pos, close, partStart)) {
      addUnreadable("text after a boundary delimiter in " + location);
      return;
    }
    if (close) {
      addReadOnlyText(content.substr(partStart), "text/plain", child(location, "epilogue"));
      return;
    }
    if (partStart >= content.size()) return;  // a delimiter with nothing after it
    const std::size_t next = nextDelimiter(partStart);
    // A last part without its close delimiter is still shown by lenient
    // clients, so it is read to the end.
    std::size_t partEnd = next == std::string_view::npos ? content.size() : next;
    // RFC 2046: the line break before a delimiter belongs to the delimiter.
    if (next != std::string_view::npos) {
      if (partEnd > partStart && content[partEnd - 1] == '\n') --partEnd;
      if (partEnd > partStart && content[partEnd - 1] == '\r') --partEnd;
    }
    const std::string where = child(location, "multipart[" + std::to_string(index) + "]");
    const std::string_view part = content.substr(partStart, partEnd - partStart);
    std::size_t bodyStart;
    Declared declared{{}, {}, where, false};
    MimeHeader type;  // the values `declared` views
    MimeHeader transfer;
    if (part.starts_with("\r\n")) {
      bodyStart = 2;  // no headers: text/plain
    } else if (part.starts_with("\n")) {
      bodyStart = 1;
    } else {
      bodyStart = headerSectionEnd(part, 0);
      if (bodyStart == std::string_view::npos || !looksLikeHeaderSection(part)) {
        addUnreadable("part without an empty line after its headers in " + where);
        bodyStart = std::string_view::npos;
      } else {
        const std::string_view headers = part.substr(0, bodyStart);
        type = mimeHeader(headers, "Content-Type");
        transfer = mimeHeader(headers, "Content-Transfer-Encoding");
        if (type.value) declared.contentType = *type.value;
        if (transfer.value) declared.transfer = *transfer.value;
        declared.ambiguous = type.repeated || transfer.repeated;
      }
    }
    if (bodyStart != std::string_view::npos) {
      readEntity(declared, Span{span.buffer, span.offset + partStart + bodyStart, part.size() - bodyStart}, depth);
    }
    if (leaves_ > kMaxBodyParts) return;
    ++index;
    pos = next;
  }
}

void ImBody::addReadOnlyText(std::string_view bytes, const std::string& mediaType, const std::string& location) {
  if (method_ != "MESSAGE") return;
  if (bytes.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  std::string text;
  text.reserve(bytes.size());
  for (char c : bytes) {
    if (c != '\0') text += c;  // a NUL hides nothing a reader would show
  }
  Part part;
  part.type = "text/plain";
  part.mediaType = mediaType;
  part.location = location;
  part.decoded = true;
  part.editable = false;
  part.text = utf8::isValid(text) ? std::move(text) : utf8::repair(text);
  parts_.push_back(std::move(part));
}

void ImBody::readText(const std::string& mediaType, const MediaType& media, Span raw, Span decoded,
                      TransferEncoding transfer, const std::string& location) {
  if (method_ != "MESSAGE") return;  // an INVITE's body parts are offers and SDP, not messages
  Part part;
  part.type = readsAsHtml(mediaType) ? "text/html" : "text/plain";
  part.mediaType = mediaType;
  part.location = location;
  part.span = raw;
  part.transfer = transfer;
  // An edit is spliced back only into bytes that are the body's own.
  part.editable = raw.buffer < 0;
  const std::string_view bytes = viewOf(decoded);

  if (isRtf(mediaType)) {
    std::optional<std::string> text = rtfText(bytes);
    if (!text) {
      addUnreadable("RTF that cannot be read in " + location);
      return;
    }
    part.text = std::move(*text);
    part.decoded = true;
    part.editable = false;
    parts_.push_back(std::move(part));
    return;
  }

  std::optional<std::string> utf8;
  std::string charset = canonicalCharset(media.charset);
  const bool plainAscii = charset.empty() && isPlainAscii(bytes);  // the common case: nothing to check
  if (charset.empty() && !plainAscii && looksLikeUtf16(bytes)) charset = "utf-16";
  // A client that ignores the charset (many show the bytes as UTF-8) reads
  // an ASCII-incompatible charset very differently: both readings are
  // scanned, the second one read-only.
  bool secondReading = false;
  if (!charset.empty()) {
    utf8 = toUtf8(charset, bytes, &part.charset);
    if (utf8 && utf8::isValid(*utf8)) {
      secondReading = !asciiCompatible(charset);
    } else {
      addUnreadable("text that cannot be read as charset " + printable(charset) + " in " + location);
      utf8 = utf8::repair(bytes);
      part.charset = {};
      part.editable = false;
    }
  } else if (!plainAscii && !utf8::isValid(bytes)) {
    addUnreadable("text that is not valid UTF-8 and names no charset in " + location);
    utf8 = utf8::repair(bytes);
    part.editable = false;
  }

  if (readsAsHtml(mediaType) && mediaType != "text/html") {
    // XML readers expand what an HTML reader shows as markup.
    const std::string_view xml = utf8 ? std::string_view(*utf8) : bytes;
    if (xml.find("<!ENTITY") != std::string_view::npos || xml.find("<![CDATA[") != std::string_view::npos) {
      addUnreadable("XML entity declarations or CDATA in " + mediaType + " in " + location);
      return;
    }
  }
  if (isEnriched(mediaType)) {
    utf8 = enrichedText(utf8 ? *utf8 : bytes);
    part.editable = false;
  } else if (isRcsFileTransfer(mediaType)) {
    utf8 = rcsFileTransferText(utf8 ? *utf8 : bytes);
    part.editable = false;
  }
  const std::string mainText = utf8 ? *utf8 : std::string();
  if (utf8) {
    part.text = std::move(*utf8);
    part.decoded = true;
  } else if (decoded.buffer != raw.buffer || decoded.offset != raw.offset) {
    part.text = std::string(bytes);  // transfer-decoded, valid UTF-8 as sent
    part.decoded = true;
  }
  parts_.push_back(std::move(part));
  if (secondReading) {
    std::string asSent(bytes);
    asSent.erase(std::remove(asSent.begin(), asSent.end(), '\0'), asSent.end());
    if (asSent.starts_with("\xff\xfe") || asSent.starts_with("\xfe\xff")) asSent.erase(0, 2);  // the mark, less its zeros
    if (asSent != mainText) addReadOnlyText(asSent, mediaType, location + " (bytes as sent)");
    // UTF-16/32 without a byte order mark: the other byte order too.
    const CharsetReading& used = parts_.back().charset;
    if ((charset == "utf-16" || charset == "utf-32") && used.bom.empty() && used.charset.size() > 2) {
      const std::string other = used.charset.ends_with("le") ? "be" : "le";
      std::optional<std::string> flipped = toUtf8(charset, bytes, nullptr, other);
      if (flipped && utf8::isValid(*flipped) && *flipped != mainText) {
        addReadOnlyText(*flipped, mediaType, location + " (other byte order)");
        parts_.back().searchable = false;  // scanned; not archived, where it would mostly be noise
      }
    }
  }
}

void ImBody::scanHeader(const std::string& name, std::string_view value) {
  const MediaType media = parseMediaType(value);
  const MediaParameter* msBody = media.parameter("ms-body");
  if (msBody == nullptr) return;  // a format header without a copy of the text
  const std::string location = "header:" + name;
  if (!media.valid || media.conflicting) {
    addUnreadable("a " + name + " header that does not parse");
    return;
  }
  if (media.type != "text/plain" && media.type != "text/html" && !isRtf(media.type)) {
    addUnreadable("an ms-body of type " + printable(media.type) + " in " + location);
    return;
  }
  std::optional<std::string> bytes = decodeTransfer(TransferEncoding::Base64, msBody->value);
  if (!bytes) {
    addUnreadable("an ms-body that is not base64 in " + location);
    return;
  }
  Part part;
  part.type = media.type == "text/html" ? "text/html" : "text/plain";
  part.mediaType = media.type;
  part.location = location;
  part.inHeader = true;
  part.decoded = true;
  part.headerName = name;
  part.headerValue = std::string(value);
  part.msBodyOffset = msBody->offset;
  part.msBodyLength = msBody->length;
  if (isRtf(media.type)) {
    std::optional<std::string> text = rtfText(*bytes);
    if (!text) {
      addUnreadable("RTF that cannot be read in " + location);
      return;
    }
    part.text = std::move(*text);
    part.editable = false;
  } else {
    const std::string charset = canonicalCharset(media.charset);
    std::optional<std::string> utf8 = charset.empty() ? std::move(bytes) : toUtf8(charset, *bytes, &part.charset);
    if (utf8 && utf8::isValid(*utf8)) {
      part.text = std::move(*utf8);
    } else {
      addUnreadable("text that cannot be read" + (charset.empty() ? std::string(" as UTF-8") : " as charset " + printable(charset)) +
                    " in " + location);
      part.text = utf8::repair(utf8 ? *utf8 : msBody->value);
      part.charset = {};
      part.editable = false;
    }
  }
  parts_.push_back(std::move(part));
}

bool ImBody::present() const {
  if (method_ == "INVITE") {
    return std::any_of(parts_.begin(), parts_.end(), [](const Part& part) { return part.inHeader; });
  }
  return method_ == "MESSAGE" && (!parts_.empty() || !unreadable_.empty() || otherParts_ > 0);
}

void ImBody::setPartText(std::size_t part, std::string_view text) {
  Part& target = parts_.at(part);
  if (!target.editable) return;
  if (!target.modified) target.original = std::string(textOf(target));  // as received, for originalPlainText()
  target.text = std::string(text);
  target.decoded = true;
  target.modified = true;
}

std::string ImBody::joinedText(bool original) const {
  // Every part a person could read, so that search finds any of them: body
  // parts first, then the Lync header copies; HTML as its text. A part
  // whose text repeats one already taken (the alternatives of one message,
  // the header copy of the body) is taken once.
  std::string joined;
  std::unordered_set<std::string> taken;
  for (bool headers : {false, true}) {
    for (const Part& part : parts_) {
      if (part.inHeader != headers || !part.searchable) continue;
      std::string text = part.type == "text/html" ? html::toText(textOf(part, original)) : std::string(textOf(part, original));
      std::string_view key = text;  // compared without the line breaks HTML's blocks end in
      while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.remove_suffix(1);
      if (key.empty() || !taken.emplace(key).second) continue;
      if (!joined.empty()) joined += "\n";
      joined += text;
    }
  }
  return joined;
}

bool ImBody::modified() const {
  return std::any_of(parts_.begin(), parts_.end(), [](const Part& part) { return part.modified; });
}

bool ImBody::bodyModified() const {
  return std::any_of(parts_.begin(), parts_.end(), [](const Part& part) { return part.modified && !part.inHeader; });
}

std::string ImBody::renderBody() const {
  std::vector<const Part*> edits;
  for (const Part& part : parts_) {
    if (part.modified && !part.inHeader) edits.push_back(&part);
  }
  std::sort(edits.begin(), edits.end(), [](const Part* a, const Part* b) { return a->span.offset < b->span.offset; });
  std::string out;
  out.reserve(body_.size() + 64);
  std::size_t copied = 0;
  for (const Part* part : edits) {
    out.append(body_, copied, part->span.offset - copied);
    const std::string bytes = part->charset.charset.empty() ? part->text : fromUtf8(part->charset, part->text);
    out.append(encodeTransfer(part->transfer, bytes));
    copied = part->span.offset + part->span.length;
  }
  out.append(body_, copied, std::string::npos);
  return encodeContent(bodyEncoding_, out, rawDeflate_);
}

std::vector<std::pair<std::string, std::string>> ImBody::renderHeaders() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Part& part : parts_) {
    if (!part.modified || !part.inHeader) continue;
    const std::string bytes = part.charset.charset.empty() ? part.text : fromUtf8(part.charset, part.text);
    std::string encoded = encodeTransfer(TransferEncoding::Base64, bytes);
    encoded.erase(std::remove_if(encoded.begin(), encoded.end(), [](char c) { return c == '\r' || c == '\n'; }),
                  encoded.end());
    std::string value = part.headerValue;
    value.replace(part.msBodyOffset, part.msBodyLength, encoded);
    out.emplace_back(part.headerName, std::move(value));
  }
  return out;
}

}  // namespace sipwarden::im
