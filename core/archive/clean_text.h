#pragma once
// Text that every consumer of the archive can take: well-formed UTF-8 with
// no NUL. Clients send any bytes; PostgreSQL refuses invalid UTF-8 in a
// text column and cannot take a NUL at all (a text parameter ends at it),
// SQLite's length() stops at a NUL, and JSON must be UTF-8. The writer
// cleans every text field of a record before it is hashed (the body's
// bytes are kept as they came, in MessageRecord::rawBody), and the JSON
// writer reads with the same rule. Header-only: the store and the query
// code share it.

#include <cstddef>
#include <string>
#include <string_view>

namespace sipwarden::archive {

// The length of the well-formed UTF-8 sequence starting at text[at]
// (RFC 3629 table 3-7: no overlong forms, no surrogates such as ED A0 80,
// nothing past U+10FFFF), or 0 when the bytes there are not one.
inline std::size_t utf8SequenceAt(std::string_view text, std::size_t at) {
  const auto byte = [text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// True when `text` is well-formed UTF-8 without NUL.
inline bool isCleanText(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x01 && c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = c == 0 ? 0 : utf8SequenceAt(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Each NUL, and each byte that starts no well-formed sequence, becomes
// U+FFFD (as a decoder shows it); everything else is kept.
inline std::string cleanText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = text[i] == '\0' ? 0 : utf8SequenceAt(text, i);
    if (length == 0) {
      out += kReplacementCharacter;
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out;
}

// In place, copying only when something must change (the common case is
// clean text, checked in one pass).
inline void makeCleanText(std::string& text) {
  if (!isCleanText(text)) text = cleanText(text);
}

}  // namespace sipwarden::archive
