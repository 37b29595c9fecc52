#include "im/mime.h"

#include <algorithm>

#include "sip/grammar.h"
#include "sip/header_id.h"
#include "sipwarden/text.h"

namespace sipwarden::im {
namespace {

using text::lower;

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '!' || c == '%' || c == '*' || c == '+' || c == '`' || c == '\'' || c == '~';
}

}  // namespace

const MediaParameter* MediaType::parameter(std::string_view name) const {
  for (const MediaParameter& candidate : parameters) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

MediaType parseMediaType(std::string_view value) {
  MediaType media;
  std::size_t pos = std::min(value.find(';'), value.size());
  const std::string_view head = sip::trim(value.substr(0, pos));
  if (head.find_first_of("( \t\r\n") == std::string_view::npos) {
    media.type = lower(head);  // the usual "text/plain"
  } else {
    // Whitespace and (nested) comments dropped, then token/token.
    pos = 0;
    int comment = 0;
    while (pos < value.size() && (comment > 0 || value[pos] != ';')) {
      const char c = value[pos++];
      if (c == '(') ++comment;
      else if (c == ')' && comment > 0) --comment;
      else if (comment == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n') media.type += c;
    }
    media.type = lower(media.type);
  }
  if (!media.type.empty()) {
    const std::size_t slash = media.type.find('/');
    media.valid = slash != std::string::npos && slash > 0 && slash + 1 < media.type.size() &&
                  media.type.find('/', slash + 1) == std::string::npos;
    for (char c : media.type) media.valid = media.valid && (isTokenChar(c) || c == '/');
  }
  while (pos < value.size()) {
    ++pos;  // the ';'
    const std::size_t equals = value.find_first_of("=;", pos);
    if (equals == std::string_view::npos || value[equals] == ';') {
      pos = equals == std::string_view::npos ? value.size() : equals;
      continue;  // a parameter without a value
    }
    MediaParameter parameter;
    parameter.name = lower(sip::trim(value.substr(pos, equals - pos)));
    pos = equals + 1;
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
    if (pos < value.size() && value[pos] == '"') {
      // quoted-string with quoted-pairs (RFC 2045 / 3261)
      ++pos;
      parameter.offset = pos;
      while (pos < value.size() && value[pos] != '"') {
        if (value[pos] == '\\' && pos + 1 < value.size()) ++pos;
        parameter.value += value[pos++];
      }
      parameter.length = pos - parameter.offset;
      if (pos < value.size()) ++pos;  // the closing quote
      while (pos < value.size() && value[pos] != ';') ++pos;
    } else {
      const std::size_t end = std::min(value.find(';', pos), value.size());
      const std::string_view raw = sip::trim(value.substr(pos, end - pos));
      parameter.offset = raw.empty() ? pos : static_cast<std::size_t>(raw.data() - value.data());
      parameter.length = raw.size();
      parameter.value = std::string(raw);
      pos = end;
    }
    // The usual lone "charset=UTF-8" needs no list (this runs per message).
    if (media.parameters.empty() && pos >= value.size() && parameter.name == "charset") {
      media.charset = lower(parameter.value);
      return media;
    }
    for (const MediaParameter& earlier : media.parameters) {
      if (earlier.name == parameter.name && earlier.value != parameter.value) media.conflicting = true;
    }
    media.parameters.push_back(std::move(parameter));
  }
  if (const MediaParameter* boundary = media.parameter("boundary")) media.boundary = boundary->value;
  if (const MediaParameter* charset = media.parameter("charset")) media.charset = lower(charset->value);
  return media;
}

std::size_t headerSectionEnd(std::string_view text, std::size_t from) {
  // Line by line, as mimeHeader and looksLikeHeaderSection read: an empty
  // line is "\n" or "\r\n" after a line break, however the breaks mix.
  std::size_t pos = from;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return std::string_view::npos;
    if (end == pos || (end == pos + 1 && text[pos] == '\r')) return end + 1;
    pos = end + 1;
  }
  return std::string_view::npos;
}

MimeHeader mimeHeader(std::string_view headers, std::string_view name) {
  MimeHeader found;
  std::size_t pos = 0;
  std::optional<std::string> current;  // the header being read, while its continuation lines follow
  auto finish = [&] {
    if (!current) return;
    std::string value(sip::trim(*current));
    if (!found.value) found.value = std::move(value);
    else if (*found.value != value) found.repeated = true;
    current.reset();
  };
  while (pos < headers.size()) {
    const std::string_view line = text::nextLine(headers, pos);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      if (current) *current += " " + std::string(sip::trim(line));
      continue;
    }
    finish();
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && sip::iequals(sip::trim(line.substr(0, colon)), name)) {
      current = std::string(line.substr(colon + 1));
    }
  }
  finish();
  return found;
}

bool looksLikeHeaderSection(std::string_view text) {
  std::size_t pos = 0;
  bool any = false;
  while (pos < text.size()) {
    const std::string_view line = text::nextLine(text, pos);
    if (line.empty()) return any;
    if (line.front() == ' ' || line.front() == '\t') {
      if (!any) return false;
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (char c : line.substr(0, colon)) {
      if (!isTokenChar(c)) return false;
    }
    any = true;
  }
  return false;  // no empty line ends it: the text is content, not headers
}

}  // namespace sipwarden::im
