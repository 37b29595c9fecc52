#pragma once
// Small header-only helpers for instant-message HTML, shared by plugins:
// entity decoding, escaping, and reducing HTML to the text a person reads.

#include <cstdint>
#include <string>
#include <string_view>

namespace sipwarden::html {

inline void appendUtf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// "&amp;" -> "&", "&#x41;" -> "A"; unknown entities are kept as written.
inline std::string decodeEntities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    // A reference is at most 10 bytes before its ';': look no further (a
    // search to the end for every '&' is quadratic on a text of '&'s).
    const std::size_t found = text.substr(i, 11).find(';');
    const std::size_t semi = found == std::string_view::npos ? found : i + found;
    if (semi == std::string_view::npos) {
      out.push_back('&');
      continue;
    }
    const std::string_view name = text.substr(i + 1, semi - i - 1);
    std::uint32_t code = 0;
    bool known = true;
    if (name == "amp") code = '&';
    else if (name == "lt") code = '<';
    else if (name == "gt") code = '>';
    else if (name == "quot") code = '"';
    else if (name == "apos") code = '\'';
    else if (name == "nbsp") code = 0xA0;
    else if (name.size() > 1 && name[0] == '#') {
      const bool hex = name[1] == 'x' || name[1] == 'X';
      for (char c : name.substr(hex ? 2 : 1)) {
        const int digit = (c >= '0' && c <= '9') ? c - '0'
                          : (hex && c >= 'a' && c <= 'f') ? c - 'a' + 10
                          : (hex && c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (digit < 0 || code > 0x10FFFF) {
          known = false;
          break;
        }
        code = code * (hex ? 16 : 10) + static_cast<std::uint32_t>(digit);
      }
    } else {
      known = false;
    }
    if (!known) {
      out.push_back('&');
      continue;
    }
    appendUtf8(out, code);
    i = semi;
  }
  return out;
}

inline std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Whether the '<' at html[at] opens markup (a tag, an end tag, a comment
// or a processing instruction). The WHATWG tokenizer reads any other '<'
// ("I <3 you", "a < b") as text, and a browser shows it and what follows.
inline bool opensTag(std::string_view html, std::size_t at) {
  if (at + 1 >= html.size()) return false;
  const char next = html[at + 1];
  return (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || next == '/' || next == '!' || next == '?';
}

// Called by a filter that walks markup (HTML or XML) tag by tag: the index
// of the '>' that closes the tag opening at markup[at] ('<'), a '>' inside
// a quoted attribute value not counted; npos when the tag never closes.
inline std::size_t tagEnd(std::string_view markup, std::size_t at) {
  char quote = 0;
  for (std::size_t i = at + 1; i < markup.size(); ++i) {
    const char c = markup[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

// Drops tags (a <br> or </p> becomes a line break) and decodes entities.
// A tag that never closes hides the rest, as it does in a browser.
inline std::string toText(std::string_view html) {
  std::string stripped;
  stripped.reserve(html.size());
  for (std::size_t i = 0; i < html.size(); ++i) {
    if (html[i] != '<' || !opensTag(html, i)) {
      stripped.push_back(html[i]);
      continue;
    }
    const std::size_t close = html.find('>', i);
    if (close == std::string_view::npos) break;
    std::string_view tag = html.substr(i + 1, close - i - 1);
    if (tag.starts_with("br") || tag.starts_with("BR") || tag == "/p" || tag == "/P" || tag == "/div") {
      stripped.push_back('\n');
    }
    i = close;
  }
  return decodeEntities(stripped);
}

}  // namespace sipwarden::html
