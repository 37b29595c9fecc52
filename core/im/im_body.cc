#include "im/im_body.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Exception.h>
#include <Poco/Base64Encoder.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <vector>

#include "sip/grammar.h"
#include "sip/header_id.h"
#include "sipwarden/delimiter_search.h"
#include "sipwarden/html_text.h"

namespace sipwarden::im {
namespace {

// ASCII lower-case (media types, parameter names and charsets are ASCII).
std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view unquote(std::string_view text) {
  text = sip::trim(text);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  return text;
}

bool isTextType(std::string_view type) { return type == "text/plain" || type == "text/html"; }

// The end of a MIME header section starting at `from`: index just past the
// empty line, or npos. Accepts CRLF and bare LF.
std::size_t headerSectionEnd(std::string_view text, std::size_t from) {
  const std::size_t crlf = text.find("\r\n\r\n", from);
  const std::size_t lf = text.find("\n\n", from);
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf)) return crlf + 4;
  return lf + 2;
}

// Content-Type of a MIME header section ("" when absent).
std::string_view mimeContentType(std::string_view headers) {
  std::size_t pos = 0;
  while (pos < headers.size()) {
    std::size_t end = headers.find('\n', pos);
    if (end == std::string_view::npos) end = headers.size();
    const std::string_view line = headers.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && sip::iequals(sip::trim(line.substr(0, colon)), "Content-Type")) {
      return sip::trim(line.substr(colon + 1));
    }
  }
  return {};
}

// Nothing when the text is not base64: a sender must not be able to make
// the filters fail (and a fail-open chain pass the message unread) with a
// broken ms-body. Found by im_body_fuzz.
//
// Read through istream::read, which turns the decoder's exception into
// badbit: a string built from istreambuf_iterators leaked its buffer when
// the decoder threw part-way (LeakSanitizer, im_body_fuzz).
std::optional<std::string> base64Decode(std::string_view text) {
  std::istringstream in{std::string(sip::trim(text))};
  Poco::Base64Decoder decoder(in);
  std::string decoded;
  char chunk[1024];
  do {
    decoder.read(chunk, sizeof chunk);
    decoded.append(chunk, static_cast<std::size_t>(decoder.gcount()));
  } while (decoder.good());
  if (decoder.bad()) return std::nullopt;
  return decoded;
}

std::string base64Encode(std::string_view text) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(text.data(), static_cast<std::streamsize>(text.size()));
  encoder.close();
  return out.str();
}

constexpr int kMaxNesting = 4;


}  // namespace

MediaType parseMediaType(std::string_view value) {
  MediaType media;
  const std::size_t semicolon = value.find(';');
  media.type = lower(sip::trim(value.substr(0, semicolon)));
  std::size_t pos = semicolon;
  while (pos != std::string_view::npos && pos < value.size()) {
    // Parameters may hold quoted ';' (boundaries do), so scan quotes.
    std::size_t next = pos + 1;
    bool quoted = false;
    while (next < value.size() && (quoted || value[next] != ';')) {
      if (value[next] == '"') quoted = !quoted;
      ++next;
    }
    const std::string_view param = value.substr(pos + 1, next - pos - 1);
    const std::size_t equals = param.find('=');
    if (equals != std::string_view::npos) {
      const std::string_view name = sip::trim(param.substr(0, equals));
      if (sip::iequals(name, "boundary")) media.boundary = std::string(unquote(param.substr(equals + 1)));
      if (sip::iequals(name, "charset")) media.charset = lower(unquote(param.substr(equals + 1)));
    }
    pos = next < value.size() ? next : std::string_view::npos;
  }
  return media;
}

ImBody::ImBody(std::string_view method, std::string_view contentType, std::string body, const HeaderLookup& header)
    : method_(method), body_(std::move(body)) {
  const MediaType media = parseMediaType(contentType);
  if (method_ == "MESSAGE" && !body_.empty()) scanBody(media.type, contentType, 0, body_.size(), "body", 0);
  if (method_ == "MESSAGE" || method_ == "INVITE") {
    for (const char* name : {"Ms-Text-Format", "Ms-IM-Format"}) {
      if (auto value = header(name)) scanHeader(name, *value);
    }
  }
}

std::string ImBody::originalPlainText() const {
  return originalPlainText_ ? *originalPlainText_ : joinedText(true);
}

