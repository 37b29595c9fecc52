#pragma once
// A multipart delimiter ("--" and the boundary) found in time linear in the
// text and the delimiter (Knuth-Morris-Pratt), for the core's IM body reader
// and for plugins that read MIME themselves. std::string_view::find compares
// the whole delimiter wherever its first byte occurs, so a long boundary
// that the body almost repeats would cost the body's length times the
// boundary's (and std::boyer_moore_searcher's set-up is quadratic in the
// boundary). Header-only, like the rest of the SDK's helpers.

#include <cstdint>
#include <string_view>
#include <vector>

namespace sipwarden {

class DelimiterSearch {
 public:
  // `delimiter` must outlive the search and must not be empty.
  explicit DelimiterSearch(std::string_view delimiter) : delimiter_(delimiter), border_(delimiter.size() + 1, 0) {
    // border_[k]: the length of the longest proper prefix of delimiter[0, k)
    // that is also its suffix, where a partial match resumes on a mismatch.
    std::uint32_t border = 0;
    for (std::size_t k = 1; k < delimiter_.size(); ++k) {
      while (border > 0 && delimiter_[k] != delimiter_[border]) border = border_[border];
      if (delimiter_[k] == delimiter_[border]) ++border;
      border_[k + 1] = border;
    }
  }

  // The first occurrence at or after `from`, or npos.
  std::size_t find(std::string_view text, std::size_t from) const {
    std::size_t matched = 0;
    for (std::size_t i = from; i < text.size(); ++i) {
      if (matched == 0) {
        i = text.find(delimiter_[0], i);  // memchr to the next candidate start
        if (i == std::string_view::npos) return std::string_view::npos;
      }
      while (matched > 0 && text[i] != delimiter_[matched]) matched = border_[matched];
      if (text[i] == delimiter_[matched]) ++matched;
      if (matched == delimiter_.size()) return i + 1 - matched;
    }
    return std::string_view::npos;
  }

 private:
  std::string_view delimiter_;
  std::vector<std::uint32_t> border_;
};

}  // namespace sipwarden
