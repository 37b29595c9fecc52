#include "sip/message.h"

#include <cstring>

namespace sipwarden::sip {
namespace {

bool isSpaceOrTab(char c) noexcept { return c == ' ' || c == '\t'; }

// Returns [begin, end) of the line starting at `pos` without its line end,
// and sets `next` to the first octet after the line end (npos when the text
// ends without one).
std::string_view nextLine(std::string_view text, std::size_t pos, std::size_t& next) noexcept {
  const void* found = std::memchr(text.data() + pos, '\n', text.size() - pos);
  if (found == nullptr) {
    next = std::string_view::npos;
    return text.substr(pos);
  }
  const std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(found) - text.data());
  next = lf + 1;
  std::size_t end = lf;
  if (end > pos && text[end - 1] == '\r') --end;
  return text.substr(pos, end - pos);
}

bool isSipVersion(std::string_view text) noexcept {
  return text.size() > 4 && iequals(text.substr(0, 4), "SIP/");
}

// "SIP/2.0" is the only version we speak; another well-formed version is 505.
bool checkVersion(std::string_view version, ParseFailure& failure) {
  const std::string_view number = version.substr(4);
  const std::size_t dot = number.find('.');
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  if (dot == std::string_view::npos || !parseDecimal(number.substr(0, dot), 255, major) ||
      !parseDecimal(number.substr(dot + 1), 255, minor)) {
    failure.reason = "Bad SIP version";
    return false;
  }
  if (major != 2 || minor != 0) {
    failure.reason = "Version Not Supported";
    failure.statusCode = 505;
    return false;
  }
  return true;
}

}  // namespace

std::size_t findHeaderEnd(std::string_view bytes) noexcept {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const void* found = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
    if (found == nullptr) return std::string_view::npos;
    const std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(found) - bytes.data());
    const std::size_t next = lf + 1;
    if (next < bytes.size() && bytes[next] == '\n') return next + 1;
    if (next + 1 < bytes.size() && bytes[next] == '\r' && bytes[next + 1] == '\n') return next + 2;
    pos = next;
  }
  return std::string_view::npos;
}

bool Message::parseStartLine(std::string_view line, ParseFailure& failure) {
  startLine_ = line;
  if (isSipVersion(line)) {
    isRequest_ = false;
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp + 4 > line.size() || (sp + 4 < line.size() && line[sp + 4] != ' ')) {
      failure.reason = "Bad status line";
      return false;
    }
    version_ = line.substr(0, sp);
    std::uint64_t code = 0;
    if (!parseDecimal(line.substr(sp + 1, 3), 699, code) || code < 100) {
      failure.reason = "Bad status code";
      return false;
    }
    statusCode_ = static_cast<int>(code);
    reason_ = sp + 4 < line.size() ? line.substr(sp + 5) : std::string_view{};
    return checkVersion(version_, failure);
  }
  isRequest_ = true;
  failure.isRequest = true;
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    failure.reason = "Bad request line";
    return false;
  }
  method_ = line.substr(0, sp1);
  requestUri_ = line.substr(sp1 + 1, sp2 - sp1 - 1);
  version_ = line.substr(sp2 + 1);
  if (!isToken(method_)) {
    failure.reason = "Bad method";
    return false;
  }
  if (requestUri_.empty() || !isSipVersion(version_) || version_.find(' ') != std::string_view::npos) {
    failure.reason = "Bad request line";
    return false;
  }
  return checkVersion(version_, failure);
}

