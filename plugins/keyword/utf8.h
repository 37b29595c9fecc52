#pragma once
// UTF-8 helpers for the keyword plugin: character boundaries and counts, so
// a rewrite never splits a character and a mask is as long as the match in
// characters (code points), not bytes.

#include <cstddef>
#include <string_view>

namespace sipwarden::keyword::utf8 {

inline bool isContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Code points in `text` (a stray continuation byte counts with its lead).
inline std::size_t codePoints(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) count += isContinuation(c) ? 0 : 1;
  return count;
}

// The start of the character holding byte `at` (at <= text.size()).
inline std::size_t floorBoundary(std::string_view text, std::size_t at) {
  while (at > 0 && at < text.size() && isContinuation(text[at])) --at;
  return at;
}

// The first character boundary at or after `at`.
inline std::size_t ceilBoundary(std::string_view text, std::size_t at) {
  while (at < text.size() && isContinuation(text[at])) ++at;
  return at;
}

// Well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
inline bool valid(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (c < 0x80) length = 1;
    else if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace sipwarden::keyword::utf8
