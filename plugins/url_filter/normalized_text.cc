#include "normalized_text.h"

#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sipwarden/html_text.h"
#include "sipwarden/utf8.h"

namespace sipwarden::plugins::url_filter {
namespace {

constexpr std::uint32_t kReplacement = 0xFFFD;

// Named character references that matter in a URL (HTML5 names that decode
// to URL punctuation, spaces and invisible characters), plus the usual ones.
struct NamedReference {
  std::string_view name;
  std::uint32_t code;
};
constexpr std::array kNamed{
    NamedReference{"amp", '&'},        NamedReference{"AMP", '&'},
    NamedReference{"lt", '<'},         NamedReference{"LT", '<'},
    NamedReference{"gt", '>'},         NamedReference{"GT", '>'},
    NamedReference{"quot", '"'},       NamedReference{"QUOT", '"'},
    NamedReference{"apos", '\''},      NamedReference{"nbsp", 0xA0},
    NamedReference{"colon", ':'},      NamedReference{"sol", '/'},
    NamedReference{"bsol", '\\'},      NamedReference{"period", '.'},
    NamedReference{"commat", '@'},     NamedReference{"num", '#'},
    NamedReference{"quest", '?'},      NamedReference{"percnt", '%'},
    NamedReference{"equals", '='},     NamedReference{"plus", '+'},
    NamedReference{"lowbar", '_'},     NamedReference{"excl", '!'},
    NamedReference{"semi", ';'},       NamedReference{"comma", ','},
    NamedReference{"lpar", '('},       NamedReference{"rpar", ')'},
    NamedReference{"lsqb", '['},       NamedReference{"rsqb", ']'},
    NamedReference{"dollar", '$'},     NamedReference{"ast", '*'},
    NamedReference{"Tab", '\t'},       NamedReference{"NewLine", '\n'},
    NamedReference{"shy", 0xAD},       NamedReference{"zwnj", 0x200C},
    NamedReference{"zwj", 0x200D},     NamedReference{"lrm", 0x200E},
    NamedReference{"rlm", 0x200F},     NamedReference{"ZeroWidthSpace", 0x200B},
    NamedReference{"NoBreak", 0x2060}, NamedReference{"ensp", 0x2002},
    NamedReference{"emsp", 0x2003},    NamedReference{"thinsp", 0x2009},
};

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the character reference at text[at] (text[at] == '&'). Returns
// its length, 0 when there is none (the '&' is then literal). Numeric
// references are decoded with or without the ';', as browsers do.
std::size_t decodeReference(std::string_view text, std::size_t at, std::uint32_t& code) {
  std::size_t i = at + 1;
  if (i < text.size() && text[i] == '#') {
    ++i;
    const bool hex = i < text.size() && (text[i] == 'x' || text[i] == 'X');
    if (hex) ++i;
    const std::size_t digits = i;
    std::uint64_t value = 0;
    while (i < text.size() && (hex ? hexDigit(text[i]) >= 0 : (text[i] >= '0' && text[i] <= '9'))) {
      value = value * (hex ? 16 : 10) + static_cast<std::uint64_t>(hexDigit(text[i]));
      if (value > 0x10FFFF) value = 0x110000;  // stays out of range, no overflow
      ++i;
    }
    if (i == digits) return 0;
    if (i < text.size() && text[i] == ';') ++i;
    code = (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) ? kReplacement
                                                                                    : static_cast<std::uint32_t>(value);
    return i - at;
  }
  // A name is at most 16 characters: the ';' is looked for that far only
  // (searching to the end of the text for every '&' was quadratic).
  const std::string_view window = text.substr(i, 17);
  const std::size_t semi = window.find(';');
  if (semi == std::string_view::npos) return 0;
  const std::string_view name = window.substr(0, semi);
  for (const auto& named : kNamed) {
    if (named.name == name) {
      code = named.code;
      return i + semi + 1 - at;
    }
  }
  return 0;
}

// Whether `text` holds a byte >= 0x80, 16 bytes at a time where SSE2 is there.
bool hasHighByte(std::string_view text) {
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= text.size(); i += 16) {
    if (_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i))) != 0) return true;
  }
#endif
  for (; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0x80) return true;
  }
  return false;
}

bool isAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool isAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool isFullWidthAlnum(std::uint32_t c) {
  return (c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A);
}

// The characters folded only where they join host characters (see
// NormalizedText::append), with what they fold to.
char joinerAscii(std::uint32_t c) {
  switch (c) {
    case 0x3002:  // ideographic full stop
    case 0xFF0E:  // full-width full stop
    case 0xFF61:  // half-width ideographic full stop
      return '.';
    case 0xFF0D:
      return '-';
    case 0xFF3F:
      return '_';
    default:
      return 0;
  }
}

