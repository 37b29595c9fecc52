#pragma once
// The MIME syntax the body reader needs (RFC 2045, 2046, 3862): media
// types with parameters, header sections (folded lines joined), and the
// end of a header section. Linear in the input; nothing here allocates
// more than the values it returns.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::im {

struct MediaParameter {
  std::string name;     // lower-case
  std::string value;    // unquoted, quoted-pairs undone
  std::size_t offset = 0;  // the value's bytes in the parsed text (inside the quotes)
  std::size_t length = 0;
};

struct MediaType {
  std::string type;  // "multipart/mixed", lower-case; "" when the value is empty
  std::string boundary;
  std::string charset;  // lower-case, unquoted
  // Every parameter, except that a lone charset is only in `charset`.
  std::vector<MediaParameter> parameters;
  // False when the type is not token "/" token (RFC 3261's SLASH allows
  // whitespace around the slash, and MIME parts allow comments: both are
  // read; anything else is not a type).
  bool valid = true;
  // A parameter given twice with different values: readers disagree about
  // which one counts.
  bool conflicting = false;
  const MediaParameter* parameter(std::string_view name) const;
};

MediaType parseMediaType(std::string_view value);

// The end of a header section starting at `from`: the index just past the
// empty line, or npos. Accepts CRLF and bare LF.
std::size_t headerSectionEnd(std::string_view text, std::size_t from);

// One header of a MIME header section, folded lines joined.
struct MimeHeader {
  std::optional<std::string> value;  // absent when the section lacks it
  bool repeated = false;             // given more than once with different values
};
MimeHeader mimeHeader(std::string_view headers, std::string_view name);

// True when every line of `text` up to its first empty line looks like a
// header ("Name: value" or a folded continuation): how a CPIM body with a
// single blank line is told from one with a MIME header section.
bool looksLikeHeaderSection(std::string_view text);

}  // namespace sipwarden::im
