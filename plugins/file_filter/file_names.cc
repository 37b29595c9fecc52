#include "file_filter/file_names.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <unordered_set>

#include "common/file_extensions.h"
#include "sipwarden/utf8.h"

namespace sipwarden::plugins::file_filter {
namespace {

constexpr std::uint32_t kInvalid = 0xFFFFFFFF;

// The code point starting at text[pos] and its length in bytes; kInvalid
// and length 1 for a byte that does not start a well-formed sequence.
std::uint32_t decodeAt(std::string_view text, std::size_t pos, std::size_t& length) {
  return utf8::decodeAt(text, pos, length, kInvalid);
}

// Characters that show as nothing (or only move text around) and so can
// disguise a name: Unicode's format characters (general category Cf) that
// can appear in text, the invisible fillers and the variation selectors.
bool invisible(std::uint32_t code) {
  return code == 0x00AD ||                      // soft hyphen
         code == 0x034F ||                      // combining grapheme joiner
         code == 0x061C ||                      // Arabic letter mark
         code == 0x115F || code == 0x1160 ||    // Hangul choseong/jungseong fillers
         code == 0x17B4 || code == 0x17B5 ||    // Khmer inherent vowels
         (code >= 0x180B && code <= 0x180F) ||  // Mongolian variation selectors, vowel separator
         (code >= 0x200B && code <= 0x200F) ||  // zero-width space/non-joiner/joiner, LRM, RLM
         (code >= 0x202A && code <= 0x202E) ||  // bidi embeddings and overrides
         (code >= 0x2060 && code <= 0x206F) ||  // word joiner, invisible operators, bidi isolates
         code == 0x3164 || code == 0xFFA0 ||    // Hangul fillers
         (code >= 0xFE00 && code <= 0xFE0F) ||  // variation selectors
         code == 0xFEFF ||                      // zero-width no-break space (BOM)
         (code >= 0xFFF9 && code <= 0xFFFB) ||  // interlinear annotation
         (code >= 0x1BCA0 && code <= 0x1BCA3) ||  // shorthand format controls
         (code >= 0x1D173 && code <= 0x1D17A) ||  // musical format
         (code >= 0xE0000 && code <= 0xE007F) ||  // tags
         (code >= 0xE0100 && code <= 0xE01EF);    // variation selectors supplement
}

// Characters that are not invisible but must not reach a log line raw.
bool escapedInDisplay(std::uint32_t code) {
  return invisible(code) || (code >= 0x80 && code <= 0x9F) || code == 0x2028 || code == 0x2029;
}

// The ASCII character NFKC folds `code` to, or 0.
char foldedAscii(std::uint32_t code) {
  if (code >= 0xFF01 && code <= 0xFF5E) return static_cast<char>(code - 0xFEE0);
  if (code == 0x3002 || code == 0xFF61 || code == 0xFE52 || code == 0x2024) return '.';
  if (code == 0x3000) return ' ';
  return 0;
}

// `text` with invisible characters removed; bytes that are not UTF-8 kept.
std::string withoutInvisible(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t length = 0;
  for (std::size_t i = 0; i < text.size(); i += length) {
    const std::uint32_t code = decodeAt(text, i, length);
    if (code == kInvalid || !invisible(code)) out.append(text.substr(i, length));
  }
  return out;
}

// `text` with full-width forms and ideographic dots folded to ASCII.
std::string foldedFullWidth(std::string_view text, bool& changed) {
  std::string out;
  out.reserve(text.size());
  changed = false;
  std::size_t length = 0;
  for (std::size_t i = 0; i < text.size(); i += length) {
    const std::uint32_t code = decodeAt(text, i, length);
    const char ascii = code == kInvalid ? 0 : foldedAscii(code);
    if (ascii != 0) {
      out.push_back(ascii);
      changed = true;
    } else {
      out.append(text.substr(i, length));
    }
  }
  return out;
}

bool windowsCannotEnd(char c) {
  return c == '.' || c == ' ' || c == '"' || c == '<' || c == '>' || c == '|' || c == '*' || c == '?' ||
         (static_cast<unsigned char>(c) < 0x20 && c != '\0') || c == 0x7F;
}

}  // namespace

bool hasInvisibleCharacters(std::string_view text) {
  std::size_t length = 0;
  for (std::size_t i = 0; i < text.size(); i += length) {
    const std::uint32_t code = decodeAt(text, i, length);
    if (code != kInvalid && invisible(code)) return true;
  }
  return false;
}

std::string displayName(std::string_view name, std::size_t maxBytes) {
  std::string out;
  out.reserve(std::min(name.size(), maxBytes) + 8);
  std::size_t length = 0;
  char escaped[16];
  for (std::size_t i = 0; i < name.size(); i += length) {
    const std::uint32_t code = decodeAt(name, i, length);
    std::string_view shown = name.substr(i, length);
    if (code == kInvalid) {
      std::snprintf(escaped, sizeof escaped, "<0x%02X>", static_cast<unsigned char>(name[i]));
      shown = escaped;
    } else if (code < 0x20 || code == 0x7F) {
      shown = "_";
    } else if (escapedInDisplay(code)) {
      std::snprintf(escaped, sizeof escaped, "<U+%04X>", static_cast<unsigned>(code));
      shown = escaped;
    }
    if (out.size() + shown.size() > maxBytes) {
      out += "...";
      break;
    }
    out.append(shown);
  }
  return out;
}

std::vector<std::string> candidateExtensions(std::string_view name) {
  std::vector<std::string> out;
  // Each extension once, in the order found, through a hash set: a name of
  // many ':'-separated pieces must not cost pieces x extensions.
  std::unordered_set<std::string> seen;
  auto add = [&](std::string_view piece) {
    // Windows drops trailing dots and spaces and cannot store " < > | * ? or
    // control characters: what is left decides the type.
    while (!piece.empty() && windowsCannotEnd(piece.back())) piece.remove_suffix(1);
    std::string extension = files::effectiveExtension(piece);
    if (extension.empty() || !seen.insert(extension).second) return;
    out.push_back(std::move(extension));
  };
  auto addReading = [&](const std::string& reading) {
    add(reading);
    // NTFS streams ("a.exe::$DATA", "a.exe:x.jpg") and C strings ("a.exe\0.jpg").
    if (reading.find_first_of(std::string_view(":\0", 2)) == std::string::npos) return;
    std::size_t start = 0;
    const std::size_t slash = reading.find_last_of("/\\");
    if (slash != std::string::npos) start = slash + 1;
    while (start <= reading.size()) {
      std::size_t end = reading.find_first_of(std::string_view(":\0", 2), start);
      if (end == std::string::npos) end = reading.size();
      add(std::string_view(reading).substr(start, end - start));
      start = end + 1;
    }
  };
  const std::string decoded = files::percentDecode(name);
  addReading(decoded);
  // Only names with non-ASCII bytes can hold invisible or full-width characters.
  bool ascii = true;
  for (char c : decoded) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return out;
  const std::string visible = withoutInvisible(decoded);
  if (visible != decoded) addReading(visible);
  bool folded = false;
  const std::string narrow = foldedFullWidth(visible, folded);
  if (folded) addReading(narrow);
  return out;
}

}  // namespace sipwarden::plugins::file_filter
