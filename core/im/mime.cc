#include "im/mime.h"

#include "sip/grammar.h"
#include "sip/header_id.h"

namespace sipwarden::im {
namespace {

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

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '!' || c == '%' || c == '*' || c == '+' || c == '`' || c == '\'' || c == '~';
}

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
      if (sip::iequals(name, "boundary") && media.boundary.empty()) media.boundary = std::string(unquote(param.substr(equals + 1)));
      if (sip::iequals(name, "charset") && media.charset.empty()) media.charset = lower(unquote(param.substr(equals + 1)));
    }
    pos = next < value.size() ? next : std::string_view::npos;
  }
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
    std::size_t end = headers.find('\n', pos);
    if (end == std::string_view::npos) end = headers.size();
    std::string_view line = headers.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
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
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
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
