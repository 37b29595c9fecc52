// Over 500 lines because each of the four offer forms (RFC 5547 SDP, Lync
// XML, OCS msmsgsinvite, RCS FT-over-HTTP) needs its own strict reader, and
// they share the refusal reasons and the name-reading rules.
#include "file_filter/file_offers.h"

#include <cstdint>
#include <vector>

#include "common/file_extensions.h"
#include "file_filter/file_names.h"
#include "sipwarden/html_text.h"
#include "sipwarden/text.h"
#include "sipwarden/utf8.h"

namespace sipwarden::plugins::file_filter {
namespace {

constexpr std::string_view kRcsFtHttp = "application/vnd.gsma.rcs-ft-http+xml";

// The offers found so far, and how many are wanted: the scanners stop once
// they have one more than the limit (so the caller knows it was passed).
struct Found {
  std::vector<FileOffer>& offers;
  std::size_t limit;
  bool done() const { return offers.size() > limit; }
};

using text::iequals;
using text::istartsWith;
using text::trim;

bool allDigits(std::string_view text) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Splits `text` into lines (LF or CRLF) and calls f(line) for each.
template <typename F>
void forEachLine(std::string_view text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) f(text::nextLine(text, pos));
}

// Records the first reason an offer's name cannot be read; later ones add
// nothing (the Warning names one).
void unreadableBecause(FileOffer& offer, std::string_view why) {
  if (offer.unreadable.empty()) offer.unreadable = std::string(why);
}

// The checks every form shares, on the decoded name.
void checkDecodedName(FileOffer& offer) {
  if (!offer.unreadable.empty()) return;
  if (!utf8::isValid(offer.name)) unreadableBecause(offer, "file name is not UTF-8");
}

bool hexDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// ---- RFC 5547 SDP ---------------------------------------------------------
//
// RFC 5547 section 6:
//   file-selector-attr = "file-selector" [":" selector *(SP selector)]
//   filename-selector  = "name:" DQUOTE filename-string DQUOTE
//   filename-string    = 1*(filename-char / percent-encoded)
//   filename-char      = %x01-09 / %x0B-0C / %x0E-21 / %x23-24 / %x26-FF
//                        ; any byte except NUL, CR, LF, '"' and '%'
//   percent-encoded    = "%" HEXDIG HEXDIG
//   filetype-selector  = "type:" type "/" subtype *(";" ft-parameter)
//   ft-parameter       = attribute "=" DQUOTE value-string DQUOTE
// There is no escape character: a backslash is an ordinary byte and the
// first '"' ends the name. Clients that write `\"` mean an escape that the
// RFC reads as the end of the name, so any name the two readings differ on
// is unreadable.

bool blank(char c) { return c == ' ' || c == '\t'; }

// The problem with the bytes between the quotes of `name:"..."`, or "".
std::string_view selectorNameProblem(std::string_view raw) {
  if (raw.empty()) return "empty name";
  if (raw.back() == '\\') return "backslash before the closing quote";
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\0') return "NUL in name";
    if (raw[i] == '%' && !(i + 2 < raw.size() && hexDigit(raw[i + 1]) && hexDigit(raw[i + 2]))) {
      return "'%' not followed by two hex digits";
    }
  }
  return "";
}

