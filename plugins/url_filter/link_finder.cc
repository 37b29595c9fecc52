// Over 500 lines because finding a link is one pass with many kinds of
// link (schemes, host prefixes, UNC, bare hosts, HTML attributes) whose
// boundaries depend on each other; the RE2 patterns and the classification
// have to agree.
#include "link_finder.h"

#include <re2/re2.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "sipwarden/text.h"

namespace sipwarden::plugins::url_filter {
namespace {

// A character that may continue a link: printable ASCII but space, '"', '<'
// and '>'; and non-ASCII characters outside the blocks of spaces,
// punctuation and symbols (Latin-1 signs and no-break space, general
// punctuation to dingbats, CJK punctuation, full-width punctuation, private
// use, specials, emoji). Plain ranges rather than Unicode properties keep
// the program small: it compiles in well under a millisecond.
constexpr std::string_view kBody =
    R"((?:[!#-;=?-~]|[^\x00-\x{BF}\x{2000}-\x{2BFF}\x{3000}-\x{303F}\x{FE30}-\x{FE4F}\x{FF01}-\x{FF0F})"
    R"(\x{FF1A}-\x{FF20}\x{FF3B}-\x{FF40}\x{FF5B}-\x{FF65}\x{E000}-\x{F8FF}\x{FFF0}-\x{FFFF}\x{1F000}-\x{1FAFF}]))";
// Characters a browser's host parser maps to letters, digits or '_' (UTS
// #46) among those kBody would otherwise stop at: ordinal indicators,
// superscripts and subscripts, letter-like symbols and Roman numerals,
// circled letters and digits, low-line forms, squared letters. A link runs
// on over them, so "http://contoso.com.\u24D4vil.example" is one link whose
// host is not ASCII (and so never on the allow-list). isHostJoiner() in
// normalized_text.cc lists the same ranges.
constexpr std::string_view kJoiner =
    R"([\x{AA}\x{B2}\x{B3}\x{B9}\x{BA}\x{2070}-\x{209F}\x{2100}-\x{218F}\x{2460}-\x{24FF}\x{FE33}\x{FE34})"
    R"(\x{FE4D}-\x{FE4F}\x{1F100}-\x{1F16F}\x{1F190}])";
// A character of a bare host label: ASCII letters and digits, and what
// kBody allows outside the CJK and Hangul blocks (so "資料はexample.com"
// starts at "example").
constexpr std::string_view kLabel =
    R"((?:[0-9A-Za-z]|[^\x00-\x{BF}\x{1100}-\x{11FF}\x{2000}-\x{2BFF}\x{2E80}-\x{9FFF}\x{A960}-\x{A97F})"
    R"(\x{AC00}-\x{D7FF}\x{E000}-\x{FAFF}\x{FE30}-\x{FE4F}\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF20}\x{FF3B}-\x{FF40})"
    R"(\x{FF5B}-\x{FFFF}\x{1F000}-\x{1FAFF}\x{20000}-\x{3FFFF}]))";

// Top-level domains a bare "name.tld" must end in to be taken for a host:
// every two-letter one (country codes) plus these.
constexpr std::array<std::string_view, 96> kTopLevel = {
    "aero",     "agency",      "app",      "art",      "arpa",     "asia",    "bank",      "biz",     "blog",
    "business", "cat",         "center",   "click",    "cloud",    "club",    "com",       "company", "coop",
    "corp",     "design",      "dev",      "digital",  "download", "edu",     "email",     "finance", "fun",
    "game",     "gdn",         "global",   "gov",      "group",    "home",    "host",      "icu",     "info",
    "int",      "internal",    "intranet", "jobs",     "lan",      "life",    "link",      "live",    "loan",
    "local",    "localdomain", "lol",      "ltd",      "media",    "mil",     "mobi",      "mov",     "museum",
    "name",     "net",         "network",  "news",     "one",      "online",  "org",       "page",    "pro",
    "pub",      "rest",        "review",   "services", "shop",     "site",    "solutions", "space",   "store",
    "stream",   "support",     "systems",  "tech",     "tel",      "today",   "top",       "travel",  "tv",
    "vip",      "web",         "website",  "win",      "work",     "works",   "world",     "wtf",     "xin",
    "xxx",      "xyz",         "zip",      "zone",     "exchange", "software"};

bool isAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool isAsciiAlnum(char c) { return isAsciiLetter(c) || isAsciiDigit(c); }
bool isHigh(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool isSchemeChar(char c) { return isAsciiAlnum(c) || c == '+' || c == '-'; }
// A word character for RE2's \b (ASCII only).
bool isWordChar(char c) { return isAsciiAlnum(c) || c == '_'; }
// An ASCII character of kBody: printable, but not space, '"', '<' or '>'.
bool isBodyAscii(char c) { return c > 0x20 && c < 0x7F && c != '"' && c != '<' && c != '>'; }
using text::lower;
using text::istartsWith;

bool knownTopLevel(std::string_view label) {
  if (label.size() < 2 || label.size() > 24) return false;
  char buffer[24];
  for (std::size_t i = 0; i < label.size(); ++i) {
    if (!isAsciiLetter(label[i])) return label.starts_with("xn--") || label.starts_with("XN--");
    buffer[i] = lower(label[i]);
  }
  if (label.size() == 2) return true;
  const std::string_view name(buffer, label.size());
  return std::find(kTopLevel.begin(), kTopLevel.end(), name) != kTopLevel.end();
}

// Length of `link` without the sentence punctuation that follows it:
// ". , ; : ! ? ' \"" and closing brackets that have no opening one inside.
// Linear: the brackets are counted once, and only for a link that ends in one.
std::size_t trimmedLength(std::string_view link) {
  static constexpr std::string_view kOpen = "([{";
  static constexpr std::string_view kClose = ")]}";
  long balance[3] = {0, 0, 0};  // closing minus opening brackets, per kind
  bool counted = false;
  std::size_t n = link.size();
  while (n > 0) {
    const char c = link[n - 1];
    if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' || c == '"') {
      --n;
      continue;
    }
    const std::size_t kind = kClose.find(c);
    if (kind == std::string_view::npos) break;
    if (!counted) {
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t open = kOpen.find(link[i]);
        const std::size_t close = kClose.find(link[i]);
        if (open != std::string_view::npos) --balance[open];
        if (close != std::string_view::npos) ++balance[close];
      }
      counted = true;
    }
    if (balance[kind] <= 0) break;
    --balance[kind];
    --n;
  }
  return n;
}

bool isInlineTag(std::string_view name) {
  static constexpr std::array<std::string_view, 28> kInline = {
      "a",   "abbr", "b",    "bdi", "bdo", "big",  "cite",  "code", "data",   "del",    "dfn", "em",  "font", "i",
      "ins", "kbd",  "mark", "q",   "s",   "samp", "small", "span", "strike", "strong", "sub", "sup", "u",    "wbr"};
  return std::find(kInline.begin(), kInline.end(), name) != kInline.end();
}

AttributeRole roleOf(std::string_view name) {
  if (name == "href" || name == "xlink:href" || name == "action" || name == "formaction") {
    return AttributeRole::Navigation;
  }
  if (name == "src" || name == "background" || name == "poster" || name == "data" || name == "lowsrc" ||
      name == "dynsrc" || name == "codebase" || name == "cite" || name == "longdesc" || name == "manifest") {
    return AttributeRole::Resource;
  }
  if (name == "style" || name == "srcset" || name == "ping") return AttributeRole::Text;
  return AttributeRole::None;
}

// Address schemes whose URIs carry parameters and headers after the host
// (RFC 3261 sip/sips; im, pres and xmpp alike), case-insensitive.
bool hasParameters(std::string_view scheme) {
  char buffer[4];
  if (scheme.size() < 2 || scheme.size() > sizeof buffer) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) buffer[i] = lower(scheme[i]);
  const std::string_view name(buffer, scheme.size());
  return name == "sip" || name == "sips" || name == "im" || name == "pres" || name == "xmpp";
}

