#pragma once
// The text a person reads in an HTML part, with a map back to the markup:
// tags are dropped (block tags such as <br>, <p>, <div>, <li> become a line
// break so words on separate lines do not run together), comments skipped,
// character references decoded. Each byte of the text knows the range of
// HTML it came from, so a redaction rewrites only text and character
// references and never a tag. The buffers are reused: after the first few
// messages, loading allocates nothing.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::plugins::keyword {

class ReadingText {
 public:
  // Rebuilds from `html`; with `withMap`, also the map back to it.
  std::string_view load(std::string_view html, bool withMap);
  std::string_view text() const { return text_; }

  // For a byte of text(): the HTML range it came from; a line break that
  // stands for a tag is synthetic and maps to no text.
  bool synthetic(std::size_t at) const { return begin_[at] == kSynthetic; }
  std::size_t htmlBegin(std::size_t at) const { return begin_[at]; }
  std::size_t htmlEnd(std::size_t at) const { return end_[at]; }

 private:
  static constexpr std::uint32_t kSynthetic = 0xFFFFFFFFu;
  void emit(char c, std::size_t begin, std::size_t end, bool withMap);

  std::string text_;
  std::vector<std::uint32_t> begin_;
  std::vector<std::uint32_t> end_;
};

}  // namespace sipwarden::plugins::keyword