// Reads the selectors after `a=file-selector:` into `offer`.
void readSelectors(std::string_view value, FileOffer& offer) {
  bool named = false;
  std::size_t i = 0;
  while (true) {
    while (i < value.size() && blank(value[i])) ++i;
    if (i >= value.size()) break;
    std::size_t colon = i;
    while (colon < value.size() && value[colon] != ':' && value[colon] != '"' && !blank(value[colon])) ++colon;
    const std::string_view keyword = value.substr(i, colon - i);
    const bool selector = colon < value.size() && value[colon] == ':';
    if (selector && iequals(keyword, "name")) {
      i = colon + 1;
      if (named) unreadableBecause(offer, "two name: attributes");
      std::string_view raw;
      if (i >= value.size() || value[i] != '"') {
        std::size_t end = i;
        while (end < value.size() && !blank(value[end])) ++end;
        raw = value.substr(i, end - i);
        unreadableBecause(offer, raw.empty() ? "empty name" : "name not quoted");
        i = end;
      } else {
        const std::size_t close = value.find('"', i + 1);
        if (close == std::string_view::npos) {
          raw = value.substr(i + 1);
          while (!raw.empty() && blank(raw.back())) raw.remove_suffix(1);
          unreadableBecause(offer, "unterminated quote");
          i = value.size();
        } else {
          raw = value.substr(i + 1, close - i - 1);
          i = close + 1;
          const std::string_view problem = selectorNameProblem(raw);
          if (!problem.empty()) unreadableBecause(offer, problem);
          if (i < value.size() && !blank(value[i])) {
            unreadableBecause(offer, "characters after the closing quote");
            while (i < value.size() && !blank(value[i])) ++i;
          }
        }
      }
      if (!named) offer.name = decodeSelectorName(raw);
      named = true;
      continue;
    }
    // size:, type:, hash: or a selector this reader does not know: up to
    // the next blank. Only type: parameters may hold quotes (and blanks
    // inside them); a quote anywhere else means the line can be split into
    // selectors in more than one way.
    const bool type = selector && iequals(keyword, "type");
    std::size_t end = i;
    bool quoted = false;
    while (end < value.size() && (quoted || !blank(value[end]))) {
      if (value[end] == '"') {
        if (!type) unreadableBecause(offer, "quote outside the name");
        quoted = !quoted;
      }
      ++end;
    }
    if (quoted && type) unreadableBecause(offer, "unterminated quote in type:");
    const std::string_view token = value.substr(i, end - i);
    if (selector && iequals(keyword, "size") && offer.size.empty() && allDigits(token.substr(5))) {
      offer.size = std::string(token.substr(5));
    } else if (type && offer.type.empty()) {
      offer.type = std::string(trim(token.substr(5, token.find(';') == std::string_view::npos
                                                       ? std::string_view::npos
                                                       : token.find(';') - 5)));
    }
    i = end;
  }
  checkDecodedName(offer);
}

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
    readSelectors(value, offer);
    found.offers.push_back(std::move(offer));
  });
}

// ---- XML (Lync ms-filetransfer+xml, RCS ft-http) ---------------------------

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

using html::tagEnd;