bool isHtmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// The next byte at or after `i` that is ':', '.', '\\' or, when `high`,
// non-ASCII (text.size() when none): 16 bytes at a time where SSE2 is there.
std::size_t nextCandidateByte(std::string_view text, std::size_t i, bool high) {
  const std::size_t n = text.size();
#if defined(__SSE2__)
  const __m128i colon = _mm_set1_epi8(':');
  const __m128i dot = _mm_set1_epi8('.');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i highBit = high ? _mm_set1_epi8(static_cast<char>(0x80)) : _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, colon), _mm_cmpeq_epi8(bytes, dot)),
                                      _mm_or_si128(_mm_cmpeq_epi8(bytes, backslash), _mm_and_si128(bytes, highBit)));
    const int mask = _mm_movemask_epi8(hits);
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i) {
    const char c = text[i];
    if (c == ':' || c == '.' || c == '\\' || (high && isHigh(c))) return i;
  }
  return n;
}

// The end of the run of kBody ASCII characters that starts at `i`.
std::size_t bodyAsciiEnd(std::string_view text, std::size_t i) {
  const std::size_t n = text.size();
#if defined(__SSE2__)
  const __m128i above = _mm_set1_epi8(0x21);  // signed: bytes >= 0x80 are below it too
  const __m128i del = _mm_set1_epi8(0x7F);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i less = _mm_set1_epi8('<');
  const __m128i greater = _mm_set1_epi8('>');
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    const __m128i stops =
        _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(bytes, above), _mm_cmpeq_epi8(bytes, del)),
                     _mm_or_si128(_mm_cmpeq_epi8(bytes, quote),
                                  _mm_or_si128(_mm_cmpeq_epi8(bytes, less), _mm_cmpeq_epi8(bytes, greater))));
    const int mask = _mm_movemask_epi8(stops);
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  while (i < n && isBodyAscii(text[i])) ++i;
  return i;
}

}  // namespace

LinkFinder::~LinkFinder() = default;

