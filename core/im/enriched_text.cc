#include "im/enriched_text.h"

#include "sip/header_id.h"

namespace sipwarden::im {

std::string enrichedText(std::string_view enriched) {
  std::string out;
  out.reserve(enriched.size());
  int paramDepth = 0;
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
      if (close == std::string_view::npos) break;  // an unfinished command hides nothing readable
      const std::string_view command = enriched.substr(i + 1, close - i - 1);
      if (sip::iequals(command, "param")) ++paramDepth;
      else if (sip::iequals(command, "/param") && paramDepth > 0) --paramDepth;
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
  return out;
}

}  // namespace sipwarden::im