bool xmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The local name (prefix dropped) of the tag at `pos` ("<ft:name ..." -> "name",
// "</name>" -> "name").
std::string_view localName(std::string_view xml, std::size_t pos) {
  std::size_t start = pos + 1;
  if (start < xml.size() && xml[start] == '/') ++start;
  std::size_t end = start;
  while (end < xml.size() && xml[end] != '>' && xml[end] != '/' && !xmlSpace(xml[end])) ++end;
  std::string_view name = xml.substr(start, end - start);
  const std::size_t colon = name.rfind(':');
  if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
  return name;
}

struct Element {
  std::size_t tagStart = 0;      // the '<' of the start tag
  std::size_t contentStart = 0;  // just past the start tag's '>'
  std::size_t contentEnd = 0;
  std::size_t after = 0;  // where to continue searching
  bool closed = true;     // false when no end tag was found (the rest was taken)
  std::string_view startTag(std::string_view xml) const { return xml.substr(tagStart, contentStart - tagStart); }
  std::string_view content(std::string_view xml) const { return xml.substr(contentStart, contentEnd - contentStart); }
};

// The next '<' at or after `from` that opens a tag (comments, CDATA,
// processing instructions and declarations skipped), or npos.
std::size_t nextTag(std::string_view xml, std::size_t from) {
  std::size_t pos = xml.find('<', from);
  while (pos != std::string_view::npos) {
    const std::size_t skipped = skipMarkup(xml, pos);
    if (skipped == pos) return pos;
    pos = xml.find('<', skipped);
  }
  return std::string_view::npos;
}

// The next element named `name` (any prefix, any case) at or after `from`.
bool findElement(std::string_view xml, std::string_view name, std::size_t from, Element& element) {
  std::size_t pos = nextTag(xml, from);
  while (pos != std::string_view::npos) {
    const std::size_t end = tagEnd(xml, pos);
    if (end == std::string_view::npos) return false;
    if (xml[pos + 1] != '/' && iequals(localName(xml, pos), name)) {
      element.tagStart = pos;
      element.contentStart = end + 1;
      element.closed = true;
      if (xml[end - 1] == '/') {  // <name/>
        element.contentEnd = end + 1;
        element.after = end + 1;
        return true;
      }
      // The matching close tag, counting nested elements of the same name.
      int depth = 0;
      std::size_t scan = nextTag(xml, end + 1);
      while (scan != std::string_view::npos) {
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
        scan = nextTag(xml, close + 1);
      }
      element.contentEnd = xml.size();  // unterminated: take the rest
      element.after = xml.size();
      element.closed = false;
      return true;
    }
    pos = nextTag(xml, end + 1);
  }
  return false;
}

// Every element named `name` in `xml`, in order (nested ones of the same
// name are inside their parent's content, not listed again).
std::vector<Element> allElements(std::string_view xml, std::string_view name) {
  std::vector<Element> out;
  Element element;
  std::size_t at = 0;
  while (at < xml.size() && findElement(xml, name, at, element)) {
    out.push_back(element);
    at = element.after;
  }
  return out;
}

// The character data of an element's content: entities decoded, CDATA kept
// as written, comments and nested tags dropped. Lenient: the best reading.
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

// XML 1.0 Char: what a character reference may stand for.
bool xmlChar(std::uint32_t code) {
  return code == 0x9 || code == 0xA || code == 0xD || (code >= 0x20 && code <= 0xD7FF) ||
         (code >= 0xE000 && code <= 0xFFFD) || (code >= 0x10000 && code <= 0x10FFFF);
}

// True when `reference` (between '&' and ';') is one an XML parser accepts
// without a DTD: the five predefined entities or a reference to a Char.
bool wellFormedReference(std::string_view reference) {
  if (reference == "amp" || reference == "lt" || reference == "gt" || reference == "quot" || reference == "apos") {
    return true;
  }
  if (reference.size() < 2 || reference[0] != '#') return false;
  const bool hex = reference[1] == 'x';
  const std::string_view digits = reference.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return false;
  std::uint32_t code = 0;
  for (char c : digits) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (hex && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (hex && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return false;
    code = code * (hex ? 16 : 10) + static_cast<std::uint32_t>(digit);
  }
  return xmlChar(code);
}

// Why the content of a name element could be read in more than one way
// (by an XML parser, by a client's regular expression, by a lenient
// decoder), or "": only character data, the predefined entities, character
// references to XML Chars, and whole CDATA sections are read strictly.
std::string_view xmlNameProblem(std::string_view content) {
  std::size_t pos = 0;
  while (pos < content.size()) {
    const char c = content[pos];
    if (c == '<') {
      if (content.substr(pos).starts_with("<![CDATA[")) {
        const std::size_t close = content.find("]]>", pos + 9);
        if (close == std::string_view::npos) return "unterminated CDATA in the name";
        pos = close + 3;
        continue;
      }
      return "markup inside the name";
    }
    if (c == '&') {
      const std::size_t found = content.substr(pos, 12).find(';');
      if (found == std::string_view::npos || !wellFormedReference(content.substr(pos + 1, found - 1))) {
        return "malformed entity in the name";
      }
      pos += found + 1;
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return "control character in the name";
    }
    ++pos;
  }
  return "";
}

// The attributes named `name` (local name, any case) of a start tag, their
// values entity-decoded.
std::vector<std::string> attributeValues(std::string_view tag, std::string_view name) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i < tag.size() && !xmlSpace(tag[i]) && tag[i] != '>' && tag[i] != '/') ++i;  // the element's name
  while (i < tag.size()) {
    while (i < tag.size() && (xmlSpace(tag[i]) || tag[i] == '/')) ++i;
    const std::size_t start = i;
    while (i < tag.size() && tag[i] != '=' && !xmlSpace(tag[i]) && tag[i] != '>' && tag[i] != '/') ++i;
    std::string_view attribute = tag.substr(start, i - start);
    if (attribute.empty()) {
      if (i < tag.size() && tag[i] != '>') ++i;
      else break;
      continue;
    }
    const std::size_t colon = attribute.rfind(':');
    if (colon != std::string_view::npos) attribute.remove_prefix(colon + 1);
    while (i < tag.size() && xmlSpace(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') continue;
    ++i;
    while (i < tag.size() && xmlSpace(tag[i])) ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) continue;
    const char quote = tag[i];
    const std::size_t close = tag.find(quote, i + 1);
    const std::size_t stop = close == std::string_view::npos ? tag.size() : close;
    if (iequals(attribute, name)) out.push_back(html::decodeEntities(tag.substr(i + 1, stop - i - 1)));
    i = stop + 1;
  }
  return out;
}

// Reads the one name element among `names` (its text into offer.name),
// marking the offer unreadable when there are several or the one there is
// cannot be read strictly.
void readXmlName(std::string_view xml, const std::vector<Element>& names, std::string_view twoNames,
                 FileOffer& offer) {
  if (names.empty()) return;
  if (names.size() > 1) unreadableBecause(offer, twoNames);
  const Element& name = names.front();
  const std::string_view content = name.content(xml);
  offer.name = xmlText(content);
  if (!name.closed) unreadableBecause(offer, "unterminated name element");
  const std::string_view problem = xmlNameProblem(content);
  if (!problem.empty()) unreadableBecause(offer, problem);
}

void scanLyncXml(std::string_view xml, Found& found) {
  Element info;
  std::size_t from = 0;
  while (!found.done() && from < xml.size() && findElement(xml, "fileInfo", from, info)) {
    const std::string_view content = info.content(xml);
    std::string size;
    Element sizeElement;
    if (findElement(content, "size", 0, sizeElement)) {
      const std::string text = xmlText(sizeElement.content(content));
      if (allDigits(trim(text))) size = std::string(trim(text));
    }
    // Every <name> counts (a client might take any of them), and more than
    // one makes each unreadable.
    const std::vector<Element> names = allElements(content, "name");
    if (names.empty()) {
      FileOffer offer{Form::LyncXml, {}, size, {}, {}, {}};
      if (!info.closed) unreadableBecause(offer, "unterminated <fileInfo>");
      found.offers.push_back(std::move(offer));
    }
    for (std::size_t n = 0; n < names.size() && !found.done(); ++n) {
      FileOffer offer{Form::LyncXml, {}, size, {}, {}, {}};
      if (!info.closed) unreadableBecause(offer, "unterminated <fileInfo>");
      if (names.size() > 1) unreadableBecause(offer, "two <name> elements");
      readXmlName(content, {names[n]}, "two <name> elements", offer);
      checkDecodedName(offer);
      found.offers.push_back(std::move(offer));
    }
    from = info.after;
  }
}

// The last path segment of an http(s) URL, %-decoded: the name a client
// saves a file under when the descriptor gives none (Linphone does this).
std::string lastPathSegment(std::string_view url) {
  std::string_view path = url.substr(0, url.find_first_of("?#"));
  const std::size_t scheme = path.find("://");
  if (scheme != std::string_view::npos) {
    path.remove_prefix(scheme + 3);
    const std::size_t slash = path.find('/');
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  const std::size_t last = path.rfind('/');
  if (last != std::string_view::npos) path.remove_prefix(last + 1);
  return files::percentDecode(path);
}

void scanRcsFtHttp(std::string_view xml, Found& found) {
  Element info;
  std::size_t from = 0;
  while (!found.done() && from < xml.size() && findElement(xml, "file-info", from, info)) {
    from = info.after;
    const std::vector<std::string> types = attributeValues(info.startTag(xml), "type");
    // A thumbnail is a preview the client shows, not the file it saves. An
    // unknown or missing type is taken for a file (fail closed).
    if (types.size() == 1 && types[0] == "thumbnail") continue;
    FileOffer offer{Form::RcsFtHttp, {}, {}, {}, {}, {}};
    if (types.size() > 1) unreadableBecause(offer, "two type attributes on <file-info>");
    if (!info.closed) unreadableBecause(offer, "unterminated <file-info>");
    const std::string_view content = info.content(xml);
    Element element;
    if (findElement(content, "file-size", 0, element)) {
      const std::string text = xmlText(element.content(content));
      if (allDigits(trim(text))) offer.size = std::string(trim(text));
    }
    if (findElement(content, "content-type", 0, element)) offer.type = std::string(trim(xmlText(element.content(content))));
    const std::vector<Element> data = allElements(content, "data");
    if (data.size() > 1) unreadableBecause(offer, "two <data> elements");
    if (!data.empty()) {
      const std::vector<std::string> urls = attributeValues(data.front().startTag(content), "url");
      if (urls.size() > 1) unreadableBecause(offer, "two url attributes on <data>");
      if (!urls.empty()) offer.url = std::string(trim(urls.front()));
    }
    const std::vector<Element> names = allElements(content, "file-name");
    if (names.empty()) {
      offer.name = lastPathSegment(offer.url);
    } else {
      readXmlName(content, names, "two <file-name> elements", offer);
    }
    checkDecodedName(offer);
    found.offers.push_back(std::move(offer));
  }
}

// ---- OCS text/x-msmsgsinvite -------------------------------------------------

void scanMsMsgsInvite(std::string_view body, Found& found) {
  std::vector<std::string> files;
  std::string size;
  int commands = 0;
  bool invite = false;  // some Invitation-Command is INVITE
  bool other = false;   // some is not (ACCEPT, CANCEL)
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
      ++commands;
      (iequals(value, "INVITE") ? invite : other) = true;
    }
  });
  // An offer unless the command says otherwise (ACCEPT, CANCEL); with
  // several commands, an offer if any of them is INVITE.
  if (other && !invite) return;
  for (auto& file : files) {
    if (found.done()) return;
    FileOffer offer{Form::MsMsgsInvite, std::move(file), size, {}, {}, {}};
    if (files.size() > 1) unreadableBecause(offer, "two Application-File headers");
    if (commands > 1) unreadableBecause(offer, "two Invitation-Command headers");
    if (offer.name.empty()) unreadableBecause(offer, "empty name");
    if (offer.name.find('\0') != std::string::npos) unreadableBecause(offer, "NUL in name");
    checkDecodedName(offer);
    found.offers.push_back(std::move(offer));
  }
}

// The one leaf scanner for `mediaType` (lower-case, no parameters).
void scanLeaf(std::string_view mediaType, std::string_view content, Found& found) {
  if (content.empty() || found.done()) return;
  if (mediaType == "application/sdp") {
    scanSdp(content, found);
  } else if (mediaType == "application/ms-filetransfer+xml") {
    scanLyncXml(content, found);
  } else if (mediaType == "text/x-msmsgsinvite") {
    scanMsMsgsInvite(content, found);
  } else if (mediaType == kRcsFtHttp) {
    scanRcsFtHttp(content, found);
  }
}

}  // namespace

bool offerType(std::string_view mediaType) {
  return mediaType == "application/sdp" || mediaType == "application/ms-filetransfer+xml" ||
         mediaType == "text/x-msmsgsinvite" || mediaType == kRcsFtHttp;
}

void scanEntity(std::string_view mediaType, std::string_view content, std::vector<FileOffer>& offers,
                std::size_t limit) {
  Found found{offers, limit};
  scanLeaf(mediaType, content, found);
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

}  // namespace sipwarden::plugins::file_filter
