#include "im/rtf_text.h"

#include <cstdint>
#include <vector>

#include "im/decoding.h"

namespace sipwarden::im {
namespace {

bool isLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

void appendCodePoint(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

// Destinations whose content is not text a reader sees.
bool isHiddenDestination(std::string_view word) {
  static constexpr std::string_view kHidden[] = {
      "fonttbl", "colortbl", "stylesheet", "info", "pict", "header", "footer", "headerl", "headerr", "footerl",
      "footerr", "listtable", "listoverridetable", "revtbl", "rsidtbl", "generator", "xmlnstbl", "themedata",
      "colorschememapping", "latentstyles", "datastore", "filetbl", "object", "objdata", "bkmkstart", "bkmkend"};
  for (std::string_view hidden : kHidden) {
    if (word == hidden) return true;
  }
  return false;
}

// {\* ...} destinations that are read although a reader may ignore them:
// text a client shows, or may show, that can hold a link. Reading one a
// client hides only adds text for the filters to match.
bool isReadableStarDestination(std::string_view word) {
  static constexpr std::string_view kRead[] = {
      "fldinst",                            // a field's instruction: HYPERLINK "target"
      "htmltag", "mhtmltag",                // encapsulated HTML (\fromhtml1), links and all
      "hl", "hlsrc", "hlloc", "hlfr",       // Word 97 hyperlinks: target, location, shown text
      "shpinst", "shptxt",                  // a drawing shape and the text box inside it
      "ud", "upr"};                         // the Unicode twin of an ANSI run
  for (std::string_view read : kRead) {
    if (word == read) return true;
  }
  return false;
}

struct Group {
  bool hidden = false;
  bool opensFieldInstruction = false;  // this group is {\*\fldinst ...} itself, not a group inside it
  int unicodeSkip = 1;                 // \ucN: characters that stand in for each \uN
};

class RtfReader {
 public:
  explicit RtfReader(std::string_view rtf) : rtf_(rtf) {}

  std::optional<std::string> read() {
    if (!rtf_.starts_with("{\\rtf")) return std::nullopt;
    std::vector<Group> groups;
    Group current;
    bool starDestination = false;  // just saw "\*" at a group start
    bool groupStart = false;
    std::size_t skipChars = 0;     // replacement characters after a \uN
    std::uint32_t highSurrogate = 0;
    while (pos_ < rtf_.size()) {
      const char c = rtf_[pos_];
      if (c == '{') {
        flushBytes();
        if (groups.size() >= kMaxRtfDepth) return std::nullopt;
        groups.push_back(current);
        current.opensFieldInstruction = false;
        groupStart = true;
        starDestination = false;
        skipChars = 0;
        ++pos_;
        continue;
      }
      if (c == '}') {
        flushBytes();
        // The target ends its own line: the field's result (the word a
        // reader clicks) must not run into it and change the link.
        if (current.opensFieldInstruction) newLine();
        if (!groups.empty()) {
          current = groups.back();
          groups.pop_back();
        }
        groupStart = false;
        skipChars = 0;
        ++pos_;
        continue;
      }
      if (c == '\\') {
        ++pos_;
        if (pos_ >= rtf_.size()) break;
        const char next = rtf_[pos_];
        if (isLetter(next)) {
          const std::size_t start = pos_;
          while (pos_ < rtf_.size() && isLetter(rtf_[pos_])) ++pos_;
          const std::string_view word = rtf_.substr(start, pos_ - start);
          bool hasNumber = false;
          long number = 0;
          bool negative = false;
          if (pos_ < rtf_.size() && rtf_[pos_] == '-') negative = true, ++pos_;
          while (pos_ < rtf_.size() && isDigit(rtf_[pos_])) {
            hasNumber = true;
            if (number < 10000000) number = number * 10 + (rtf_[pos_] - '0');
            ++pos_;
          }
          if (negative) number = -number;
          if (pos_ < rtf_.size() && rtf_[pos_] == ' ') ++pos_;  // the delimiter space is part of the word
          const bool atStart = groupStart;
          groupStart = false;
          if (atStart && (starDestination || isHiddenDestination(word))) {
            current.hidden = !isReadableStarDestination(word);
            current.opensFieldInstruction = word == "fldinst";
            if (!current.hidden) newLine();
            starDestination = false;
            continue;
          }
          starDestination = false;
          if (word == "bin" && hasNumber && number > 0) {
            // \binN: N bytes of data. In a picture or object they are
            // skipped; anywhere else they may be text a reader shows, and
            // skipping them could skip a link: unreadable.
            if (!current.hidden) return std::nullopt;
            pos_ += std::min<std::size_t>(static_cast<std::size_t>(number), rtf_.size() - pos_);
            if (skipChars > 0) --skipChars;
            continue;
          }
          if (skipChars > 0) {
            // In the place of a \uN's replacement characters a control word
            // is one of them (the RTF spec, \ucN), not a command.
            --skipChars;
            continue;
          }
          control(word, hasNumber, number, current, skipChars, highSurrogate);
          continue;
        }
        groupStart = false;
        if (next == '*') {
          starDestination = true;
          groupStart = true;  // the destination word follows
          ++pos_;
          continue;
        }
        if (next == '\'') {
          // \'hh: a byte in the document's code page.
          if (pos_ + 2 < rtf_.size() + 0 && hex(rtf_[pos_ + 1]) >= 0 && hex(rtf_[pos_ + 2]) >= 0) {
            const char byte = static_cast<char>(hex(rtf_[pos_ + 1]) * 16 + hex(rtf_[pos_ + 2]));
            pos_ += 3;
            if (skipChars > 0) {
              --skipChars;
            } else if (!current.hidden) {
              pending_ += byte;
            }
            continue;
          }
          ++pos_;
          continue;
        }
        ++pos_;
        if (skipChars > 0) {
          --skipChars;
          continue;
        }
        if (current.hidden) continue;
        if (next == '~') emit("\xc2\xa0");
        else if (next == '_') emit("-");
        else if (next == '\\' || next == '{' || next == '}') emit(std::string_view(&next, 1));
        else if (next == '\n' || next == '\r') newLine();
        continue;
      }
      ++pos_;
      groupStart = false;
      if (c == '\r' || c == '\n') continue;  // line breaks in the source are not text
      if (skipChars > 0) {
        --skipChars;
        continue;
      }
      if (!current.hidden) pending_ += c;
    }
    flushBytes();
    if (failed_) return std::nullopt;
    return std::move(out_);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  void control(std::string_view word, bool hasNumber, long number, Group& current, std::size_t& skipChars,
               std::uint32_t& highSurrogate) {
    if (word == "ansicpg" && hasNumber) {
      flushBytes();
      codePage_ = "CP" + std::to_string(number);
      return;
    }
    if (word == "uc" && hasNumber && number >= 0) {
      current.unicodeSkip = static_cast<int>(number);
      return;
    }
    if (current.hidden) return;
    if (word == "u" && hasNumber) {
      flushBytes();
      std::uint32_t unit = static_cast<std::uint32_t>(number < 0 ? number + 65536 : number) & 0xffff;
      skipChars = static_cast<std::size_t>(current.unicodeSkip);
      if (unit >= 0xd800 && unit <= 0xdbff) {
        highSurrogate = unit;
        return;
      }
      if (unit >= 0xdc00 && unit <= 0xdfff) {
        if (highSurrogate != 0) appendCodePoint(out_, 0x10000 + ((highSurrogate - 0xd800) << 10) + (unit - 0xdc00));
        else appendCodePoint(out_, 0xfffd);
        highSurrogate = 0;
        return;
      }
      highSurrogate = 0;
      appendCodePoint(out_, unit);
      return;
    }
    if (word == "par" || word == "line" || word == "sect" || word == "page" || word == "row") newLine();
    else if (word == "tab" || word == "cell") emit("\t");
    else if (word == "emdash") emit("\xe2\x80\x94");
    else if (word == "endash") emit("\xe2\x80\x93");
    else if (word == "lquote") emit("\xe2\x80\x98");
    else if (word == "rquote") emit("\xe2\x80\x99");
    else if (word == "ldblquote") emit("\xe2\x80\x9c");
    else if (word == "rdblquote") emit("\xe2\x80\x9d");
    else if (word == "bullet") emit("\xe2\x80\xa2");
  }

  void emit(std::string_view utf8) {
    flushBytes();
    out_ += utf8;
  }
  void newLine() {
    flushBytes();
    if (!out_.empty() && out_.back() != '\n') out_ += '\n';
  }
  // Bytes collected from plain characters and \'hh escapes, in the code page.
  void flushBytes() {
    if (pending_.empty()) return;
    bool ascii = true;
    for (char c : pending_) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) {
      out_ += pending_;
    } else if (auto converted = toUtf8(codePage_, pending_)) {
      out_ += *converted;
    } else {
      failed_ = true;
    }
    pending_.clear();
  }

  std::string_view rtf_;
  std::size_t pos_ = 0;
  std::string codePage_ = "CP1252";
  std::string pending_;
  std::string out_;
  bool failed_ = false;
};

}  // namespace

std::optional<std::string> rtfText(std::string_view rtf) { return RtfReader(rtf).read(); }

}  // namespace sipwarden::im
