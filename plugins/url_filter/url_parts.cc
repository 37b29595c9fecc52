#include "url_parts.h"

#include <arpa/inet.h>

#include <cstring>

#include "normalized_text.h"
#include "sipwarden/text.h"

namespace sipwarden::plugins::url_filter {
namespace {

using text::lower;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One round of %-decoding, as a URL parser applies to a host, into `out`
// (its buffer reused).
void percentDecodeOnce(std::string_view text, std::string& out) {
  out.clear();
  if (text.find('%') == std::string_view::npos) {
    out.append(text);
    return;
  }
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
}

std::string percentDecodeOnce(std::string_view text) {
  std::string out;
  percentDecodeOnce(text, out);
  return out;
}

// A new host at the end of parts.hosts, with the buffers of one from an
// earlier link when there is one.
Host& addHost(UrlParts& parts) {
  if (parts.spareHosts.empty()) return parts.hosts.emplace_back();
  parts.hosts.push_back(std::move(parts.spareHosts.back()));
  parts.spareHosts.pop_back();
  return parts.hosts.back();
}

bool isSlash(char c) { return c == '/' || c == '\\'; }

// Per byte: where an authority ends ('/', '\\', '?', '#': kAuthorityEnd),
// where a path ends ('?', '#': kPathEnd), and the characters of an ASCII host
// name (kHostName: lower-case letters, digits, '-', '_', '.').
enum : unsigned char { kAuthorityEnd = 1, kPathEnd = 2, kHostName = 4 };
constexpr std::array<unsigned char, 256> kByteClass = [] {
  std::array<unsigned char, 256> classes{};
  for (const unsigned char c : {'/', '\\', '?', '#'}) classes[c] |= kAuthorityEnd;
  for (const unsigned char c : {'?', '#'}) classes[c] |= kPathEnd;
  for (int c = 'a'; c <= 'z'; ++c) classes[static_cast<std::size_t>(c)] |= kHostName;
  for (int c = '0'; c <= '9'; ++c) classes[static_cast<std::size_t>(c)] |= kHostName;
  for (const unsigned char c : {'-', '_', '.'}) classes[c] |= kHostName;
  return classes;
}();
bool is(char c, unsigned char kind) { return (kByteClass[static_cast<unsigned char>(c)] & kind) != 0; }

// Schemes whose URLs always have an authority after any run of slashes
// (WHATWG "special" schemes, and their obfuscated spellings).
bool isSpecial(std::string_view scheme) {
  return scheme == "http" || scheme == "https" || scheme == "ftp" || scheme == "ws" || scheme == "wss";
}

// The Office URI schemes ("ms-word:ofe|u|https://..."), which open a
// document from the URL they hold.
bool isOfficeScheme(std::string_view scheme) {
  return scheme == "ms-word" || scheme == "ms-excel" || scheme == "ms-powerpoint" || scheme == "ms-visio" ||
         scheme == "ms-access" || scheme == "ms-project" || scheme == "ms-publisher" || scheme == "ms-spd" ||
         scheme == "ms-infopath";
}

// Schemes whose addresses are user@host: every host after an '@' counts.
bool isAddressScheme(std::string_view scheme) {
  return scheme == "mailto" || scheme == "sip" || scheme == "sips" || scheme == "im" || scheme == "pres" ||
         scheme == "xmpp";
}

void splitPathAndQuery(std::string_view link, std::size_t from, UrlParts& parts) {
  std::size_t end = from;
  while (end < link.size() && !is(link[end], kPathEnd)) ++end;
  parts.path = {from, end};
  if (end < link.size() && link[end] == '?') {
    std::size_t queryEnd = end + 1;
    while (queryEnd < link.size() && link[queryEnd] != '#') ++queryEnd;
    parts.query = {end + 1, queryEnd};
  } else {
    parts.query = {end, end};
  }
}

// link[from...] starts with an authority: host, then path and query.
void parseAuthority(std::string_view link, std::size_t from, UrlParts& parts) {
  std::size_t end = from;
  while (end < link.size() && !is(link[end], kAuthorityEnd)) ++end;
  if (end > from) parseHost(link.substr(from, end - from), addHost(parts));
  splitPathAndQuery(link, end, parts);
}

void parseAddresses(std::string_view rest, UrlParts& parts) {
  const std::string decoded = percentDecodeOnce(rest);
  for (std::size_t at = decoded.find('@'); at != std::string::npos; at = decoded.find('@', at + 1)) {
    std::size_t end = at + 1;
    while (end < decoded.size() && std::strchr(",;?&>/# :", decoded[end]) == nullptr) ++end;
    parseHost(std::string_view(decoded).substr(at + 1, end - at - 1), addHost(parts));
  }
}

// What a browser's host parser (UTS #46 mapping, as WHATWG URL applies it)
// makes of the compatibility forms that matter here: full-width ASCII
// U+FF01..FF5E as ASCII (then lower-cased with the rest), the ideographic
// and half-width full stops U+3002 and U+FF61 as '.', and the invisible
// characters it ignores removed. "contoso.com%EF%BC%8Eevil.example" is
// contoso.com.evil.example. Other non-ASCII characters stay: the host is
// then international and never matches the allow-list.
void foldHostName(std::string& name) {
  bool high = false;
  for (const char c : name) high |= static_cast<unsigned char>(c) >= 0x80;
  if (!high) return;
  std::string folded;
  folded.reserve(name.size());
  for (std::size_t i = 0; i < name.size();) {
    std::size_t length = 1;
    const std::uint32_t code = decodeUtf8(name, i, length);
    if (code >= 0xFF01 && code <= 0xFF5E) {
      folded.push_back(static_cast<char>(code - 0xFEE0));
    } else if (code == 0x3002 || code == 0xFF61) {
      folded.push_back('.');
    } else if (!isInvisible(code)) {
      folded.append(name, i, length);
    }
    i += length;
  }
  name.swap(folded);
}

bool parseIpv4Number(std::string_view part, std::uint64_t& value) {
  int radix = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    radix = 16;
    part.remove_prefix(2);
  } else if (part.size() >= 2 && part[0] == '0') {
    radix = 8;
    part.remove_prefix(1);
  }
  value = 0;
  for (char c : part) {
    const int digit = hexValue(c);
    if (digit < 0 || digit >= radix) return false;
    value = value * static_cast<std::uint64_t>(radix) + static_cast<std::uint64_t>(digit);
    if (value > 0xFFFFFFFFull) return false;
  }
  return true;
}

}  // namespace

