#include "im/enriched_text.h"

#include <vector>

#include "sip/header_id.h"

namespace sipwarden::im {
namespace {

// RFC 1896: a command name is up to 60 letters, digits and '-', and a
// closing command is the name after a '/'. Anything else between '<' and
// '>' is text a text/plain reader shows.
bool isPlainCommand(std::string_view command) {
  if (command.starts_with('/')) command.remove_prefix(1);
  if (command.empty() || command.size() > 60) return false;
  for (char c : command) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!allowed) return false;
  }
  return true;
}

}  // namespace

std::string enrichedText(std::string_view enriched) {
  std::string out;
  out.reserve(enriched.size());
  std::vector<std::string_view> shownAfter;  // <param> contents and odd commands, in order
  int paramDepth = 0;
  std::size_t paramStart = 0;  // where the outermost open <param>'s contents begin
  std::size_t i = 0;
  while (i < enriched.size()) {
    const char c = enriched[i];
    if (c == '<') {
      if (i + 1 < enriched.size() && enriched[i + 1] == '<') {
        if (paramDepth == 0) out += '<';
        i += 2;
        continue;
      }
      const std::size_t close = enriched.find('>', i + 1);
      if (close == std::string_view::npos) {
        // Not a command: a reader shows the rest as it is. (Inside a
        // <param> the rest is kept as that parameter's contents.)
        if (paramDepth == 0) out += enriched.substr(i);
        i = enriched.size();
        break;
      }
      const std::string_view command = enriched.substr(i + 1, close - i - 1);
      if (sip::iequals(command, "param")) {
        if (paramDepth++ == 0) paramStart = close + 1;
      } else if (sip::iequals(command, "/param") && paramDepth > 0) {
        if (--paramDepth == 0) shownAfter.push_back(enriched.substr(paramStart, i - paramStart));
      } else if (paramDepth == 0 && !command.empty() && !isPlainCommand(command)) {
        shownAfter.push_back(command);
      }
      i = close + 1;
      continue;
    }
    if (c == '\r' || c == '\n') {
      std::size_t breaks = 0;
      while (i < enriched.size() && (enriched[i] == '\r' || enriched[i] == '\n')) {
        if (enriched[i] == '\n') ++breaks;
        ++i;
      }
      if (paramDepth == 0) {
        if (breaks <= 1) out += ' ';
        else out.append(breaks - 1, '\n');
      }
      continue;
    }
    if (paramDepth == 0) out += c;
    ++i;
  }
  if (paramDepth > 0) shownAfter.push_back(enriched.substr(paramStart));  // a <param> never closed
  for (std::string_view shown : shownAfter) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += shown;
  }
  return out;
}

}  // namespace sipwarden::im