std::unique_ptr<Message> Message::parse(std::string bytes, Framing framing, ParseFailure& failure) {
  std::unique_ptr<Message> message(new Message());
  message->buffer_ = std::move(bytes);
  Message& m = *message;
  const std::string_view text(m.buffer_);

  std::size_t pos = 0;
  while (pos < text.size() && (text[pos] == '\r' || text[pos] == '\n')) ++pos;
  if (pos == text.size()) {
    failure.reason = "Empty message";
    return nullptr;
  }
  std::size_t next = 0;
  const std::string_view start = nextLine(text, pos, next);
  ParseFailure startFailure;
  const bool startOk = m.parseStartLine(start, startFailure);
  failure.isRequest = m.isRequest_;
  // A bad start line still lets the headers be indexed: a request can then
  // be answered 400 with the reason, a response is dropped by the caller.

  m.headers_.reserve(16);
  bool anyFolded = false;
  std::size_t bodyStart = std::string_view::npos;
  while (next != std::string_view::npos && next < text.size()) {
    const std::size_t lineStart = next;
    const std::string_view line = nextLine(text, lineStart, next);
    if (line.empty()) {
      bodyStart = next == std::string_view::npos ? text.size() : next;
      break;
    }
    if (isSpaceOrTab(line[0])) {
      if (m.headers_.empty()) {
        failure.reason = "Continuation line before any header";
        return nullptr;
      }
      HeaderField& previous = m.headers_.back();
      previous.raw = text.substr(previous.raw.data() - text.data(), line.data() + line.size() - previous.raw.data());
      anyFolded = true;
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      failure.reason = "Header line without ':'";
      return nullptr;
    }
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && isSpaceOrTab(name.back())) name.remove_suffix(1);
    if (!isToken(name)) {
      failure.reason = "Bad header name";
      return nullptr;
    }
    HeaderField field;
    field.name = name;
    field.raw = line;
    field.value = trim(line.substr(colon + 1));
    field.id = classifyHeader(name);
    m.headers_.push_back(field);
  }
  if (bodyStart == std::string_view::npos) {
    if (framing == Framing::Stream) {
      failure.reason = "Header section not terminated";
      return nullptr;
    }
    bodyStart = text.size();  // a datagram may end right after its last header
  }

  if (anyFolded) {
    for (HeaderField& field : m.headers_) {
      if (field.raw.find('\n') == std::string_view::npos) continue;
      std::string unfolded(field.raw.substr(field.raw.find(':') + 1));
      for (char& c : unfolded) {
        if (c == '\r' || c == '\n') c = ' ';
      }
      m.unfolded_.push_back(std::make_unique<std::string>(std::move(unfolded)));
      field.value = trim(*m.unfolded_.back());
    }
  }

  const std::size_t available = text.size() - bodyStart;
  std::size_t bodyLength = framing == Framing::Datagram ? available : 0;
  if (m.count(HeaderId::ContentLength) > 1) {
    failure.reason = "Multiple Content-Length values";
  } else if (const HeaderField* contentLength = m.first(HeaderId::ContentLength)) {
    std::uint64_t declared = 0;
    if (!parseDecimal(contentLength->value, 0xffffffffULL, declared)) {
      failure.reason = "Bad Content-Length";
    } else if (declared > available) {
      failure.reason = "Content-Length larger than message";
    } else {
      bodyLength = static_cast<std::size_t>(declared);
    }
  }
  m.body_ = text.substr(bodyStart, failure.reason.empty() ? bodyLength : 0);
  m.wireSize_ = bodyStart + m.body_.size();
  if (!startOk) failure = startFailure;
  failure.isRequest = m.isRequest_;
  return message;
}

std::string_view Message::method() const {
  if (isRequest_) return method_;
  const CSeq* sequence = cseq();
  return sequence != nullptr ? sequence->method : std::string_view{};
}

const HeaderField* Message::first(HeaderId id) const {
  for (const auto& field : headers_) {
    if (field.id == id) return &field;
  }
  return nullptr;
}

std::size_t Message::count(HeaderId id) const {
  std::size_t n = 0;
  for (const auto& field : headers_) n += field.id == id ? 1 : 0;
  return n;
}

std::optional<std::string_view> Message::header(std::string_view name) const {
  const HeaderId id = classifyHeader(name);
  for (const auto& field : headers_) {
    if (id != HeaderId::Other ? field.id == id : field.name.size() == name.size() && iequals(field.name, name)) {
      return field.value;
    }
  }
  return std::nullopt;
}

std::vector<std::string_view> Message::values(std::string_view name) const {
  const HeaderId id = classifyHeader(name);
  std::vector<std::string_view> out;
  std::vector<std::string_view> elements;
  std::string error;
  for (const auto& field : headers_) {
    if (id != HeaderId::Other ? field.id != id : !iequals(field.name, name)) continue;
    if (id != HeaderId::Other && id != HeaderId::CallId && id != HeaderId::From && id != HeaderId::To &&
        id != HeaderId::CSeq && id != HeaderId::Subject && splitCommaList(field.value, elements, error)) {
      out.insert(out.end(), elements.begin(), elements.end());
    } else {
      out.push_back(field.value);
    }
  }
  return out;
}

Message::Structured& Message::structured() const {
  if (!structured_) structured_ = std::make_unique<Structured>();
  return *structured_;
}

void Message::fail(std::string reason) const {
  if (structureError_.empty()) structureError_ = std::move(reason);
}

const std::vector<ListElement<Via>>* Message::vias() const {
  auto& vias_ = structured().vias;
  if (!vias_.parsed) {
    vias_.parsed = true;
    std::vector<std::string_view> elements;
    std::string error;
    vias_.ok = true;
    for (std::size_t i = 0; i < headers_.size() && vias_.ok; ++i) {
      if (headers_[i].id != HeaderId::Via) continue;
      if (!splitCommaList(headers_[i].value, elements, error)) {
        fail("Bad Via: " + error);
        vias_.ok = false;
        break;
      }
      for (std::size_t e = 0; e < elements.size(); ++e) {
        ListElement<Via> element;
        element.headerIndex = i;
        element.elementIndex = e;
        if (!parseVia(elements[e], element.value, error)) {
          fail("Bad Via: " + error);
          vias_.ok = false;
          break;
        }
        vias_.value.push_back(std::move(element));
      }
    }
    if (vias_.ok && vias_.value.empty()) {
      fail("Missing Via");
      vias_.ok = false;
    }
  }
  return vias_.ok ? &vias_.value : nullptr;
}

