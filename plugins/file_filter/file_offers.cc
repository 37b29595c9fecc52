#include "file_filter/file_offers.h"

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "common/file_extensions.h"
#include "sipwarden/delimiter_search.h"
#include "sipwarden/html_text.h"

namespace sipwarden::plugins::fileoffer {
namespace {

// The offers found so far, and how many are wanted: the scanners stop once
// they have one more than the limit (so the caller knows it was passed).
struct Found {
  std::vector<FileOffer>& offers;
  std::size_t limit;
  bool tooDeep = false;  // a multipart nested past kMaxNesting was not read
  bool done() const { return offers.size() > limit; }
};


char lowerChar(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lowerChar(a[i]) != lowerChar(b[i])) return false;
  }
  return true;
}

bool istartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' || text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string_view unquote(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  return text;
}

bool allDigits(std::string_view text) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The media type (lower-case, no parameters) and the boundary parameter of a
// Content-Type value.
struct Media {
  std::string type;
  std::string boundary;
};

Media parseMedia(std::string_view value) {
  Media media;
  const std::size_t semicolon = value.find(';');
  const std::string_view type = trim(value.substr(0, semicolon));
  media.type.reserve(type.size());
  for (char c : type) media.type.push_back(lowerChar(c));
  std::size_t pos = semicolon;
  while (pos != std::string_view::npos && pos < value.size()) {
    // Boundaries may be quoted and hold ';'.
    std::size_t next = pos + 1;
    bool quoted = false;
    while (next < value.size() && (quoted || value[next] != ';')) {
      if (value[next] == '"') quoted = !quoted;
      ++next;
    }
    const std::string_view param = value.substr(pos + 1, next - pos - 1);
    const std::size_t equals = param.find('=');
    if (equals != std::string_view::npos && iequals(trim(param.substr(0, equals)), "boundary")) {
      media.boundary = std::string(unquote(param.substr(equals + 1)));
    }
    pos = next < value.size() ? next : std::string_view::npos;
  }
  return media;
}

// Splits `text` into lines (LF or CRLF) and calls f(line) for each.
template <typename F>
void forEachLine(std::string_view text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line);
    pos = end + 1;
  }
}

// ---- RFC 5547 SDP ---------------------------------------------------------

void scanSdp(std::string_view sdp, Found& found) {
  forEachLine(sdp, [&](std::string_view line) {
    constexpr std::string_view kAttribute = "a=file-selector";
    if (found.done()) return;
    if (!istartsWith(line, kAttribute)) return;
    std::string_view value = line.substr(kAttribute.size());
    if (!value.empty() && value.front() != ':' && value.front() != ' ' && value.front() != '\t') return;
    if (!value.empty() && value.front() == ':') value.remove_prefix(1);
    FileOffer offer;
    offer.form = Form::Sdp;
    bool named = false;
    std::size_t i = 0;
    while (i < value.size()) {
      while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
      const std::size_t start = i;
      bool quoted = false;
      while (i < value.size() && (quoted || (value[i] != ' ' && value[i] != '\t'))) {
        if (value[i] == '"') quoted = !quoted;
        ++i;
      }
      const std::string_view token = value.substr(start, i - start);
      if (!named && istartsWith(token, "name:")) {
        std::string_view rest = token.substr(5);
        if (!rest.empty() && rest.front() == '"') {
          rest.remove_prefix(1);
          const std::size_t close = rest.find('"');
          if (close != std::string_view::npos) rest = rest.substr(0, close);
        }
        offer.name = decodeSelectorName(rest);
        named = true;
      } else if (offer.size.empty() && istartsWith(token, "size:") && allDigits(token.substr(5))) {
        offer.size = std::string(token.substr(5));
      }
    }
    found.offers.push_back(std::move(offer));
  });
}

// ---- Lync application/ms-filetransfer+xml -----------------------------------

// Skips a comment, CDATA section, processing instruction or declaration
// starting at `pos` (which holds '<'); returns the index after it, or pos
// when there is none there.
std::size_t skipMarkup(std::string_view xml, std::size_t pos) {
  auto past = [&](std::string_view close, std::size_t from) {
    const std::size_t end = xml.find(close, from);
    return end == std::string_view::npos ? xml.size() : end + close.size();
  };
  const std::string_view rest = xml.substr(pos);
  if (rest.starts_with("<!--")) return past("-->", pos + 4);
  if (rest.starts_with("<![CDATA[")) return past("]]>", pos + 9);
  if (rest.starts_with("<?")) return past("?>", pos + 2);
  if (rest.starts_with("<!")) return past(">", pos + 2);
  return pos;
}