// A non-ASCII character that may be part of a host label and is not CJK or
// Hangul: the same ranges as the link finder's kLabel pattern.
bool isLabelCode(std::uint32_t c) {
  if (c < 0x80) return c < 0x7F && isAsciiAlnum(static_cast<char>(c));
  if (c <= 0xBF) return false;
  struct Range {
    std::uint32_t first;
    std::uint32_t last;
  };
  static constexpr Range kNotLabel[] = {
      {0x1100, 0x11FF}, {0x2000, 0x2BFF}, {0x2E80, 0x9FFF}, {0xA960, 0xA97F}, {0xAC00, 0xD7FF},
      {0xE000, 0xFAFF}, {0xFE30, 0xFE4F}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF20}, {0xFF3B, 0xFF40},
      {0xFF5B, 0xFFFF}, {0x1F000, 0x1FAFF}, {0x20000, 0x3FFFF}};
  for (const Range& range : kNotLabel) {
    if (c >= range.first && c <= range.last) return false;
  }
  return true;
}

// A character after which a folded label dot (or hyphen) goes on with the host.
bool continuesHost(std::uint32_t c) { return isLabelCode(c) || isFullWidthAlnum(c) || isHostJoiner(c); }

// The ASCII byte before a full-width dot, hyphen, colon or solidus that
// makes folding it matter.
bool isFoldAnchor(char c) { return isAsciiAlnum(c) || c == '-' || c == '_' || c == ':' || c == '/'; }

}  // namespace

bool isHostJoiner(std::uint32_t c) {
  if (c < 0xAA) return false;
  if (c <= 0xBF) return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB9 || c == 0xBA;
  return (c >= 0x2070 && c <= 0x209F) ||  // superscripts and subscripts
         (c >= 0x2100 && c <= 0x218F) ||  // letter-like symbols, Roman numerals
         (c >= 0x2460 && c <= 0x24FF) ||  // circled digits and letters
         c == 0xFE33 || c == 0xFE34 || (c >= 0xFE4D && c <= 0xFE4F) ||  // low lines
         (c >= 0x1F100 && c <= 0x1F16F) || c == 0x1F190;                 // squared letters
}

bool needsPreparation(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) < 0xC2) continue;
    std::size_t length = 0;
    const std::uint32_t code = decodeUtf8(text, i, length);
    if (isInvisible(code) || isFullWidthAlnum(code)) return true;
    if ((joinerAscii(code) != 0 || code == 0xFF1A || code == 0xFF0F) && i > 0 && isFoldAnchor(text[i - 1])) {
      return true;
    }
    i += length - 1;
  }
  return false;
}

bool isInvisible(std::uint32_t c) {
  if (c < 0xAD) return false;
  return c == 0xAD || c == 0x34F || c == 0x61C || c == 0x115F || c == 0x1160 || c == 0x17B4 || c == 0x17B5 ||
         (c >= 0x180B && c <= 0x180F) || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0x3164 || (c >= 0xFE00 && c <= 0xFE0F) ||
         c == 0xFEFF || c == 0xFFA0 || (c >= 0x1D173 && c <= 0x1D17A) || (c >= 0xE0000 && c <= 0xE0FFF);
}

std::uint32_t decodeUtf8(std::string_view text, std::size_t at, std::size_t& length) {
  return utf8::decodeAt(text, at, length, kReplacement);
}

std::size_t invisibleLength(std::string_view text, std::size_t at) {
  const unsigned char lead = static_cast<unsigned char>(text[at]);
  // Every invisible character starts with one of these lead bytes.
  if (lead != 0xC2 && lead != 0xCD && lead != 0xD8 && lead != 0xE1 && lead != 0xE2 && lead != 0xE3 && lead != 0xEF &&
      lead != 0xF0 && lead != 0xF3) {
    return 0;
  }
  std::size_t length = 0;
  const std::uint32_t code = decodeUtf8(text, at, length);
  return isInvisible(code) ? length : 0;
}

bool containsInvisible(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0xC2 && invisibleLength(text, i) != 0) return true;
  }
  return false;
}

void NormalizedText::setIdentity(std::string_view raw) {
  reset(raw);
  identity_ = true;
}

void NormalizedText::reset(std::string_view raw) {
  raw_ = raw;
  identity_ = false;
  text_.clear();
  map_.clear();
  removed_.clear();
}

void NormalizedText::push(std::string_view bytes, std::size_t rawBegin, std::size_t rawEnd) {
  text_.append(bytes);
  map_.insert(map_.end(), bytes.size(), RawSpan{rawBegin, rawEnd});
}