std::unique_ptr<LinkFinder> LinkFinder::create(const std::vector<std::string>& prefixes, bool digitDots,
                                               bool innerStarts, std::string& error) {
  std::unique_ptr<LinkFinder> finder(new LinkFinder());
  finder->digitDots_ = digitDots;
  for (const auto& prefix : prefixes) {
    if (!finder->addPrefix(prefix, error)) return nullptr;
  }
  if (!finder->compile(innerStarts, error)) return nullptr;
  return finder;
}

bool LinkFinder::addPrefix(const std::string& configured, std::string& error) {
  const std::string prefix = lower(configured);
  const auto bad = [&](std::string_view why) {
    error = "'" + configured + "' " + std::string(why);
    return false;
  };
  if (prefix.empty()) return bad("is empty");
  for (char c : prefix) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '"' || c == '<' || c == '>' || c == 0x7f) {
      return bad("holds a space, a quote or an angle bracket");
    }
  }
  if (prefix == "href") {
    href_ = true;
  } else if (prefix.back() == ':') {
    const std::string_view name = std::string_view(prefix).substr(0, prefix.size() - 1);
    const bool valid = !name.empty() && isAsciiLetter(name[0]) &&
                       std::all_of(name.begin(), name.end(), [](char c) { return isSchemeChar(c) || c == '.'; });
    if (!valid) return bad("is not a scheme (expected letters, digits, '+', '-' or '.' before the ':')");
    schemes_.push_back(canonicalScheme(name));
    if (!isAsciiLetter(name.back())) schemeEndsInNonLetter_ = true;
  } else if (prefix.back() == '*' || prefix.back() == '.') {
    const std::string start = prefix.back() == '*' ? prefix.substr(0, prefix.size() - 1) : prefix;
    const bool valid = !start.empty() && isAsciiAlnum(start[0]) && std::all_of(start.begin(), start.end(), [](char c) {
      return isAsciiAlnum(c) || c == '-' || c == '.';
    });
    if (!valid) return bad("is not a host start (expected a name such as \"www*\" or \"ftp.\")");
    hostPrefixes_.push_back(start);
    addInnerTrigger(start[0]);
    addInnerTrigger(start[0] >= 'a' && start[0] <= 'z' ? static_cast<char>(start[0] - 'a' + 'A') : start[0]);
  } else {
    literals_.push_back(prefix);
  }
  return true;
}

bool LinkFinder::compile(bool innerStarts, std::string& error) {
  RE2::Options options;
  // Case-insensitive only where written (?i:...): folding the Unicode
  // ranges would multiply the program for nothing.
  options.set_case_sensitive(true);
  options.set_never_capture(true);
  options.set_log_errors(false);
  options.set_max_mem(64 << 20);
  const auto build = [&](std::unique_ptr<RE2>& re, const std::vector<std::string>& alternatives) {
    std::string pattern;
    for (const auto& alternative : alternatives) pattern += (pattern.empty() ? "" : "|") + alternative;
    re = std::make_unique<RE2>(pattern, options);
    if (!re->ok()) error = "cannot be compiled: " + re->error();
    return re->ok();
  };

  // The scanner: where a candidate starts, and for hosts and paths where it
  // ends. A scheme candidate stops one character after its ':'; body_ then
  // finds the end, only for the candidates that are links.
  const std::string body = "(?:" + std::string(kBody) + "|" + std::string(kJoiner) + ")";
  const std::string label(kLabel);
  // A label starts with a kLabel character; joiners continue one ("①" in
  // "①example.com" is an enumeration, in "example.c①m" part of the host).
  const std::string more = "(?:" + label + "|-|" + std::string(kJoiner) + ")*";
  const std::string host = label + more + "(?:\\." + label + more + ")+";
  const std::string tail = "(?::[0-9]{1,5})?(?:[/?#\\\\]" + body + "*)?";
  std::vector<std::string> alternatives = {"\\b[A-Za-z][A-Za-z0-9+\\-]*:" + body};  // any scheme
  for (const auto& start : hostPrefixes_) {
    alternatives.push_back("\\b(?i:" + RE2::QuoteMeta(start) + ")(?:" + label + "|[.\\-]|" + std::string(kJoiner) + ")*" +
                           tail);
  }
  for (const auto& literal : literals_) {
    const std::string boundary = isAsciiAlnum(literal[0]) ? "\\b" : "";
    alternatives.push_back(boundary + "(?i:" + RE2::QuoteMeta(literal) + ")" + body + "*");
  }
  alternatives.push_back("\\\\\\\\" + body + "+");  // UNC: \\server\share
  alternatives.push_back(host + tail);              // bare host or IPv4
  if (!build(scanner_, alternatives) || !build(body_, {body + "+"})) return false;
  if (!innerStarts) return true;

  // The starts of counted links, short matches only: "scheme:", "www....",
  // a literal prefix, "\\\\".
  std::vector<std::string> starts;
  std::string schemes;
  for (const auto& scheme : schemes_) {
    schemes += (schemes.empty() ? "" : "|") + RE2::QuoteMeta(scheme);
    if (scheme == "http") schemes += "|hxxp|ttp";
    if (scheme == "https") schemes += "|hxxps|ttps";
    if (scheme == "ftp") schemes += "|fxp";
  }
  if (!schemes.empty()) starts.push_back("\\b(?i:" + schemes + "):");
  for (const auto& start : hostPrefixes_) {
    starts.push_back("\\b(?i:" + RE2::QuoteMeta(start) + ")[0-9A-Za-z\\-]*\\.");
  }
  for (const auto& literal : literals_) {
    starts.push_back((isAsciiAlnum(literal[0]) ? "\\b(?i:" : "(?i:") + RE2::QuoteMeta(literal) + ")");
  }
  if (!schemes.empty()) addInnerTrigger(':');
  if (hasScheme("file")) {
    starts.push_back("\\\\\\\\");
    addInnerTrigger('\\');
  }
  return starts.empty() || build(inner_, starts);
}

