#pragma once
// SIP/SIPS/tel URIs as policies need them (sw.uri.parse, group membership).
// Accepts a bare URI or a name-addr ("Alice" <sip:alice@example.com>).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sipwarden::plugins::lua_policy {

struct ParsedUri {
  std::string display;
  std::string scheme;  // lower-case
  std::string user;
  std::string host;    // lower-case, IPv6 with its brackets
  int port = 0;        // 0 when absent
  std::vector<std::pair<std::string, std::string>> params;
  // "user@host" (or "host"): what group lists and comparisons use.
  std::string aor() const { return user.empty() ? host : user + "@" + host; }
};

std::optional<ParsedUri> parseUri(std::string_view text);

}  // namespace sipwarden::plugins::lua_policy
