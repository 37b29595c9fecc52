#include "lua_policy/uri.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

namespace sipwarden::lua {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

std::optional<ParsedUri> parseUri(std::string_view text) {
  // name-addr: an optional display name (quoted or a token run) before <uri>.
  static const RE2 nameAddr(R"re(\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>.*)re");
  static const RE2 uri(R"re((?i)(sips?|tel):(?:([^@;?]*)@)?(\[[0-9a-f:.]+\]|[^:;?]*)(?::([0-9]{1,5}))?((?:;[^;?]*)*)(?:\?.*)?)re");
  ParsedUri out;
  std::string quoted, token, inner, scheme, user, host, port, params;
  std::string subject = trim(text);
  if (RE2::FullMatch(subject, nameAddr, &quoted, &token, &inner)) {
    out.display = quoted.empty() ? trim(token) : quoted;
    subject = trim(inner);
  }
  if (!RE2::FullMatch(subject, uri, &scheme, &user, &host, &port, &params)) return std::nullopt;
  out.scheme = lower(scheme);
  out.user = user;
  out.host = lower(host);
  if (out.scheme == "tel") {
    // tel:+1555 has no host; the number is what identifies it.
    out.user = host;
    out.host.clear();
  } else if (out.host.empty()) {
    return std::nullopt;
  }
  if (!port.empty()) out.port = std::stoi(port);
  std::string_view rest = params;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // ';'
    const auto end = std::min(rest.find(';'), rest.size());
    std::string_view param = rest.substr(0, end);
    rest.remove_prefix(end);
    const auto equals = param.find('=');
    if (param.empty()) continue;
    out.params.emplace_back(lower(std::string(param.substr(0, equals))),
                            equals == std::string_view::npos ? "" : std::string(param.substr(equals + 1)));
  }
  return out;
}

}  // namespace sipwarden::lua