// End of the tag starting at `pos` (index of its '>'), quotes respected.
std::size_t tagEnd(std::string_view xml, std::size_t pos) {
  char quote = 0;
  for (std::size_t i = pos + 1; i < xml.size(); ++i) {
    const char c = xml[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

// The local name (prefix dropped) of the tag at `pos` ("<ft:name ..." -> "name",
// "</name>" -> "name").
std::string_view localName(std::string_view xml, std::size_t pos) {
  std::size_t start = pos + 1;
  if (start < xml.size() && xml[start] == '/') ++start;
  std::size_t end = start;
  while (end < xml.size() && xml[end] != '>' && xml[end] != '/' && xml[end] != ' ' && xml[end] != '\t' &&
         xml[end] != '\r' && xml[end] != '\n') {
    ++end;
  }
  std::string_view name = xml.substr(start, end - start);
  const std::size_t colon = name.rfind(':');
  if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
  return name;
}

struct Element {
  std::size_t contentStart = 0;
  std::size_t contentEnd = 0;
  std::size_t after = 0;  // where to continue searching
};

// The next element named `name` (any prefix, any case) at or after `from`.
bool findElement(std::string_view xml, std::string_view name, std::size_t from, Element& element) {
  std::size_t pos = xml.find('<', from);
  while (pos != std::string_view::npos) {
    const std::size_t skipped = skipMarkup(xml, pos);
    if (skipped != pos) {
      pos = xml.find('<', skipped);
      continue;
    }
    const std::size_t end = tagEnd(xml, pos);
    if (end == std::string_view::npos) return false;
    if (xml[pos + 1] != '/' && iequals(localName(xml, pos), name)) {
      element.contentStart = end + 1;
      if (xml[end - 1] == '/') {  // <name/>
        element.contentEnd = end + 1;
        element.after = end + 1;
        return true;
      }
      // The matching close tag, counting nested elements of the same name.
      int depth = 0;
      std::size_t scan = xml.find('<', end + 1);
      while (scan != std::string_view::npos) {
        const std::size_t markup = skipMarkup(xml, scan);
        if (markup != scan) {
          scan = xml.find('<', markup);
          continue;
        }
        const std::size_t close = tagEnd(xml, scan);
        if (close == std::string_view::npos) break;
        if (iequals(localName(xml, scan), name)) {
          if (xml[scan + 1] == '/') {
            if (depth == 0) {
              element.contentEnd = scan;
              element.after = close + 1;
              return true;
            }
            --depth;
          } else if (xml[close - 1] != '/') {
            ++depth;
          }
        }
        scan = xml.find('<', close + 1);
      }
      element.contentEnd = xml.size();  // unterminated: take the rest
      element.after = xml.size();
      return true;
    }
    pos = xml.find('<', end + 1);
  }
  return false;
}

// The character data of an element's content: entities decoded, CDATA kept
// as written, comments and nested tags dropped.
std::string xmlText(std::string_view content) {
  std::string out;
  std::size_t pos = 0;
  while (pos < content.size()) {
    const std::size_t lt = content.find('<', pos);
    const std::size_t textEnd = lt == std::string_view::npos ? content.size() : lt;
    if (textEnd > pos) out += html::decodeEntities(content.substr(pos, textEnd - pos));
    if (lt == std::string_view::npos) break;
    if (content.substr(lt).starts_with("<![CDATA[")) {
      const std::size_t close = content.find("]]>", lt + 9);
      const std::size_t stop = close == std::string_view::npos ? content.size() : close;
      out.append(content.substr(lt + 9, stop - lt - 9));
      pos = close == std::string_view::npos ? content.size() : close + 3;
      continue;
    }
    const std::size_t skipped = skipMarkup(content, lt);
    if (skipped != lt) {
      pos = skipped;
      continue;
    }
    const std::size_t end = tagEnd(content, lt);
    pos = end == std::string_view::npos ? content.size() : end + 1;
  }
  return out;
}

void scanLyncXml(std::string_view xml, Found& found) {
  Element info;
  std::size_t from = 0;
  while (!found.done() && from < xml.size() && findElement(xml, "fileInfo", from, info)) {
    const std::string_view content = xml.substr(info.contentStart, info.contentEnd - info.contentStart);
    std::string size;
    Element sizeElement;
    if (findElement(content, "size", 0, sizeElement)) {
      const std::string text = xmlText(content.substr(sizeElement.contentStart,
                                                      sizeElement.contentEnd - sizeElement.contentStart));
      if (allDigits(trim(text))) size = std::string(trim(text));
    }
    // Every <name> counts: a client might take any of them.
    Element name;
    std::size_t at = 0;
    bool any = false;
    while (!found.done() && at < content.size() && findElement(content, "name", at, name)) {
      FileOffer offer;
      offer.form = Form::LyncXml;
      offer.name = xmlText(content.substr(name.contentStart, name.contentEnd - name.contentStart));
      offer.size = size;
      found.offers.push_back(std::move(offer));
      any = true;
      at = name.after;
    }
    if (!any) found.offers.push_back(FileOffer{Form::LyncXml, {}, size});
    from = info.after;
  }
}

// ---- OCS text/x-msmsgsinvite -------------------------------------------------

void scanMsMsgsInvite(std::string_view body, Found& found) {
  std::vector<std::string> files;
  std::string size;
  bool invite = true;  // an offer unless the command says otherwise (ACCEPT, CANCEL)
  forEachLine(body, [&](std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(key, "Application-File")) {
      files.emplace_back(value);
    } else if (iequals(key, "Application-FileSize")) {
      if (allDigits(value)) size = std::string(value);
    } else if (iequals(key, "Invitation-Command")) {
      invite = iequals(value, "INVITE");
    }
  });
  if (!invite) return;
  for (auto& file : files) {
    if (found.done()) return;
    found.offers.push_back(FileOffer{Form::MsMsgsInvite, std::move(file), size});
  }
}

// ---- MIME --------------------------------------------------------------------

int hexValue(char c) {
  return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

std::string base64Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '+' || c == '-') value = 62;
    else if (c == '/' || c == '_') value = 63;
    else if (c == '=') break;
    else continue;  // line breaks, spaces
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

std::string quotedPrintableDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=') {
      out.push_back(text[i]);
      continue;
    }
    if (text.substr(i + 1, 2) == "\r\n") {
      i += 2;  // soft line break
    } else if (i + 1 < text.size() && text[i + 1] == '\n') {
      i += 1;
    } else if (i + 2 < text.size() && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back('=');
    }
  }
  return out;
}

