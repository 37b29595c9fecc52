#pragma once
// Finds the links in one instant-message part.
//
// A part is read the way the recipient's client reads it (normalized_text.h):
// invisible characters dropped, HTML character references decoded, HTML tags
// removed from the visible text and URL attributes (href, src, ...) read on
// their own. RE2 patterns compiled when the plugin is created find the
// candidates (and where links end, and links nested in a defanged one);
// each candidate is then classified:
//   - scheme links ("http://...", "hxxp://...", "mailto:...") whose scheme is
//     in `prefixes` (obfuscated spellings hxxp/hxxps/ttp/ttps/fxp count as
//     http/https/ftp);
//   - host links starting with a configured host prefix ("www*", "ftp.");
//   - HTML links (href and friends) when "href" is in `prefixes`;
//   - any link whose host is international (non-ASCII or xn--), bare or not;
//   - and, only for the file-type check, everything else that reaches a path:
//     bare hosts ("example.com/x.exe"), UNC paths ("\\server\share\x.exe"),
//     other schemes with an authority ("smb://host/x.exe").
// Sentence punctuation after a link is not part of it.

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "normalized_text.h"
#include "url_parts.h"

namespace re2 {
class RE2;
}

namespace sipwarden::plugins::url_filter {

// What an HTML attribute holds (link_finder.cc reads it by its name).
enum class AttributeRole { None, Navigation, Resource, Text };

enum class LinkKind {
  Scheme,      // a scheme in `prefixes`, or another scheme with an authority
  HostPrefix,  // "www.example.com", "ftp.example.com"
  Literal,     // a configured prefix that is neither a scheme nor a host start
  Unc,         // \\server\share\...
  BareHost,    // example.com/x.exe, exаmple.com (international)
  Attribute,   // an HTML href/src/... value that is not a scheme link
};

struct Link {
  LinkKind kind = LinkKind::Scheme;
  // A link in the sense of `prefixes` (or with an international host): the
  // action applies to it. Other links are checked for file types only.
  bool counted = false;
  std::size_t part = 0;
  RawSpan raw;               // where the link sits in the part text
  std::size_t insertAt = 0;  // where defanging puts its "_"
  // Where other links start inside this one ("...?u=http://b", "tel:sip:x"):
  // a client could make them clickable once the outer one is defanged, so
  // they get a "_" too. Filled only for counted links and only when the
  // finder was created for defanging.
  std::vector<std::size_t> innerInserts;
  std::string text;  // as a browser reads it: decoded, invisible characters removed
  UrlParts url;      // ranges into `text`
};

// The links of a message. Cleared from message to message without freeing:
// a Link's buffers are reused by the next one found in its slot. Holds at
// most `limit` links: the finder stops at the next one and marks the list
// overflowed, so a message of many links costs no more than `limit` of them.
class LinkList {
 public:
  explicit LinkList(std::size_t limit = static_cast<std::size_t>(-1)) : limit_(limit) {}
  void clear() {
    size_ = 0;
    overflowed_ = false;
  }
  bool full() const { return size_ >= limit_; }
  // Another link was found when the list was full: the message holds more
  // than `limit`, and the search has stopped.
  void markOverflowed() { overflowed_ = true; }
  bool overflowed() const { return overflowed_; }
  Link& add() {
    if (size_ == links_.size()) links_.emplace_back();
    return links_[size_++];
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Link& operator[](std::size_t i) { return links_[i]; }
  const Link& operator[](std::size_t i) const { return links_[i]; }
  const Link* begin() const { return links_.data(); }
  const Link* end() const { return links_.data() + size_; }

 private:
  std::vector<Link> links_;
  std::size_t size_ = 0;
  std::size_t limit_;
  bool overflowed_ = false;
};

class LinkFinder {
 public:
  // `prefixes` as configured ("http:", "www*", "ftp.", "href", ...). Returns
  // nullptr with `error` set when one cannot be used.
  // `digitDots`: a file extension to find may start with a digit or be one
  // character long (".7z", ".c"), so "a.7z" must not be skipped by precheck.
  // `innerStarts`: fill Link::innerInserts (for defanging).
  static std::unique_ptr<LinkFinder> create(const std::vector<std::string>& prefixes, bool digitDots, bool innerStarts,
                                            std::string& error);
  ~LinkFinder();
  LinkFinder(const LinkFinder&) = delete;
  LinkFinder& operator=(const LinkFinder&) = delete;

