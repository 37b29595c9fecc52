#pragma once
// Splits a link into the parts the filter decides on: its host(s), as a
// browser would resolve them (userinfo dropped, %-decoded, lower-case, IPv4
// in every WHATWG spelling), and the path and query that name the file it
// fetches.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::plugins::url_filter {

enum class HostType { Name, Ipv4, Ipv6, Invalid };

struct Host {
  std::string name;  // decoded, ASCII lower-case, one trailing dot removed
  HostType type = HostType::Name;
  std::array<std::uint8_t, 16> address{};  // Ipv4 in the first 4 bytes
  // A non-ASCII host (homoglyphs, any script) or one with an xn-- label.
  bool international = false;
};

// How the link text starts.
enum class UrlForm {
  Scheme,     // "http://...", "mailto:...", "hxxp://..."
  Authority,  // "//host/...", "\\host\share\..."
  BareHost,   // "www.example.com/...", "example.com/x"
  Relative,   // "files/setup.exe" (an HTML attribute)
};

struct TextRange {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view of(std::string_view text) const { return text.substr(begin, end - begin); }
};

struct UrlParts {
  std::string scheme;       // as the browser sees it: "hxxp" and "ttp" are "http", lower-case
  std::vector<Host> hosts;  // mailto: one per address; empty when the link names none
  TextRange path;           // into the link text, not decoded
  TextRange query;
  // Hosts of an earlier parse, kept for their buffers (parseUrl reuses them).
  std::vector<Host> spareHosts;
};

// Fills `parts` (cleared first; its buffers are reused).
void parseUrl(std::string_view link, UrlForm form, UrlParts& parts);
Host parseHost(std::string_view host);
// The same into `out`, reusing its buffer.
void parseHost(std::string_view host, Host& out);
// "hxxps" -> "https", "ttp" -> "http", "fxp" -> "ftp"; otherwise lower-case.
std::string canonicalScheme(std::string_view scheme);
// The same into `out`, reusing its buffer.
void canonicalScheme(std::string_view scheme, std::string& out);
// The WHATWG IPv4 parser: "10.1.2.3", "0x0a.1.515", "167837955", "012.1.2.3".
bool parseIpv4(std::string_view host, std::array<std::uint8_t, 4>& out);
// True when the last dot-separated part is a number (decimal or 0x hex): a
// browser then treats the host as IPv4 or rejects it.
bool endsInNumber(std::string_view host);

}  // namespace sipwarden::plugins::url_filter