std::string canonicalScheme(std::string_view scheme) {
  std::string out;
  canonicalScheme(scheme, out);
  return out;
}

void canonicalScheme(std::string_view scheme, std::string& out) {
  out.resize(scheme.size());
  for (std::size_t i = 0; i < scheme.size(); ++i) out[i] = lower(scheme[i]);
  if (out == "hxxp" || out == "ttp") out = "http";
  else if (out == "hxxps" || out == "ttps") out = "https";
  else if (out == "fxp") out = "ftp";
}

bool endsInNumber(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  const std::size_t dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    for (char c : last.substr(2)) {
      if (hexValue(c) < 0) return false;
    }
    return true;
  }
  for (char c : last) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool parseIpv4(std::string_view host, std::array<std::uint8_t, 4>& out) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::uint64_t numbers[4] = {0, 0, 0, 0};
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view part =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || count == 4 || !parseIpv4Number(part, numbers[count])) return false;
    ++count;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  for (std::size_t i = 0; i + 1 < count; ++i) {
    if (numbers[i] > 255) return false;
  }
  if (numbers[count - 1] >= (1ull << (8 * (5 - count)))) return false;
  std::uint32_t address = static_cast<std::uint32_t>(numbers[count - 1]);
  for (std::size_t i = 0; i + 1 < count; ++i) address += static_cast<std::uint32_t>(numbers[i] << (8 * (3 - i)));
  out = {static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
         static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)};
  return true;
}

Host parseHost(std::string_view text) {
  Host host;
  parseHost(text, host);
  return host;
}