// Index just past the blank line that ends a MIME header section starting
// at `from`, or npos.
std::size_t headerSectionEnd(std::string_view text, std::size_t from) {
  const std::size_t crlf = text.find("\r\n\r\n", from);
  const std::size_t lf = text.find("\n\n", from);
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf)) return crlf + 4;
  return lf + 2;
}

void scanEntity(std::string_view contentType, std::string_view body, int depth, Found& found);


void scanMultipart(std::string_view boundary, std::string_view content, int depth, Found& found) {
  if (boundary.empty()) return;
  if (depth >= kMaxNesting) {
    found.tooDeep = true;
    return;
  }
  const std::string delimiter = "--" + std::string(boundary);
  const DelimiterSearch search(delimiter);
  std::size_t pos = search.find(content, 0);
  while (pos != std::string_view::npos && !found.done()) {
    std::size_t partStart = pos + delimiter.size();
    if (content.compare(partStart, 2, "--") == 0) break;  // close delimiter
    const std::size_t lineEnd = content.find('\n', partStart);
    if (lineEnd == std::string_view::npos) break;
    partStart = lineEnd + 1;
    const std::size_t next = search.find(content, partStart);
    // A part without a close delimiter still counts (a truncated body must
    // not hide an offer).
    std::size_t partEnd = next == std::string_view::npos ? content.size() : next;
    if (partEnd > partStart && content[partEnd - 1] == '\n') --partEnd;
    if (partEnd > partStart && content[partEnd - 1] == '\r') --partEnd;
    const std::string_view part = content.substr(partStart, partEnd - partStart);
    std::string_view headers;
    std::string_view partBody;
    if (part.starts_with("\r\n") || part.starts_with("\n")) {
      partBody = part.substr(part.front() == '\r' ? 2 : 1);
    } else {
      const std::size_t end = headerSectionEnd(part, 0);
      if (end == std::string_view::npos) {
        headers = part;
      } else {
        headers = part.substr(0, end);
        partBody = part.substr(end);
      }
    }
    std::string_view partType = "text/plain";  // RFC 2046 default
    std::string_view encoding;
    forEachLine(headers, [&](std::string_view line) {
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) return;
      const std::string_view key = trim(line.substr(0, colon));
      if (iequals(key, "Content-Type")) partType = trim(line.substr(colon + 1));
      else if (iequals(key, "Content-Transfer-Encoding")) encoding = trim(line.substr(colon + 1));
    });
    if (mayHoldOffer(partType)) {
      if (iequals(encoding, "base64")) {
        scanEntity(partType, base64Decode(partBody), depth + 1, found);
      } else if (iequals(encoding, "quoted-printable")) {
        scanEntity(partType, quotedPrintableDecode(partBody), depth + 1, found);
      } else {
        scanEntity(partType, partBody, depth + 1, found);
      }
    }
    pos = next;
  }
}