void NormalizedText::append(std::size_t begin, std::size_t end, bool html, bool urlValue) {
  std::size_t i = begin;
  while (i < end) {
    // A run of plain ASCII is copied as it is, in one go.
    std::size_t run = i;
    while (run < end) {
      const char c = raw_[run];
      if (static_cast<unsigned char>(c) >= 0x80 || (c == '&' && html) ||
          (urlValue && (c == '\t' || c == '\n' || c == '\r'))) {
        break;
      }
      ++run;
    }
    if (run > i) {
      text_.append(raw_.substr(i, run - i));
      for (std::size_t k = i; k < run; ++k) map_.push_back({k, k + 1});
      i = run;
      continue;
    }
    const char c = raw_[i];
    if (static_cast<unsigned char>(c) < 0x80 && c != '&') {
      ++i;  // tab, CR or LF in a URL value: dropped
      continue;
    }
    if (c == '&') {
      std::uint32_t code = 0;
      const std::size_t length = decodeReference(raw_.substr(0, end), i, code);
      if (length == 0) {
        push("&", i, i + 1);
        ++i;
        continue;
      }
      if (isInvisible(code)) {
        removed_.push_back({i, i + length});
      } else if (const char ascii = code >= 0x80 ? folded(code, i + length, end, html, urlValue) : 0) {
        push(std::string_view(&ascii, 1), i, i + length);
      } else if (!(urlValue && (code == '\t' || code == '\n' || code == '\r'))) {
        std::string utf8;
        html::appendUtf8(utf8, code);
        push(utf8, i, i + length);
      }
      i += length;
      continue;
    }
    std::size_t length = 0;
    const std::uint32_t code = decodeUtf8(raw_.substr(0, end), i, length);
    if (isInvisible(code)) {
      removed_.push_back({i, i + length});
    } else if (const char ascii = folded(code, i + length, end, html, urlValue)) {
      push(std::string_view(&ascii, 1), i, i + length);
    } else {
      push(raw_.substr(i, length), i, i + length);
    }
    i += length;
  }
}

std::uint32_t NormalizedText::visibleAt(std::size_t& at, std::size_t end, bool html) const {
  const std::string_view text = raw_.substr(0, end);
  while (at < end) {
    std::size_t length = 1;
    std::uint32_t code = static_cast<unsigned char>(text[at]);
    if (code == '&' && html) {
      length = decodeReference(text, at, code);
      if (length == 0) {
        code = '&';
        length = 1;
      }
    } else if (code >= 0x80) {
      code = decodeUtf8(text, at, length);
    }
    at += length;
    if (!isInvisible(code)) return code;
  }
  return 0;
}

char NormalizedText::folded(std::uint32_t code, std::size_t next, std::size_t end, bool html, bool urlValue) const {
  if (isFullWidthAlnum(code)) return static_cast<char>(code - 0xFEE0);
  const char previous = text_.empty() ? '\0' : text_.back();
  if (code == 0xFF1A) {
    // "http\uFF1A//", "\uFF48\uFF54\uFF54\uFF50\uFF1A\uFF0F\uFF0F": a scheme and its slashes.
    if (!isAsciiLetter(previous)) return 0;
    for (int slash = 0; slash < 2; ++slash) {
      const std::uint32_t after = visibleAt(next, end, html);
      if (after != '/' && after != 0xFF0F) return 0;
    }
    return ':';
  }
  if (code == 0xFF0F) {
    const bool afterColon = previous == ':' || (previous == '/' && text_.size() >= 2 && text_[text_.size() - 2] == ':');
    return afterColon ? '/' : 0;
  }
  const char ascii = joinerAscii(code);
  if (ascii == 0 || urlValue) return ascii;
  if (!(isAsciiAlnum(previous) || previous == '-' || previous == '_')) return 0;
  const std::uint32_t after = visibleAt(next, end, html);
  // Nothing after it: a dot that ends the text is trimmed off a link as
  // punctuation, so folding it costs nothing and holds across an HTML tag.
  if (after == 0) return ascii == '.' ? ascii : 0;
  return continuesHost(after) ? ascii : 0;
}

void collectInvisible(std::string_view raw, std::size_t begin, std::size_t end, bool html, std::vector<RawSpan>& out) {
  const std::string_view text = raw.substr(0, end);
  // Most links are plain ASCII without references: nothing to look at.
  if (!hasHighByte(text.substr(begin)) && (!html || text.find('&', begin) == std::string_view::npos)) return;
  for (std::size_t i = begin; i < end; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0xC2) {
      const std::size_t length = invisibleLength(text, i);
      if (length != 0) {
        out.push_back({i, i + length});
        i += length - 1;
      }
    } else if (c == '&' && html) {
      std::uint32_t code = 0;
      const std::size_t length = decodeReference(text, i, code);
      if (length != 0 && isInvisible(code)) {
        out.push_back({i, i + length});
        i += length - 1;
      }
    }
  }
}

void NormalizedText::appendBreak(std::size_t begin, std::size_t end) { push("\n", begin, end); }

std::size_t NormalizedText::rawBegin(std::size_t at) const {
  if (identity_) return at;
  if (at < map_.size()) return map_[at].begin;
  return map_.empty() ? 0 : map_.back().end;
}

std::size_t NormalizedText::rawEnd(std::size_t at) const {
  if (identity_) {
    std::size_t length = 1;
    decodeUtf8(raw_, at, length);
    return at + length;
  }
  return map_[at].end;
}

}  // namespace sipwarden::plugins::url_filter
