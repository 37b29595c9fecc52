#include "lua_policy/uri.h"

#include <algorithm>
#include <cctype>

#include "sipwarden/text.h"

namespace sipwarden::plugins::lua_policy {
namespace {

// A scanner rather than a regex: policies call this several times per
// message (each group membership test), and RE2 with captures cost 4 us a
// message in the ethical-wall benchmark.

using text::lower;
using text::trim;

// Splits `"Display" <uri>` or `Display <uri>`; false when there is no <uri>.
bool splitNameAddr(std::string_view text, std::string& display, std::string_view& uri) {
  std::size_t open = std::string_view::npos;
  if (!text.empty() && text.front() == '"') {
    std::size_t i = 1;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        display += text[++i];
      } else {
        display += text[i];
      }
    }
    if (i >= text.size()) return false;
    open = text.find('<', i + 1);
  } else {
    open = text.find('<');
    if (open != std::string_view::npos) display = std::string(trim(text.substr(0, open)));
  }
  if (open == std::string_view::npos) return false;
  const auto close = text.find('>', open);
  if (close == std::string_view::npos) return false;
  uri = trim(text.substr(open + 1, close - open - 1));
  return true;
}

bool validPort(std::string_view digits, int& port) {
  if (digits.empty() || digits.size() > 5) return false;
  port = 0;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    port = port * 10 + (c - '0');
  }
  return port <= 65535;
}

}  // namespace

std::optional<ParsedUri> parseUri(std::string_view text) {
  ParsedUri out;
  text = trim(text);
  std::string_view uri = text;
  if (text.find('<') != std::string_view::npos && !splitNameAddr(text, out.display, uri)) return std::nullopt;

  const auto colon = uri.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  out.scheme = lower(uri.substr(0, colon));
  if (out.scheme != "sip" && out.scheme != "sips" && out.scheme != "tel") return std::nullopt;
  std::string_view rest = uri.substr(colon + 1);
  rest = rest.substr(0, std::min(rest.find('?'), rest.size()));  // URI headers are not needed here
  const auto semicolon = std::min(rest.find(';'), rest.size());
  std::string_view params = rest.substr(semicolon);
  std::string_view hostport = rest.substr(0, semicolon);

  if (out.scheme == "tel") {
    // tel:+1555 has no host; the number is what identifies it.
    if (hostport.empty()) return std::nullopt;
    out.user = std::string(hostport);
  } else {
    const auto at = hostport.rfind('@');
    if (at != std::string_view::npos) {
      out.user = std::string(hostport.substr(0, at));
      hostport.remove_prefix(at + 1);
    }
    std::string_view host = hostport;
    std::string_view port;
    if (!hostport.empty() && hostport.front() == '[') {
      const auto close = hostport.find(']');
      if (close == std::string_view::npos) return std::nullopt;
      host = hostport.substr(0, close + 1);
      port = hostport.substr(close + 1);
      if (!port.empty() && port.front() != ':') return std::nullopt;
    } else {
      const auto portColon = hostport.find(':');
      host = hostport.substr(0, portColon);
      if (portColon != std::string_view::npos) port = hostport.substr(portColon);
    }
    if (host.empty()) return std::nullopt;
    out.host = lower(host);
    if (!port.empty() && !validPort(port.substr(1), out.port)) return std::nullopt;
  }
  while (!params.empty()) {
    params.remove_prefix(1);  // ';'
    const auto end = std::min(params.find(';'), params.size());
    std::string_view param = params.substr(0, end);
    params.remove_prefix(end);
    if (param.empty()) continue;
    const auto equals = param.find('=');
    out.params.emplace_back(lower(param.substr(0, equals)),
                            equals == std::string_view::npos ? "" : std::string(param.substr(equals + 1)));
  }
  return out;
}

}  // namespace sipwarden::plugins::lua_policy