  // Appends the links of one part to `out` (with Link::part = `part`), and
  // stops once `out` overflows. Not re-entrant: it reuses scratch buffers (a
  // filter runs on one thread). Time: linear in the part (one RE2 scan, each
  // candidate classified from where the last one ended; see scan()).
  void find(std::string_view text, bool html, std::size_t part, LinkList& out);

  // The cheap test that runs before any matching: false when plain `text`
  // cannot hold a link (no "x:y", no "a.bc", no "\\", no invisible
  // character). Otherwise `first` and `last` are the first and last places
  // that may belong to one, and `high` tells whether non-ASCII text is there.
  bool precheck(std::string_view text, std::size_t& first, std::size_t& last, bool& high) const;

 private:
  LinkFinder() = default;
  bool addPrefix(const std::string& configured, std::string& error);
  bool compile(bool innerStarts, std::string& error);

  // Scans view.text() from `from`; stops once a match starts after `until`.
  void scan(const NormalizedText& view, LinkList& out, std::size_t from = 0,
            std::size_t until = std::string_view::npos);
  // Classifies the candidate at [start, end) of view.text(); returns where
  // the scan goes on.
  std::size_t classify(const NormalizedText& view, std::size_t start, std::size_t end, LinkList& out);
  void scanHtml(std::string_view html, LinkList& out);
  std::size_t parseTag(std::string_view html, std::size_t open, LinkList& out, bool& breaksText);
  void attribute(std::string_view name, std::size_t begin, std::size_t end, LinkList& out);
  // The content of a <meta>: a refresh's URL is a link to navigate to.
  void metaContent(std::size_t begin, std::size_t end, LinkList& out);
  // The URL at [first, last) of value_.text(), read as a browser reads an
  // attribute of `role`.
  void urlValue(std::size_t first, std::size_t last, AttributeRole role, LinkList& out);
  void emit(const NormalizedText& view, std::size_t start, std::size_t end, LinkKind kind, bool counted, UrlForm form,
            LinkList& out);

  // Whether `written` ("HXXP", "https") is a configured scheme once made
  // canonical (canonicalScheme).
  bool hasScheme(std::string_view written) const;
  bool startsWithLiteral(std::string_view text) const;
  // False when inner_ cannot match at any start in [from, end) of `text`
  // (from >= 1): the cheap test that spares most links that search.
  bool mayStartInside(std::string_view text, std::size_t from, std::size_t end) const;
  // The first byte at or after `i` (before `end`, else `end`) that one of
  // inner_'s starts holds.
  std::size_t nextInnerTrigger(std::string_view text, std::size_t i, std::size_t end) const;
  void addInnerTrigger(char c);
  bool startsWithHostPrefix(std::string_view text) const;

  std::unique_ptr<re2::RE2> scanner_;      // finds where candidates start
  std::unique_ptr<re2::RE2> body_;         // the characters a link runs on over
  std::unique_ptr<re2::RE2> inner_;        // where a counted link may start (null: not wanted)
  std::vector<std::string> schemes_;       // canonical, lower-case, without ':'
  std::vector<std::string> hostPrefixes_;  // lower-case: "www", "ftp."
  std::vector<std::string> literals_;      // lower-case
  bool href_ = false;
  bool schemeEndsInNonLetter_ = false;  // widens the ':' test of precheck
  bool digitDots_ = false;              // widens its '.' test
  // The bytes one of inner_'s starts holds: ':' (schemes), '\\' ("file:"
  // configured) and the first character of each host prefix, both cases.
  bool innerTrigger_[256] = {};
  std::array<char, 8> innerTriggerBytes_{};  // the same as a list, for SSE2 (when they fit)
  std::size_t innerTriggerCount_ = 0;
  std::size_t currentPart_ = 0;
  NormalizedText text_;   // scratch: the part as matched
  NormalizedText value_;  // scratch: one HTML attribute value
};

}  // namespace sipwarden::plugins::url_filter
