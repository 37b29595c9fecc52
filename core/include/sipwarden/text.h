#pragma once
// ASCII text helpers that the plugins and the core's body reader share: SIP
// and MIME names (methods, header and parameter names, media types, URI
// schemes and hosts) compare without regard to ASCII case, and their values
// are trimmed of linear white space (RFC 3261 LWS: space, tab, CR, LF).
// Bytes outside ASCII are never folded, so UTF-8 text passes unchanged.
// Header-only, like the rest of the SDK's helpers.

#include <cstddef>
#include <string>
#include <string_view>

namespace sipwarden::text {

// Called for each byte a caller folds: 'A'..'Z' become 'a'..'z', every
// other byte is returned as it is.
constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Called to get a name's canonical (lower-case) form as a string to keep.
inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

// Called to compare two names: true when they are equal but for ASCII case.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Called to test a prefix of a name: true when `text` starts with `prefix`
// but for ASCII case.
constexpr bool istartsWith(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// Linear white space as RFC 3261 reads it between tokens.
constexpr bool isSpace(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Called on a value cut out of a header or a line: `text` without the
// linear white space (isSpace) at either end, a view into the same bytes.
constexpr std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Called to read text line by line (while pos < text.size()): the line
// starting at `pos` without its LF or CRLF; `pos` is moved past the LF.
constexpr std::string_view nextLine(std::string_view text, std::size_t& pos) noexcept {
  std::size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) end = text.size();
  std::string_view line = text.substr(pos, end - pos);
  pos = end + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace sipwarden::text
