#include "keyword/reading_text.h"

#include "sipwarden/html_text.h"
#include "sipwarden/text.h"

namespace sipwarden::plugins::keyword {
namespace {

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isAlnum(char c) { return isAlpha(c) || (c >= '0' && c <= '9'); }

// Tags that start a new line (or cell) where they stand.
bool isBlockTag(std::string_view name) {
  static constexpr std::string_view kBlock[] = {"br", "p",  "div", "li", "tr", "td", "th", "h1", "h2", "h3",
                                                "h4", "h5", "h6",  "ul", "ol", "table", "blockquote", "pre",
                                                "hr", "dd", "dt"};
  for (auto block : kBlock) {
    if (text::iequals(name, block)) return true;
  }
  return false;
}

// Decodes the character reference at html[at] == '&' into `utf8`; returns
// its length in the HTML, 0 when it is not one (the '&' is then text).
std::size_t decodeReference(std::string_view html, std::size_t at, std::string& utf8) {
  // A reference is at most 10 bytes before its ';': the ';' is looked for
  // that far only (searching to the end for every '&' was quadratic).
  const std::size_t found = html.substr(at, 11).find(';');
  if (found == std::string_view::npos || found == 1) return 0;
  const std::size_t semi = at + found;
  const std::string_view name = html.substr(at + 1, semi - at - 1);
  std::uint32_t code = 0;
  if (name == "amp") code = '&';
  else if (name == "lt") code = '<';
  else if (name == "gt") code = '>';
  else if (name == "quot") code = '"';
  else if (name == "apos") code = '\'';
  else if (name == "nbsp") code = 0xA0;
  else if (name[0] == '#' && name.size() > 1) {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    const std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      const int digit = (c >= '0' && c <= '9') ? c - '0'
                        : (hex && c >= 'a' && c <= 'f') ? c - 'a' + 10
                        : (hex && c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (digit < 0) return 0;
      code = code * (hex ? 16 : 10) + static_cast<std::uint32_t>(digit);
      if (code > 0x10FFFF) return 0;
    }
    if (code == 0 || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  } else {
    return 0;
  }
  utf8.clear();
  html::appendUtf8(utf8, code);
  return semi - at + 1;
}

}  // namespace

void ReadingText::emit(char c, std::size_t begin, std::size_t end, bool withMap) {
  text_.push_back(c);
  if (withMap) {
    begin_.push_back(static_cast<std::uint32_t>(begin));
    end_.push_back(static_cast<std::uint32_t>(end));
  }
}

std::string_view ReadingText::load(std::string_view html, bool withMap) {
  text_.clear();
  begin_.clear();
  end_.clear();
  std::string decoded;  // short (at most 4 bytes): stays in the small-string buffer
  std::size_t i = 0;
  const std::size_t n = html.size();
  while (i < n) {
    // Plain text up to the next tag or reference, in one piece.
    std::size_t run = i;
    while (run < n && html[run] != '<' && html[run] != '&') ++run;
    if (run > i) {
      text_.append(html.data() + i, run - i);
      if (withMap) {
        for (std::size_t k = i; k < run; ++k) {
          begin_.push_back(static_cast<std::uint32_t>(k));
          end_.push_back(static_cast<std::uint32_t>(k + 1));
        }
      }
      i = run;
      if (i == n) break;
    }
    const char c = html[i];
    if (c == '<' && i + 1 < n && (isAlpha(html[i + 1]) || html[i + 1] == '/' || html[i + 1] == '!' || html[i + 1] == '?')) {
      std::size_t end;
      if (html.substr(i, 4) == "<!--") {
        const std::size_t close = html.find("-->", i + 4);
        end = close == std::string_view::npos ? n : close + 3;
      } else {
        std::size_t j = i + 1;
        char quote = 0;
        for (; j < n; ++j) {
          if (quote != 0) {
            if (html[j] == quote) quote = 0;
          } else if (html[j] == '"' || html[j] == '\'') {
            quote = html[j];
          } else if (html[j] == '>') {
            break;
          }
        }
        end = j < n ? j + 1 : n;  // an unclosed tag runs to the end: never text
        std::size_t nameBegin = i + 1 + (html[i + 1] == '/' ? 1 : 0);
        std::size_t nameEnd = nameBegin;
        while (nameEnd < end && isAlnum(html[nameEnd])) ++nameEnd;
        if (isBlockTag(html.substr(nameBegin, nameEnd - nameBegin))) emit('\n', kSynthetic, kSynthetic, withMap);
      }
      i = end;
      continue;
    }
    if (c == '&') {
      const std::size_t length = decodeReference(html, i, decoded);
      if (length != 0) {
        for (char byte : decoded) emit(byte, i, i + length, withMap);
        i += length;
        continue;
      }
    }
    emit(c, i, i + 1, withMap);
    ++i;
  }
  return text_;
}

}  // namespace sipwarden::plugins::keyword
