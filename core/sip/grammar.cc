#include "sip/grammar.h"

#include "sip/header_id.h"

#include <array>

namespace sipwarden::sip {
namespace {

bool isLws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool isAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }
bool isHex(char c) noexcept { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::size_t skipLws(std::string_view text, std::size_t pos) noexcept {
  while (pos < text.size() && isLws(text[pos])) ++pos;
  return pos;
}

// Scans a quoted string starting at text[pos] == '"'. Returns the index one
// past the closing quote, or npos when it is not terminated.
std::size_t skipQuoted(std::string_view text, std::size_t pos) noexcept {
  for (++pos; pos < text.size(); ++pos) {
    if (text[pos] == '\\') {
      ++pos;  // quoted-pair: the next octet is taken literally, whatever it is
    } else if (text[pos] == '"') {
      return pos + 1;
    }
  }
  return std::string_view::npos;
}

bool parseHostPort(std::string_view text, std::string_view& host, std::uint16_t& port, std::string& error) {
  port = 0;
  std::size_t pos = 0;
  if (!text.empty() && text[0] == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close < 3) {
      error = "unterminated IPv6 reference";
      return false;
    }
    for (std::size_t i = 1; i < close; ++i) {
      // RFC 5118 §4.10: tolerate a surplus colon, so no further structure check.
      if (!isHex(text[i]) && text[i] != ':' && text[i] != '.') {
        error = "bad IPv6 reference";
        return false;
      }
    }
    host = text.substr(0, close + 1);
    pos = close + 1;
  } else {
    while (pos < text.size() && (isAlpha(text[pos]) || isDigit(text[pos]) || text[pos] == '-' ||
                                 text[pos] == '.' || text[pos] == '_')) {
      ++pos;
    }
    host = text.substr(0, pos);
    if (host.empty()) {
      error = "missing host";
      return false;
    }
  }
  if (pos == text.size()) return true;
  if (text[pos] != ':') {
    error = "bad host";
    return false;
  }
  std::uint64_t value = 0;
  if (!parseDecimal(text.substr(pos + 1), 65535, value)) {
    error = "bad port";
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

namespace {

constexpr std::array<bool, 256> makeTokenTable() {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("-.!%*_+`'~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr std::array<bool, 256> kTokenTable = makeTokenTable();

}  // namespace

bool isTokenChar(char c) noexcept { return kTokenTable[static_cast<unsigned char>(c)]; }

bool isToken(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (char c : text) {
    if (!kTokenTable[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) noexcept {
  std::size_t begin = 0;
  while (begin < text.size() && isLws(text[begin])) ++begin;
  std::size_t end = text.size();
  while (end > begin && isLws(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

bool parseDecimal(std::string_view text, std::uint64_t max, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t value = 0;
  for (char c : text) {
    if (!isDigit(c)) return false;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

bool parseParams(std::string_view text, std::vector<Param>& out, std::string& error) {
  out.clear();
  std::size_t pos = skipLws(text, 0);
  while (pos < text.size()) {
    if (text[pos] != ';') {
      error = "expected ';' before parameter";
      return false;
    }
    pos = skipLws(text, pos + 1);
    const std::size_t nameBegin = pos;
    while (pos < text.size() && isTokenChar(text[pos])) ++pos;
    if (pos == nameBegin) {
      error = "empty parameter";
      return false;
    }
    Param param;
    param.name = text.substr(nameBegin, pos - nameBegin);
    pos = skipLws(text, pos);
    if (pos < text.size() && text[pos] == '=') {
      pos = skipLws(text, pos + 1);
      const std::size_t valueBegin = pos;
      if (pos < text.size() && text[pos] == '"') {
        pos = skipQuoted(text, pos);
        if (pos == std::string_view::npos) {
          error = "unterminated quoted parameter value";
          return false;
        }
      } else {
        while (pos < text.size() && text[pos] != ';' && !isLws(text[pos]) && text[pos] != ',') ++pos;
      }
      if (pos == valueBegin) {
        error = "empty parameter value";
        return false;
      }
      param.value = text.substr(valueBegin, pos - valueBegin);
      param.hasValue = true;
      pos = skipLws(text, pos);
    }
    out.push_back(param);
  }
  return true;
}

std::optional<std::string_view> findParam(const std::vector<Param>& params, std::string_view name) {
  for (const auto& param : params) {
    if (iequals(param.name, name)) return param.value;
  }
  return std::nullopt;
}

bool Uri::isSip() const { return iequals(scheme, "sip") || iequals(scheme, "sips"); }

std::string_view Uri::hostAddress() const {
  if (host.size() >= 2 && host.front() == '[') return host.substr(1, host.size() - 2);
  return host;
}

std::string_view Via::hostAddress() const {
  if (host.size() >= 2 && host.front() == '[') return host.substr(1, host.size() - 2);
  return host;
}

bool parseUri(std::string_view text, Uri& out, std::string& error) {
  out = Uri{};
  out.text = text;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '"') {
      error = "bad character in URI";
      return false;
    }
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || !isAlpha(text[0])) {
    error = "bad URI scheme";
    return false;
  }
  out.scheme = text.substr(0, colon);
  for (char c : out.scheme) {
    if (!isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.') {
      error = "bad URI scheme";
      return false;
    }
  }
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty()) {
    error = "empty URI";
    return false;
  }
  if (!out.isSip()) return true;  // absolute URI: opaque to a proxy

  const std::size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    out.user = userinfo.substr(0, userinfo.find(':'));
    if (out.user.empty()) {
      error = "empty user part";
      return false;
    }
    rest = rest.substr(at + 1);
  }
  const std::size_t question = rest.find('?');
  if (question != std::string_view::npos) {
    out.headerText = rest.substr(question + 1);
    rest = rest.substr(0, question);
  }
  // IPv6 references may hold ':' but never ';', so the first ';' after any
  // ']' starts the parameters.
  const std::size_t bracket = rest.find(']');
  const std::size_t semicolon = rest.find(';', bracket == std::string_view::npos ? 0 : bracket);
  std::string_view hostport = rest.substr(0, semicolon);
  if (semicolon != std::string_view::npos) out.paramText = rest.substr(semicolon);
  if (!parseHostPort(hostport, out.host, out.port, error)) return false;
  if (!out.paramText.empty() && !parseParams(out.paramText, out.params, error)) return false;
  return true;
}

bool parseNameAddr(std::string_view text, NameAddr& out, std::string& error) {
  out = NameAddr{};
  text = trim(text);
  if (text == "*") {
    out.wildcard = true;
    return true;
  }
  std::size_t pos = 0;
  std::size_t laquot = std::string_view::npos;
  if (!text.empty() && text[0] == '"') {
    const std::size_t end = skipQuoted(text, 0);
    if (end == std::string_view::npos) {
      error = "unterminated quoted display name";
      return false;
    }
    out.displayName = text.substr(1, end - 2);
    out.quotedDisplayName = true;
    pos = skipLws(text, end);
    if (pos >= text.size() || text[pos] != '<') {
      error = "expected '<' after display name";
      return false;
    }
    laquot = pos;
  } else {
    laquot = text.find('<');
    if (laquot != std::string_view::npos) {
      const std::string_view display = trim(text.substr(0, laquot));
      for (char c : display) {
        if (!isTokenChar(c) && !isLws(c)) {
          error = "bad display name";
          return false;
        }
      }
      out.displayName = display;
    }
  }

  std::string_view uriText;
  std::string_view paramText;
  if (laquot != std::string_view::npos) {
    const std::size_t raquot = text.find('>', laquot);
    if (raquot == std::string_view::npos) {
      error = "missing '>'";
      return false;
    }
    uriText = text.substr(laquot + 1, raquot - laquot - 1);
    paramText = text.substr(raquot + 1);
    out.bracketed = true;
  } else {
    // addr-spec form: parameters after the URI belong to the header, and the
    // URI may not carry its own parameters, headers or commas (RFC 3261 §20).
    const std::size_t semicolon = text.find(';');
    uriText = trim(text.substr(0, semicolon));
    if (semicolon != std::string_view::npos) paramText = text.substr(semicolon);
    if (uriText.find_first_of("?,") != std::string_view::npos) {
      error = "URI with headers or commas must be enclosed in <>";
      return false;
    }
  }
  if (!parseUri(uriText, out.uri, error)) return false;
  out.paramText = trim(paramText);
  if (!parseParams(out.paramText, out.params, error)) return false;
  return true;
}

bool parseVia(std::string_view text, Via& out, std::string& error) {
  out = Via{};
  out.text = text;
  // sent-protocol: name LWS "/" LWS version LWS "/" LWS transport
  std::string_view parts[3];
  std::size_t pos = skipLws(text, 0);
  for (int i = 0; i < 3; ++i) {
    const std::size_t begin = pos;
    while (pos < text.size() && isTokenChar(text[pos])) ++pos;
    parts[i] = text.substr(begin, pos - begin);
    if (parts[i].empty()) {
      error = "bad Via sent-protocol";
      return false;
    }
    pos = skipLws(text, pos);
    if (i < 2) {
      if (pos >= text.size() || text[pos] != '/') {
        error = "bad Via sent-protocol";
        return false;
      }
      pos = skipLws(text, pos + 1);
    }
  }
  if (!iequals(parts[0], "SIP") || parts[1] != "2.0") {
    error = "bad Via protocol";
    return false;
  }
  out.transport = parts[2];
  const std::size_t sentByBegin = pos;
  if (pos < text.size() && text[pos] == '[') {
    pos = text.find(']', pos);
    if (pos == std::string_view::npos) {
      error = "unterminated IPv6 reference in Via";
      return false;
    }
  }
  while (pos < text.size() && text[pos] != ';' && !isLws(text[pos])) ++pos;
  const std::string_view sentBy = text.substr(sentByBegin, pos - sentByBegin);
  if (!parseHostPort(sentBy, out.host, out.port, error)) {
    error = "bad Via sent-by: " + error;
    return false;
  }
  if (!parseParams(text.substr(pos), out.params, error)) {
    error = "bad Via parameter: " + error;
    return false;
  }
  return true;
}

bool parseCSeq(std::string_view text, CSeq& out, std::string& error) {
  text = trim(text);
  std::size_t pos = 0;
  while (pos < text.size() && isDigit(text[pos])) ++pos;
  std::uint64_t number = 0;
  if (!parseDecimal(text.substr(0, pos), 0xffffffffULL, number)) {
    error = "bad CSeq number";
    return false;
  }
  const std::string_view method = trim(text.substr(pos));
  if (pos == text.size() || !isLws(text[pos]) || !isToken(method)) {
    error = "bad CSeq method";
    return false;
  }
  out.number = static_cast<std::uint32_t>(number);
  out.method = method;
  return true;
}

bool splitCommaList(std::string_view text, std::vector<std::string_view>& out, std::string& error) {
  out.clear();
  std::size_t begin = 0;
  bool inAngle = false;
  for (std::size_t pos = 0; pos <= text.size(); ++pos) {
    if (pos < text.size()) {
      const char c = text[pos];
      if (c == '"') {
        pos = skipQuoted(text, pos);
        if (pos == std::string_view::npos) {
          error = "unterminated quoted string";
          return false;
        }
        --pos;
        continue;
      }
      if (c == '<') inAngle = true;
      if (c == '>') inAngle = false;
      if (c != ',' || inAngle) continue;
    }
    const std::string_view element = trim(text.substr(begin, pos - begin));
    if (element.empty()) {
      error = "empty list element";
      return false;
    }
    out.push_back(element);
    begin = pos + 1;
  }
  return true;
}

}  // namespace sipwarden::sip