void parseHost(std::string_view text, Host& host) {
  host.name.clear();
  host.type = HostType::Name;
  host.address = {};
  host.international = false;
  const std::size_t at = text.rfind('@');
  if (at != std::string_view::npos) text.remove_prefix(at + 1);
  if (!text.empty() && text[0] == '[') {
    const std::size_t close = text.find(']');
    std::string literal(text.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    const std::size_t zone = literal.find('%');
    if (zone != std::string::npos) literal.resize(zone);
    host.name = literal;
    host.type = inet_pton(AF_INET6, literal.c_str(), host.address.data()) == 1 ? HostType::Ipv6 : HostType::Invalid;
    return;
  }
  const std::size_t colon = text.find(':');
  if (colon != std::string_view::npos) text = text.substr(0, colon);
  percentDecodeOnce(text, host.name);
  foldHostName(host.name);
  bool high = false;
  bool plain = true;  // only the characters of an ASCII host name
  for (char& c : host.name) {
    c = lower(c);
    high |= static_cast<unsigned char>(c) >= 0x80;
    plain &= is(c, kHostName);
  }
  if (!host.name.empty() && host.name.back() == '.') host.name.pop_back();
  if (host.name.empty()) {
    host.type = HostType::Invalid;
    return;
  }
  host.international = high;
  for (std::size_t label = 0; label != std::string::npos;) {
    const std::string& name = host.name;
    if (label + 4 <= name.size() && name[label] == 'x' && name[label + 1] == 'n' && name[label + 2] == '-' &&
        name[label + 3] == '-') {
      host.international = true;
    }
    const std::size_t dot = host.name.find('.', label);
    label = dot == std::string::npos ? dot : dot + 1;
  }
  if (host.international) return;
  if (endsInNumber(host.name)) {
    std::array<std::uint8_t, 4> v4{};
    if (!parseIpv4(host.name, v4)) {
      host.type = HostType::Invalid;
      return;
    }
    host.type = HostType::Ipv4;
    std::memcpy(host.address.data(), v4.data(), 4);
    return;
  }
  if (!plain) host.type = HostType::Invalid;
}

void parseUrl(std::string_view link, UrlForm form, UrlParts& parts) {
  parts.scheme.clear();
  for (Host& host : parts.hosts) parts.spareHosts.push_back(std::move(host));
  parts.hosts.clear();
  parts.path = {};
  parts.query = {};
  switch (form) {
    case UrlForm::Scheme: {
      const std::size_t colon = link.find(':');
      canonicalScheme(link.substr(0, colon), parts.scheme);
      const std::size_t rest = colon + 1;
      const std::string_view after = link.substr(rest);
      if (parts.scheme == "file") {
        if (after.size() >= 2 && isSlash(after[0]) && isSlash(after[1])) {
          const std::string_view authority = after.substr(2);
          const bool drive = authority.size() >= 2 && authority[1] == ':';
          if (authority.empty() || isSlash(authority[0]) || drive) {
            splitPathAndQuery(link, rest + 2, parts);
          } else {
            parseAuthority(link, rest + 2, parts);
          }
        } else {
          splitPathAndQuery(link, rest, parts);
        }
      } else if (isOfficeScheme(parts.scheme)) {
        // "ms-word:ofe|u|https://host/doc.docx": the document comes from
        // the URL after "|u|"; its host and path are the link's.
        const std::size_t marker = after.find("|u|");
        const std::size_t inner = marker == std::string_view::npos ? link.size() : rest + marker + 3;
        const std::size_t innerColon = link.find(':', inner);
        if (innerColon != std::string_view::npos && isSpecial(canonicalScheme(link.substr(inner, innerColon - inner)))) {
          std::size_t from = innerColon + 1;
          while (from < link.size() && isSlash(link[from])) ++from;
          parseAuthority(link, from, parts);
        } else {
          splitPathAndQuery(link, rest, parts);
        }
      } else if (isSpecial(parts.scheme)) {
        std::size_t from = rest;
        while (from < link.size() && isSlash(link[from])) ++from;
        parseAuthority(link, from, parts);
      } else if (after.size() >= 2 && after[0] == '/' && after[1] == '/') {
        parseAuthority(link, rest + 2, parts);
      } else if (isAddressScheme(parts.scheme)) {
        std::size_t end = rest;
        while (end < link.size() && link[end] != '?') ++end;
        parseAddresses(link.substr(rest), parts);
        if (parts.hosts.empty() && (parts.scheme == "sip" || parts.scheme == "sips")) {
          std::size_t hostEnd = rest;
          while (hostEnd < end && link[hostEnd] != ';') ++hostEnd;
          parseHost(link.substr(rest, hostEnd - rest), addHost(parts));
        }
        parts.path = {end, end};
        parts.query = {end < link.size() ? end + 1 : end, link.size()};
      } else {
        splitPathAndQuery(link, rest, parts);
      }
      break;
    }
    case UrlForm::Authority: {
      std::size_t from = 0;
      while (from < link.size() && isSlash(link[from])) ++from;
      parseAuthority(link, from, parts);
      break;
    }
    case UrlForm::BareHost:
      parseAuthority(link, 0, parts);
      break;
    case UrlForm::Relative:
      splitPathAndQuery(link, 0, parts);
      break;
  }
}

}  // namespace sipwarden::plugins::url_filter