void ImBody::scanBody(std::string_view type, std::string_view mediaValue, std::size_t offset, std::size_t length,
                      const std::string& location, int depth) {
  const std::string_view content = std::string_view(body_).substr(offset, length);
  if (isTextType(type)) {
    // The text stays in body_ until a filter sets it (partText).
    parts_.push_back(Part{std::string(type), {}, {}, location, false, offset, length, {}, {}, false});
    return;
  }
  if (depth >= kMaxNesting) {
    ++otherParts_;
    return;
  }
  if (type == "message/cpim") {
    // RFC 3862: CPIM headers, empty line, MIME headers, empty line, content.
    const std::size_t mimeStart = headerSectionEnd(content, 0);
    if (mimeStart == std::string_view::npos) return;
    const std::size_t contentStart = headerSectionEnd(content, mimeStart);
    if (contentStart == std::string_view::npos) return;
    const std::string_view inner = mimeContentType(content.substr(mimeStart, contentStart - mimeStart));
    scanBody(parseMediaType(inner).type, inner, offset + contentStart, length - contentStart, "cpim", depth + 1);
    return;
  }
  if (type.starts_with("multipart/")) {
    const std::string boundary = parseMediaType(mediaValue).boundary;
    if (boundary.empty()) return;
    const std::string delimiter = "--" + boundary;
    const DelimiterSearch search(delimiter);
    std::size_t pos = search.find(content, 0);
    int index = 0;
    while (pos != std::string_view::npos) {
      std::size_t partStart = pos + delimiter.size();
      if (content.compare(partStart, 2, "--") == 0) break;  // close delimiter
      const std::size_t lineEnd = content.find('\n', partStart);
      if (lineEnd == std::string_view::npos) break;
      partStart = lineEnd + 1;
      std::size_t next = search.find(content, partStart);
      if (next == std::string_view::npos) break;
      // RFC 2046: the line break before a delimiter belongs to the delimiter.
      std::size_t partEnd = next;
      if (partEnd > partStart && content[partEnd - 1] == '\n') --partEnd;
      if (partEnd > partStart && content[partEnd - 1] == '\r') --partEnd;
      const std::size_t headersEnd = headerSectionEnd(content.substr(0, partEnd), partStart);
      // A part with no headers starts with its blank line.
      std::size_t bodyStart = headersEnd;
      std::string_view partType = "text/plain";  // RFC 2046 default
      if (content.compare(partStart, 2, "\r\n") == 0) {
        bodyStart = partStart + 2;
      } else if (headersEnd != std::string_view::npos) {
        const std::string_view declared = mimeContentType(content.substr(partStart, headersEnd - partStart));
        if (!declared.empty()) partType = declared;
      }
      if (bodyStart != std::string_view::npos && bodyStart <= partEnd) {
        scanBody(parseMediaType(partType).type, partType, offset + bodyStart, partEnd - bodyStart,
                 "multipart[" + std::to_string(index) + "]", depth + 1);
      }
      ++index;
      pos = next;
    }
    return;
  }
  ++otherParts_;
}

void ImBody::scanHeader(const std::string& name, std::string_view value) {
  std::string lowered = lower(value);
  const std::size_t marker = lowered.find("ms-body=");
  if (marker == std::string::npos) return;
  const std::string type = parseMediaType(value.substr(0, value.find(';'))).type;
  if (!isTextType(type)) return;
  std::optional<std::string> text = base64Decode(value.substr(marker + 8));
  if (!text) return;  // not a copy any client can show: the body is what it shows
  Part part;
  part.type = type;
  part.text = std::move(*text);
  part.location = "header:" + name;
  part.inHeader = true;
  part.headerName = name;
  part.headerPrefix = std::string(value.substr(0, marker + 8));
  parts_.push_back(std::move(part));
}

bool ImBody::present() const {
  if (method_ == "INVITE") {
    return std::any_of(parts_.begin(), parts_.end(), [](const Part& part) { return part.inHeader; });
  }
  return method_ == "MESSAGE" && !parts_.empty();
}

void ImBody::setPartText(std::size_t part, std::string_view text) {
  Part& target = parts_.at(part);
  if (target.inHeader && !target.modified) target.original = target.text;  // as received, for originalPlainText()
  target.text = std::string(text);
  target.modified = true;
}

std::string ImBody::joinedText(bool original) const {
  std::string joined;
  for (bool headers : {false, true}) {
    for (const Part& part : parts_) {
      if (part.inHeader != headers || part.type != "text/plain") continue;
      if (!joined.empty()) joined += "\n";
      joined += textOf(part, original);
    }
    if (!joined.empty()) return joined;
  }
  for (const Part& part : parts_) {
    if (part.type == "text/html") return html::toText(textOf(part, original));
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
  std::sort(edits.begin(), edits.end(), [](const Part* a, const Part* b) { return a->offset < b->offset; });
  std::string out;
  out.reserve(body_.size() + 64);
  std::size_t copied = 0;
  for (const Part* part : edits) {
    out.append(body_, copied, part->offset - copied);
    out.append(part->text);
    copied = part->offset + part->length;
  }
  out.append(body_, copied, std::string::npos);
  return out;
}

std::vector<std::pair<std::string, std::string>> ImBody::renderHeaders() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Part& part : parts_) {
    if (part.modified && part.inHeader) out.emplace_back(part.headerName, part.headerPrefix + base64Encode(part.text));
  }
  return out;
}

}  // namespace sipwarden::im
