#pragma once
// Text that every consumer of the archive can take: well-formed UTF-8 with
// no NUL. Clients send any bytes; PostgreSQL refuses invalid UTF-8 in a
// text column and cannot take a NUL at all (a text parameter ends at it),
// SQLite's length() stops at a NUL, and JSON must be UTF-8. The writer
// cleans every text field of a record before it is hashed (the body's
// bytes are kept as they came, in MessageRecord::rawBody), and the JSON
// writer reads with the same rule. Header-only: the store and the query
// code share it. The UTF-8 rule itself is sipwarden/utf8.h.

#include <string>
#include <string_view>

#include "sipwarden/utf8.h"

namespace sipwarden::archive {

using utf8::kReplacementCharacter;

// True when `text` is well-formed UTF-8 without NUL.
inline bool isCleanText(std::string_view text) { return utf8::isValid(text, utf8::Nul::Refused); }

// Each NUL, and each byte that starts no well-formed sequence, becomes
// U+FFFD (as a decoder shows it); everything else is kept.
inline std::string cleanText(std::string_view text) { return utf8::repair(text, utf8::Nul::Refused); }

// In place, copying only when something must change (the common case is
// clean text, checked in one pass).
inline void makeCleanText(std::string& text) {
  if (!isCleanText(text)) text = cleanText(text);
}

}  // namespace sipwarden::archive
