#pragma once
// Well-formed UTF-8 (RFC 3629, table 3-7: no overlong forms, no surrogates
// such as ED A0 80, nothing past U+10FFFF): the one check and repair that
// the body reader, the archive and the plugins share, and the character
// boundaries a filter that rewrites text keeps to. Header-only; linear in
// the text.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sipwarden::utf8 {

// The length of the well-formed sequence starting at text[at], or 0 when
// the bytes there are not one.
inline std::size_t sequenceAt(std::string_view text, std::size_t at) {
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

// Called to read text character by character: the code point of the
// well-formed sequence at text[at], its length in bytes in `length`; when
// the byte there starts none, `otherwise` and a length of 1.
inline std::uint32_t decodeAt(std::string_view text, std::size_t at, std::size_t& length, std::uint32_t otherwise) {
  length = sequenceAt(text, at);
  if (length == 0) {
    length = 1;
    return otherwise;
  }
  const auto lead = static_cast<unsigned char>(text[at]);
  static constexpr unsigned char kLeadBits[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  std::uint32_t code = lead & kLeadBits[length];
  for (std::size_t i = 1; i < length; ++i) code = (code << 6) | (static_cast<unsigned char>(text[at + i]) & 0x3F);
  return code;
}

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Whether a NUL counts as text: it is a well-formed character, but a text
// column (PostgreSQL), a C string and SQLite's length() end at it.
enum class Nul { Allowed, Refused };

// Called to check text before it is kept or compared: true when every
// sequence is well-formed (and, under Nul::Refused, no byte is NUL).
inline bool isValid(std::string_view text, Nul nul = Nul::Allowed) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80 && (c != 0 || nul == Nul::Allowed)) {
      ++i;
      continue;
    }
    const std::size_t length = c == 0 ? 0 : sequenceAt(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Called to make text valid: each byte that starts no well-formed sequence
// (and, under Nul::Refused, each NUL) becomes U+FFFD (as a decoder shows
// it); everything else is kept.
inline std::string repair(std::string_view text, Nul nul = Nul::Allowed) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = text[i] == '\0' && nul == Nul::Refused ? 0 : sequenceAt(text, i);
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

inline bool isContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Called to measure text in characters (a mask as long as the match):
// code points in `text`, a stray continuation byte counted with its lead.
inline std::size_t codePoints(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) count += isContinuation(c) ? 0 : 1;
  return count;
}

// Called before cutting text at byte `at` (at <= text.size()): the start
// of the character holding that byte, so a cut never splits a character.
inline std::size_t floorBoundary(std::string_view text, std::size_t at) {
  while (at > 0 && at < text.size() && isContinuation(text[at])) --at;
  return at;
}

// Called before cutting text at byte `at`: the first character boundary at
// or after it.
inline std::size_t ceilBoundary(std::string_view text, std::size_t at) {
  while (at < text.size() && isContinuation(text[at])) ++at;
  return at;
}

}  // namespace sipwarden::utf8