void LinkFinder::addInnerTrigger(char c) {
  if (innerTrigger_[static_cast<unsigned char>(c)]) return;
  innerTrigger_[static_cast<unsigned char>(c)] = true;
  if (innerTriggerCount_ < innerTriggerBytes_.size()) innerTriggerBytes_[innerTriggerCount_] = c;
  ++innerTriggerCount_;
}

bool LinkFinder::hasScheme(std::string_view written) const {
  // Called for every candidate: canonicalScheme() without allocating (a
  // scheme longer than any configured one is none of them), then the length
  // and first letter before comparing the rest.
  if (written.empty()) return false;
  char buffer[32];
  std::string longer;
  std::string_view canonical;
  if (written.size() <= sizeof buffer) {
    for (std::size_t i = 0; i < written.size(); ++i) buffer[i] = lower(written[i]);
    canonical = std::string_view(buffer, written.size());
  } else {
    longer = lower(written);
    canonical = longer;
  }
  if (canonical == "hxxp" || canonical == "ttp") canonical = "http";
  else if (canonical == "hxxps" || canonical == "ttps") canonical = "https";
  else if (canonical == "fxp") canonical = "ftp";
  return std::any_of(schemes_.begin(), schemes_.end(), [&](const std::string& scheme) {
    return scheme.size() == canonical.size() && scheme[0] == canonical[0] && scheme == canonical;
  });
}

