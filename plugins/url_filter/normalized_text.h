#pragma once
// Text prepared for link matching. A message part is matched as the
// recipient's client will read it: invisible characters (zero-width space,
// soft hyphen, bidi controls...) removed and, in HTML, character references
// decoded. Each byte of the prepared text remembers the raw bytes it came
// from, so a link found in it can be rewritten in the original part without
// ever splitting a UTF-8 character.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::plugins::url_filter {

// A byte range of the raw part text.
struct RawSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Length in bytes of the invisible character that starts at `text[at]`, or
// 0 when the character there is visible (or not valid UTF-8).
std::size_t invisibleLength(std::string_view text, std::size_t at);
bool isInvisible(std::uint32_t code);
// True when `text` holds at least one invisible character.
bool containsInvisible(std::string_view text);

// Characters a browser's host parser (WHATWG URL, UTS #46 mapping) turns
// into host characters but that would otherwise end a link here: the
// superscript and subscript digits and letters, letter-like symbols and
// Roman numerals, circled and squared letters and digits, the ordinal
// indicators and the low-line presentation forms ("contoso.com.\u24D4vil"
// is contoso.com.evil to a browser). A link runs on over them; its host is
// then non-ASCII, so it never matches the allow-list. The link finder's
// kJoiner pattern lists the same ranges.
bool isHostJoiner(std::uint32_t code);
// True when `text` must be prepared (NormalizedText) before matching: it
// holds an invisible character or one that is folded (see
// NormalizedText::append), in a place where the folding can matter.
bool needsPreparation(std::string_view text);

// Decodes the UTF-8 character at text[at]; sets `length` (1 for an invalid
// byte, which decodes as U+FFFD).
std::uint32_t decodeUtf8(std::string_view text, std::size_t at, std::size_t& length);

// Appends the raw spans of the invisible characters in raw[begin, end)
// (with `html`, also those written as character references).
void collectInvisible(std::string_view raw, std::size_t begin, std::size_t end, bool html, std::vector<RawSpan>& out);

class NormalizedText {
 public:
  // A view of `raw` itself (nothing to remove or decode): no copy is made.
  void setIdentity(std::string_view raw);
  // Starts an empty prepared text over `raw` (kept by reference).
  void reset(std::string_view raw);
  // Appends raw[begin, end): invisible characters dropped (and remembered in
  // removed()), HTML character references decoded when `html`, and tab, CR
  // and LF dropped when `urlValue` (a URL parser ignores them).
  // Compatibility forms are folded to ASCII as a browser's host parser folds
  // them (UTS #46), so that a link is judged by the host it opens:
  //   - full-width letters and digits (U+FF10..FF19, FF21..FF3A, FF41..FF5A),
  //     always ("\uFF48\uFF54\uFF54\uFF50://" is "http://");
  //   - the label dots U+3002, U+FF0E, U+FF61 as '.', the full-width
  //     hyphen-minus U+FF0D as '-' and low line U+FF3F as '_', when they
  //     join two host characters (after an ASCII letter, digit, '-' or '_',
  //     before a letter or digit that is not CJK or Hangul): in prose,
  //     "wiki.example.com\u3002" followed by Japanese ends a sentence, not a
  //     host. In a URL value (`urlValue`) always.
  //   - the full-width colon and solidus in "letters\uFF1A\uFF0F\uFF0F".
  // Other full-width punctuation stays as it is (it ends a link).
  void append(std::size_t begin, std::size_t end, bool html, bool urlValue);
  // Appends a line break standing for raw[begin, end) (an HTML tag that
  // breaks the text).
  void appendBreak(std::size_t begin, std::size_t end);

  std::string_view text() const { return identity_ ? raw_ : std::string_view(text_); }
  std::string_view raw() const { return raw_; }
  // Raw offset where the byte at `at` of text() comes from; at == size()
  // maps to the end of the last mapped character.
  std::size_t rawBegin(std::size_t at) const;
  // Raw offset just past the character that holds byte `at` of text().
  std::size_t rawEnd(std::size_t at) const;
  // Raw spans of the invisible characters that were dropped, in order.
  const std::vector<RawSpan>& removed() const { return removed_; }

 private:
  void push(std::string_view bytes, std::size_t rawBegin, std::size_t rawEnd);
  // The ASCII character `code` (which ends at raw offset `next`) folds to
  // here, or 0. Looks ahead at most to `end`.
  char folded(std::uint32_t code, std::size_t next, std::size_t end, bool html, bool urlValue) const;
  // The next visible character at or after raw offset `at` (before `end`;
  // HTML references decoded when `html`), `at` moved past it; 0 at the end.
  std::uint32_t visibleAt(std::size_t& at, std::size_t end, bool html) const;

  std::string_view raw_;
  bool identity_ = true;
  std::string text_;
  std::vector<RawSpan> map_;  // one per byte of text_
  std::vector<RawSpan> removed_;
};

}  // namespace sipwarden::plugins::url_filter