void scanEntity(std::string_view contentType, std::string_view body, int depth, Found& found) {
  if (body.empty() || found.done()) return;
  const Media media = parseMedia(contentType);
  if (media.type == "application/sdp") {
    scanSdp(body, found);
  } else if (media.type == "application/ms-filetransfer+xml") {
    scanLyncXml(body, found);
  } else if (media.type == "text/x-msmsgsinvite") {
    scanMsMsgsInvite(body, found);
  } else if (media.type.starts_with("multipart/")) {
    scanMultipart(media.boundary, body, depth, found);
  }
}

bool windowsCannotEnd(char c) {
  return c == '.' || c == ' ' || c == '"' || c == '<' || c == '>' || c == '|' || c == '*' || c == '?' ||
         (static_cast<unsigned char>(c) < 0x20 && c != '\0') || c == 0x7F;
}

}  // namespace

bool mayHoldOffer(std::string_view contentType) {
  std::string_view type = trim(contentType.substr(0, contentType.find(';')));
  return iequals(type, "application/sdp") || istartsWith(type, "multipart/") ||
         iequals(type, "application/ms-filetransfer+xml") || iequals(type, "text/x-msmsgsinvite");
}

std::vector<FileOffer> findOffers(std::string_view contentType, std::string_view body, std::size_t limit,
                                  bool* tooDeep) {
  std::vector<FileOffer> out;
  if (tooDeep != nullptr) *tooDeep = false;
  if (!mayHoldOffer(contentType)) return out;
  Found found{out, limit};
  scanEntity(contentType, body, 0, found);
  if (tooDeep != nullptr) *tooDeep = found.tooDeep;
  return out;
}

std::string decodeSelectorName(std::string_view quoted) {
  std::string out;
  out.reserve(quoted.size());
  for (std::size_t i = 0; i < quoted.size(); ++i) {
    if (quoted[i] == '%' && i + 2 < quoted.size() && quoted[i + 1] == '2' &&
        (quoted[i + 2] == '2' || quoted[i + 2] == '5')) {
      out.push_back(quoted[i + 2] == '2' ? '"' : '%');
      i += 2;
    } else {
      out.push_back(quoted[i]);
    }
  }
  return out;
}

std::vector<std::string> candidateExtensions(std::string_view name) {
  std::vector<std::string> out;
  // Each extension once, in the order found, through a hash set: a name of
  // many ':'-separated pieces must not cost pieces x extensions.
  std::unordered_set<std::string> seen;
  auto add = [&](std::string_view piece) {
    // Windows drops trailing dots and spaces and cannot store " < > | * ? or
    // control characters: what is left decides the type.
    while (!piece.empty() && windowsCannotEnd(piece.back())) piece.remove_suffix(1);
    std::string extension = files::effectiveExtension(piece);
    if (extension.empty() || !seen.insert(extension).second) return;
    out.push_back(std::move(extension));
  };
  const std::string decoded = files::percentDecode(name);
  add(decoded);
  // NTFS streams ("a.exe::$DATA", "a.exe:x.jpg") and C strings ("a.exe\0.jpg").
  if (decoded.find_first_of(std::string_view(":\0", 2)) != std::string::npos) {
    std::size_t start = 0;
    const std::size_t slash = decoded.find_last_of("/\\");
    if (slash != std::string::npos) start = slash + 1;
    while (start <= decoded.size()) {
      std::size_t end = decoded.find_first_of(std::string_view(":\0", 2), start);
      if (end == std::string::npos) end = decoded.size();
      add(std::string_view(decoded).substr(start, end - start));
      start = end + 1;
    }
  }
  return out;
}

}  // namespace sipwarden::plugins::fileoffer
