#pragma once
// The pieces of the banner plugin that do not need a SIP message: inserting
// the notice into plain text and HTML, domain matching, and the bounded
// memory of conversations that already saw the notice.

#include <chrono>
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sipwarden::plugins::banner {

enum class Position { Start, End };

// `notice` before (Start) or after (End) `text`, separated by one line
// break in the text's own style (CRLF unless the text uses bare LF). A
// leading byte-order mark stays first; no separator is added next to an
// existing trailing line break or to an empty text.
std::string insertPlain(std::string_view text, std::string_view notice, Position position);

// `noticeHtml` (already escaped) right after the opening <body ...> tag, else
// at the very start (Start); before </body>, else at the end (End). A <br/>
// separates it from the message.
std::string insertHtml(std::string_view html, std::string_view noticeHtml, Position position);

// The notice as HTML: escaped, line breaks as <br/>.
std::string noticeAsHtml(std::string_view notice);

// True when `host` is one of `domains` (lower-case, no trailing dot) or a
// subdomain of one.
bool domainMatches(std::string_view host, const std::vector<std::string>& domains);

// Conversations that already got the notice: a least-recently-used map with
// idle expiry and a size bound. Single-threaded (the filter's thread).
class ConversationMemory {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  ConversationMemory(std::chrono::seconds idle, std::size_t capacity) : idle_(idle), capacity_(capacity) {}

  // True (and the entry refreshed) when `key` was remembered and has not
  // been idle longer than the limit.
  bool seen(std::string_view key, TimePoint now);
  void remember(std::string_view key, TimePoint now);
  void forget(std::string_view key);
  std::size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string key;
    TimePoint last;
  };
  void expire(TimePoint now);

  std::chrono::seconds idle_;
  std::size_t capacity_;
  std::list<Entry> recent_;  // front: most recently used
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // keys point into recent_
};

}  // namespace sipwarden::plugins::banner