std::size_t LinkFinder::nextInnerTrigger(std::string_view text, std::size_t i, std::size_t end) const {
#if defined(__SSE2__)
  if (innerTriggerCount_ <= innerTriggerBytes_.size()) {
    for (; i + 16 <= end; i += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
      __m128i hits = _mm_setzero_si128();
      for (std::size_t t = 0; t < innerTriggerCount_; ++t) {
        hits = _mm_or_si128(hits, _mm_cmpeq_epi8(bytes, _mm_set1_epi8(innerTriggerBytes_[t])));
      }
      const int mask = _mm_movemask_epi8(hits);
      if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
  }
#endif
  while (i < end && !innerTrigger_[static_cast<unsigned char>(text[i])]) ++i;
  return i;
}

bool LinkFinder::mayStartInside(std::string_view text, std::size_t from, std::size_t end) const {
  if (!literals_.empty()) return true;
  // A scheme start inside the link may have its ':' after the link's end
  // ("www..tel:x", whose host stops before the ':'): look that far too.
  std::size_t last = end;
  while (last < text.size() && (isSchemeChar(text[last]) || text[last] == '.')) ++last;
  const std::size_t until = last < text.size() && text[last] == ':' ? last + 1 : end;
  // Each start holds one of a few bytes: test only where those are.
  for (std::size_t p = nextInnerTrigger(text, from, until); p < until; p = nextInnerTrigger(text, p + 1, until)) {
    const char trigger = text[p];
    if (trigger == ':') {
      // "\b(?i:scheme):" needs a letter after a non-word character, then
      // scheme characters up to the ':', all at or after `from`.
      for (std::size_t k = p; k > from && (isSchemeChar(text[k - 1]) || text[k - 1] == '.'); --k) {
        if (isAsciiLetter(text[k - 1]) && !isWordChar(text[k - 2])) return true;
      }
    } else if (trigger == '\\') {
      if (p + 1 < text.size() && text[p + 1] == '\\') return true;
    } else if (!isWordChar(text[p - 1]) && startsWithHostPrefix(text.substr(p))) {
      return true;  // "\b(?i:www)..."
    }
  }
  return false;
}

bool LinkFinder::startsWithLiteral(std::string_view text) const {
  return std::any_of(literals_.begin(), literals_.end(),
                     [&](const std::string& literal) { return istartsWith(text, literal); });
}

bool LinkFinder::startsWithHostPrefix(std::string_view text) const {
  return std::any_of(hostPrefixes_.begin(), hostPrefixes_.end(),
                     [&](const std::string& start) { return istartsWith(text, start); });
}

bool LinkFinder::precheck(std::string_view text, std::size_t& first, std::size_t& last, bool& high) const {
  first = std::string_view::npos;
  last = 0;
  high = false;
  const std::size_t n = text.size();
  for (std::size_t i = nextCandidateByte(text, 0, true); i < n; i = nextCandidateByte(text, i + 1, !high)) {
    const char c = text[i];
    if (isHigh(c)) {
      high = true;
      continue;
    }
    bool trigger = false;
    if (c == ':') {
      // "scheme:x" (not "10:30", not "Note: x").
      trigger = i > 0 && i + 1 < n && static_cast<unsigned char>(text[i + 1]) > 0x20 &&
                (isAsciiLetter(text[i - 1]) || (schemeEndsInNonLetter_ && isSchemeChar(text[i - 1])));
    } else if (c == '.') {
      // "name.tld" or "file.ext" (not "e.g.", not "4.2"): a letter and one
      // more character of a name after the dot.
      const bool name = i > 0 && (isAsciiAlnum(text[i - 1]) || isHigh(text[i - 1]) || text[i - 1] == '-');
      trigger = name && i + 2 < n && (isAsciiLetter(text[i + 1]) || isHigh(text[i + 1])) &&
                (isAsciiAlnum(text[i + 2]) || isHigh(text[i + 2]));
      trigger = trigger || (name && digitDots_ && i + 1 < n && isAsciiAlnum(text[i + 1]));
    } else if (c == '\\') {
      trigger = i + 1 < n && text[i + 1] == '\\';
    }
    if (trigger) {
      if (first == std::string_view::npos) first = i;
      last = i;
    }
  }
  if (!literals_.empty() || (high && needsPreparation(text))) {
    first = 0;
    last = n;
    return true;
  }
  return first != std::string_view::npos;
}

void LinkFinder::find(std::string_view text, bool html, std::size_t part, LinkList& out) {
  currentPart_ = part;
  if (html) {
    scanHtml(text, out);
    return;
  }
  std::size_t first = 0;
  std::size_t last = 0;
  bool high = false;
  if (!precheck(text, first, last, high)) return;
  if (high && needsPreparation(text)) {
    text_.reset(text);
    text_.append(0, text.size(), false, false);
    scan(text_, out);
    return;
  }
  // A link holds a trigger and starts at most a scheme or a host label
  // (63 bytes) before it: the text before that cannot hold one.
  std::size_t from = first > 256 ? first - 256 : 0;
  while (from > 0 && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80) --from;
  text_.setIdentity(text);
  scan(text_, out, from, last);
}

void LinkFinder::scan(const NormalizedText& view, LinkList& out, std::size_t from, std::size_t until) {
  const std::string_view text = view.text();
  const re2::StringPiece subject(text.data(), text.size());
  re2::StringPiece match;
  // Linear in the text: each search starts where the last candidate was
  // classified, which is past its end, or past its link when the trailing
  // punctuation was trimmed (a run that holds no candidate longer than the
  // punctuation itself), or one byte after its ':' (where a scheme candidate
  // ends). RE2 scans forward to the match's end, then back to its start,
  // never before `at`.
  std::size_t at = from;
  while (!out.overflowed() && at < text.size() && at <= until &&
         scanner_->Match(subject, at, text.size(), RE2::UNANCHORED, &match, 1)) {
    const std::size_t start = static_cast<std::size_t>(match.data() - text.data());
    const std::size_t end = start + match.size();
    if (start > until) break;
    at = std::max(classify(view, start, end, out), start + 1);
  }
}

void LinkFinder::emit(const NormalizedText& view, std::size_t start, std::size_t end, LinkKind kind, bool counted,
                      UrlForm form, LinkList& out) {
  if (out.full()) {
    out.markOverflowed();
    return;
  }
  Link& link = out.add();
  link.kind = kind;
  link.part = currentPart_;
  link.text.assign(view.text().substr(start, end - start));
  link.raw = {view.rawBegin(start), view.rawEnd(end - 1)};
  link.insertAt = link.raw.begin;
  parseUrl(link.text, form, link.url);
  // An international host makes a link of it, unless its scheme is one no
  // client opens as a web link ("foo://пример.рф" is not clickable).
  const std::string& scheme = link.url.scheme;
  const bool webLike = form != UrlForm::Scheme || counted || scheme == "http" || scheme == "https" || scheme == "ftp" ||
                       scheme == "ws" || scheme == "wss";
  link.counted = counted || (webLike && std::any_of(link.url.hosts.begin(), link.url.hosts.end(),
                                                    [](const Host& host) { return host.international; }));
  link.innerInserts.clear();
  if (!inner_ || !link.counted) return;
  const std::string_view text = view.text();
  if (!mayStartInside(text, start + 1, end)) return;
  const re2::StringPiece subject(text.data(), text.size());
  re2::StringPiece match;
  // A start inside the link may run on past its end ("www..tel:x", where
  // the host stops before ':').
  for (std::size_t at = start + 1; at < end && inner_->Match(subject, at, text.size(), RE2::UNANCHORED, &match, 1);) {
    const std::size_t found = static_cast<std::size_t>(match.data() - text.data());
    if (found >= end) break;
    const char before = text[found - 1];
    // "\\" after a word character or '_' does not start a path ("_\\x" is
    // defanged); after anything else it does, as in classify(): once
    // "http:" is defanged, the "\\host" of "http:\\host" is a path.
    if (text[found] != '\\' || !(isAsciiAlnum(before) || before == '_' || before == '\\')) {
      link.innerInserts.push_back(view.rawBegin(found));
    }
    at = found + std::max<std::size_t>(match.size(), 1);
  }
}

std::size_t LinkFinder::classify(const NormalizedText& view, std::size_t start, std::size_t end, LinkList& out) {
  const std::string_view text = view.text();
  const std::string_view candidate = text.substr(start, end - start);

  // "scheme:..." (the scanner only starts these at a word boundary).
  std::size_t colon = 0;
  if (isAsciiLetter(candidate[0])) {
    colon = 1;
    while (colon < candidate.size() && isSchemeChar(candidate[colon])) ++colon;
    if (colon >= candidate.size() || candidate[colon] != ':') colon = 0;
  }
  if (colon != 0) {
    // "x-http://..." reads as "x-" and a link to a client that starts links
    // at any non-word character: look for a configured scheme after a '-'
    // or '+' inside the scheme.
    std::size_t from = 0;
    bool configured = hasScheme(candidate.substr(0, colon));
    for (std::size_t i = 1; i < colon && !configured; ++i) {
      if ((candidate[i - 1] == '-' || candidate[i - 1] == '+') && isAsciiLetter(candidate[i]) &&
          hasScheme(candidate.substr(i, colon - i))) {
        from = i;
        configured = true;
      }
    }
    const std::size_t after = start + colon + 1;
    const std::string_view rest = text.substr(after);
    const bool literal = startsWithLiteral(text.substr(start + from));
    const bool hierarchical =
        rest.size() >= 2 && (rest[0] == '/' || rest[0] == '\\') && (rest[1] == '/' || rest[1] == '\\');
    // Not a link: go on right after the ':' ("view-source:http://...").
    if (!configured && !literal && !hierarchical) return after;
    // The scanner stops one character after the ':' (so that a long run of
    // "a:a:a:..." costs one pass); the link runs on over its characters.
    // ASCII characters are tested here; body_ takes over at the first
    // non-ASCII one (a run of kBody characters is a run of ASCII ones, then
    // one that body_ finds from there).
    std::size_t linkEnd = bodyAsciiEnd(text, after);
    if (linkEnd < text.size() && isHigh(text[linkEnd])) {
      const re2::StringPiece subject(text.data(), text.size());
      re2::StringPiece body;
      if (body_->Match(subject, linkEnd, text.size(), RE2::ANCHOR_START, &body, 1)) linkEnd += body.size();
    }
    std::size_t linkLength = trimmedLength(text.substr(start, linkEnd - start));
    if (configured && hasParameters(candidate.substr(from, colon - from))) {
      // "sip:alice@example.com;x=http://evil.example/": the parameters and
      // headers after the host are not where the address leads, and a
      // client may make a link of what they hold. The address ends there and
      // the scan goes on inside them. (The user part may hold ';' too: the
      // parameters start after the last '@'.)
      const std::string_view link = text.substr(start, linkLength);
      const std::size_t at = link.rfind('@');
      const std::size_t cut = link.find_first_of(";?", at == std::string_view::npos ? colon + 1 : at);
      if (cut != std::string_view::npos) linkLength = trimmedLength(link.substr(0, cut));
    }
    if (linkLength <= colon + 1) return after;
    emit(view, start + from, start + linkLength,
         configured ? LinkKind::Scheme
         : literal  ? LinkKind::Literal
                    : LinkKind::Scheme,
         configured || literal, UrlForm::Scheme, out);
    return start + linkLength;
  }

  // Not a scheme link: the candidate without trailing punctuation.
  const std::size_t length = trimmedLength(candidate);

  if (candidate.size() > 2 && candidate[0] == '\\' && candidate[1] == '\\') {
    // Like a host, a path starts a word ("_\\server" is defanged).
    const char before = start > 0 ? text[start - 1] : ' ';
    if (length <= 2 || isAsciiAlnum(before) || before == '_' || before == '\\') return end;
    emit(view, start, start + length, LinkKind::Unc, hasScheme("file") || startsWithLiteral(candidate),
         UrlForm::Authority, out);
    return start + length;
  }

  // The host (and port) part, for host prefixes and bare hosts.
  const std::string_view trimmed = candidate.substr(0, length);
  std::size_t hostEnd = 0;
  while (hostEnd < trimmed.size() && trimmed[hostEnd] != ':' && trimmed[hostEnd] != '/' && trimmed[hostEnd] != '?' &&
         trimmed[hostEnd] != '#' && trimmed[hostEnd] != '\\') {
    ++hostEnd;
  }
  const std::string_view host = trimmed.substr(0, hostEnd);

  if (startsWithLiteral(candidate)) {
    if (length == 0) return end;
    emit(view, start, start + length, LinkKind::Literal, true, UrlForm::Relative, out);
    return start + length;
  }
  // A host starts a word: it is not part of an e-mail address, a path or a
  // longer word (nor a link defanged already: "_www.example.com").
  if (start > 0) {
    const char before = text[start - 1];
    if (isAsciiAlnum(before) || before == '@' || before == '.' || before == '-' || before == '_' || before == '/' ||
        before == '\\' || before == '%') {
      return end;
    }
  }
  if (startsWithHostPrefix(candidate)) {
    // "www" alone, or "www." at the end of a sentence, is not a host.
    const std::size_t dot = host.find('.');
    if (dot == std::string_view::npos || dot + 1 >= host.size()) return start + std::max<std::size_t>(length, 1);
    emit(view, start, start + length, LinkKind::HostPrefix, true, UrlForm::BareHost, out);
    return start + length;
  }

  if (host.empty() || host.back() == '.' || host.back() == '-') return end;
  const std::size_t lastDot = host.rfind('.');
  if (lastDot == std::string_view::npos) return end;
  const std::string_view topLevel = host.substr(lastDot + 1);
  bool international = false;
  for (char c : host) international = international || isHigh(c);
  bool plausible = knownTopLevel(topLevel);
  if (!plausible && endsInNumber(host)) {
    // Only a dotted quad: "version 4.2.1/notes" is not an address.
    std::array<std::uint8_t, 4> address{};
    plausible = std::count(host.begin(), host.end(), '.') == 3 && parseIpv4(host, address);
  }
  if (!plausible && international) {
    // An international top-level label ("пример.рф").
    plausible = std::all_of(topLevel.begin(), topLevel.end(), isHigh) && topLevel.size() >= 4;
  }
  if (!plausible) return start + length;
  for (std::size_t label = 0; label < host.size() && !international;) {
    international = istartsWith(host.substr(label), "xn--");
    const std::size_t dot = host.find('.', label);
    label = dot == std::string_view::npos ? host.size() : dot + 1;
  }
  // An ASCII host with nothing after it cannot name a file: not a link
  // in the sense of `prefixes`, and nothing to check.
  if (!international && hostEnd == length) return start + length;
  emit(view, start, start + length, LinkKind::BareHost, international, UrlForm::BareHost, out);
  return start + length;
}

void LinkFinder::scanHtml(std::string_view html, LinkList& out) {
  text_.reset(html);
  std::size_t i = 0;
  while (i < html.size()) {
    const std::size_t open = html.find('<', i);
    if (open == std::string_view::npos) {
      text_.append(i, html.size(), true, false);
      break;
    }
    text_.append(i, open, true, false);
    if (html.compare(open, 4, "<!--") == 0) {
      if (istartsWith(html.substr(open + 4, 3), "[if")) {
        // An IE conditional comment ("<!--[if IE]> ... <![endif]-->"): IE,
        // and the clients that render with it (Lync, Outlook), show what it
        // holds. Only its opening "<!--[if ...]>" is markup; the closing
        // "<![endif]-->" is read as a tag.
        const std::size_t close = html.find('>', open + 4);
        const std::size_t after = close == std::string_view::npos ? html.size() : close + 1;
        text_.appendBreak(open, after);
        i = after;
        continue;
      }
      const std::size_t close = html.find("-->", open + 4);
      const std::size_t after = close == std::string_view::npos ? html.size() : close + 3;
      text_.appendBreak(open, after);
      i = after;
      continue;
    }
    const char next = open + 1 < html.size() ? html[open + 1] : '\0';
    if (!isAsciiLetter(next) && next != '/' && next != '!' && next != '?') {
      text_.append(open, open + 1, true, false);  // a literal '<'
      i = open + 1;
      continue;
    }
    if (out.overflowed()) return;  // the rest would not be looked at
    bool breaksText = true;
    const std::size_t after = parseTag(html, open, out, breaksText);
    if (breaksText) text_.appendBreak(open, after);
    i = after;
  }
  scan(text_, out);
}

std::size_t LinkFinder::parseTag(std::string_view html, std::size_t open, LinkList& out, bool& breaksText) {
  const std::size_t n = html.size();
  std::size_t p = open + 1;
  if (p < n && html[p] == '/') ++p;
  const std::size_t nameStart = p;
  while (p < n && !isHtmlSpace(html[p]) && html[p] != '>' && html[p] != '/') ++p;
  const std::string name = lower(html.substr(nameStart, p - nameStart));
  breaksText = !isInlineTag(name);
  while (p < n) {
    while (p < n && (isHtmlSpace(html[p]) || html[p] == '/')) ++p;
    if (p >= n || html[p] == '>') break;
    const std::size_t attributeStart = p;
    while (p < n && !isHtmlSpace(html[p]) && html[p] != '=' && html[p] != '>' && html[p] != '/') ++p;
    if (p == attributeStart) {
      ++p;  // a stray character such as a quote
      continue;
    }
    const std::string attributeName = lower(html.substr(attributeStart, p - attributeStart));
    while (p < n && isHtmlSpace(html[p])) ++p;
    if (p >= n || html[p] != '=') continue;
    ++p;
    while (p < n && isHtmlSpace(html[p])) ++p;
    std::size_t valueStart = p;
    std::size_t valueEnd = p;
    if (p < n && (html[p] == '"' || html[p] == '\'')) {
      const std::size_t close = html.find(html[p], p + 1);
      valueStart = p + 1;
      valueEnd = close == std::string_view::npos ? n : close;
      p = close == std::string_view::npos ? n : close + 1;
    } else {
      while (p < n && !isHtmlSpace(html[p]) && html[p] != '>') ++p;
      valueEnd = p;
    }
    if (name == "meta" && attributeName == "content") {
      metaContent(valueStart, valueEnd, out);
    } else {
      attribute(attributeName, valueStart, valueEnd, out);
    }
  }
  return p < n ? p + 1 : n;
}

void LinkFinder::metaContent(std::size_t begin, std::size_t end, LinkList& out) {
  if (begin >= end) return;
  value_.reset(text_.raw());
  value_.append(begin, end, true, true);
  // A refresh, as a browser parses it ("0;url=http://...", "5, URL='...'",
  // "0; http://..."): the URL is a link to navigate to, whatever the
  // http-equiv says (a browser compares it after decoding and trimming;
  // this does not need to). Any other content (og:url, a description) is
  // text a client may show or fetch a preview of.
  const std::string_view value = value_.text();
  std::size_t p = 0;
  while (p < value.size() && isHtmlSpace(value[p])) ++p;
  const std::size_t digits = p;
  while (p < value.size() && (isAsciiDigit(value[p]) || value[p] == '.')) ++p;
  if (p == digits) {
    scan(value_, out);
    return;
  }
  while (p < value.size() && isHtmlSpace(value[p])) ++p;
  if (p >= value.size() || (value[p] != ';' && value[p] != ',')) return;  // a reload of the page itself
  ++p;
  while (p < value.size() && isHtmlSpace(value[p])) ++p;
  if (istartsWith(value.substr(p), "url")) {
    std::size_t q = p + 3;
    while (q < value.size() && isHtmlSpace(value[q])) ++q;
    if (q < value.size() && value[q] == '=') {
      p = q + 1;
      while (p < value.size() && isHtmlSpace(value[p])) ++p;
    }
  }
  std::size_t last = value.size();
  if (p < last && (value[p] == '"' || value[p] == '\'')) {
    const std::size_t close = value.find(value[p], p + 1);
    if (close != std::string_view::npos) last = close;
    ++p;
  }
  urlValue(p, last, AttributeRole::Navigation, out);
}

void LinkFinder::attribute(std::string_view name, std::size_t begin, std::size_t end, LinkList& out) {
  const AttributeRole role = roleOf(name);
  if (role == AttributeRole::None || begin >= end) return;
  value_.reset(text_.raw());
  value_.append(begin, end, true, true);
  if (role == AttributeRole::Text) {
    scan(value_, out);
    return;
  }
  urlValue(0, value_.text().size(), role, out);
}

void LinkFinder::urlValue(std::size_t first, std::size_t last, AttributeRole role, LinkList& out) {
  // A URL parser trims spaces and control characters around the value.
  const std::string_view value = value_.text();
  while (first < last && static_cast<unsigned char>(value[first]) <= 0x20) ++first;
  while (last > first && static_cast<unsigned char>(value[last - 1]) <= 0x20) --last;
  if (first == last || value[first] == '#') return;
  const std::string_view link = value.substr(first, last - first);
  // "_http://..." (or "_page.html"): defanged already, by this plugin at an
  // earlier hop; still checked for file types.
  const bool navigation = role == AttributeRole::Navigation && link[0] != '_';

  std::size_t colon = 0;
  if (isAsciiLetter(link[0])) {
    colon = 1;
    while (colon < link.size() && (isSchemeChar(link[colon]) || link[colon] == '.')) ++colon;
    if (colon >= link.size() || link[colon] != ':') colon = 0;
  }
  if (colon != 0) {
    const bool configured = hasScheme(link.substr(0, colon));
    const bool literal = startsWithLiteral(link);
    emit(value_, first, last, configured ? LinkKind::Scheme : LinkKind::Attribute,
         configured || literal || (navigation && href_), UrlForm::Scheme, out);
    if (hasParameters(link.substr(0, colon))) {
      // "sip:alice@example.com;x=http://evil.example/": links in the
      // parameters and headers count on their own (see classify()).
      const std::size_t at = link.rfind('@');
      const std::size_t cut = link.find_first_of(";?", at == std::string_view::npos ? colon + 1 : at);
      if (cut != std::string_view::npos) scan(value_, out, first + cut, last);
    }
    return;
  }
  const bool authority = link.size() >= 2 && (link[0] == '/' || link[0] == '\\') && (link[1] == '/' || link[1] == '\\');
  const bool unc = authority && link[0] == '\\' && link[1] == '\\' && hasScheme("file");
  emit(value_, first, last, LinkKind::Attribute,
       (navigation && href_) || unc || startsWithLiteral(link) || startsWithHostPrefix(link),
       authority ? UrlForm::Authority : UrlForm::Relative, out);
}

}  // namespace sipwarden::plugins::url_filter