const Via* Message::topVia() const {
  const auto* list = vias();
  return list != nullptr ? &list->front().value : nullptr;
}

bool Message::parseNameAddrList(HeaderId id, Lazy<std::vector<ListElement<NameAddr>>>& cache) const {
  if (cache.parsed) return cache.ok;
  cache.parsed = true;
  cache.ok = true;
  std::vector<std::string_view> elements;
  std::string error;
  for (std::size_t i = 0; i < headers_.size(); ++i) {
    if (headers_[i].id != id) continue;
    if (!splitCommaList(headers_[i].value, elements, error)) {
      fail("Bad " + std::string(canonicalName(id)) + ": " + error);
      cache.ok = false;
      return false;
    }
    for (std::size_t e = 0; e < elements.size(); ++e) {
      ListElement<NameAddr> element;
      element.headerIndex = i;
      element.elementIndex = e;
      if (!parseNameAddr(elements[e], element.value, error)) {
        fail("Bad " + std::string(canonicalName(id)) + ": " + error);
        cache.ok = false;
        return false;
      }
      cache.value.push_back(std::move(element));
    }
  }
  return true;
}

const std::vector<ListElement<NameAddr>>* Message::routes() const {
  auto& routes = structured().routes;
  return parseNameAddrList(HeaderId::Route, routes) ? &routes.value : nullptr;
}

const std::vector<ListElement<NameAddr>>* Message::recordRoutes() const {
  auto& recordRoutes = structured().recordRoutes;
  return parseNameAddrList(HeaderId::RecordRoute, recordRoutes) ? &recordRoutes.value : nullptr;
}

const NameAddr* Message::singleNameAddr(HeaderId id, Lazy<NameAddr>& cache) const {
  if (!cache.parsed) {
    cache.parsed = true;
    const std::string name(canonicalName(id));
    const std::size_t n = count(id);
    std::string error;
    if (n == 0) {
      fail("Missing " + name);
    } else if (n > 1) {
      fail("Multiple " + name + " headers");
    } else if (!parseNameAddr(first(id)->value, cache.value, error)) {
      fail("Bad " + name + ": " + error);
    } else if (cache.value.wildcard) {
      fail("Bad " + name + ": wildcard");
    } else {
      cache.ok = true;
    }
  }
  return cache.ok ? &cache.value : nullptr;
}

const NameAddr* Message::from() const { return singleNameAddr(HeaderId::From, structured().from); }
const NameAddr* Message::to() const { return singleNameAddr(HeaderId::To, structured().to); }

const CSeq* Message::cseq() const {
  auto& cseq_ = structured().cseq;
  if (!cseq_.parsed) {
    cseq_.parsed = true;
    std::string error;
    const std::size_t n = count(HeaderId::CSeq);
    if (n == 0) {
      fail("Missing CSeq");
    } else if (n > 1) {
      fail("Multiple CSeq headers");
    } else if (!parseCSeq(first(HeaderId::CSeq)->value, cseq_.value, error)) {
      fail("Bad CSeq: " + error);
    } else {
      cseq_.ok = true;
    }
  }
  return cseq_.ok ? &cseq_.value : nullptr;
}

const Uri* Message::parsedRequestUri() const {
  auto& requestUriParsed_ = structured().requestUri;
  if (!requestUriParsed_.parsed) {
    requestUriParsed_.parsed = true;
    std::string error;
    if (!isRequest_) {
      fail("Not a request");
    } else if (!parseUri(requestUri_, requestUriParsed_.value, error)) {
      fail("Bad Request-URI: " + error);
    } else {
      requestUriParsed_.ok = true;
    }
  }
  return requestUriParsed_.ok ? &requestUriParsed_.value : nullptr;
}

bool Message::readMaxForwards(std::optional<unsigned>& value) const {
  value.reset();
  const std::size_t n = count(HeaderId::MaxForwards);
  if (n == 0) return true;
  std::uint64_t number = 0;
  if (n > 1) {
    fail("Multiple Max-Forwards headers");
    return false;
  }
  if (!parseDecimal(first(HeaderId::MaxForwards)->value, 255, number)) {
    fail("Bad Max-Forwards");
    return false;
  }
  value = static_cast<unsigned>(number);
  return true;
}

std::string_view Message::callId() const {
  const HeaderField* field = first(HeaderId::CallId);
  return field != nullptr ? field->value : std::string_view{};
}

}  // namespace sipwarden::sip
