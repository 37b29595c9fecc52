#pragma once
// The compiled form of one or more lexicons. Everything is compiled once,
// when the chain is built:
//   - one RE2::Set over every pattern of every lexicon (each wrapped with
//     its lexicon's case flag): one DFA pass per text part tells whether
//     anything can match at all, and allocates nothing when nothing does;
//   - the gate of each template (templateGate) is tested without RE2
//     (templateGateMatches: a vector scan for digits, then a look at each),
//     which costs a fraction of a DFA pass over the text;
//   - per lexicon, one RE2 alternation of its patterns (leftmost-longest),
//     used only after the gate fired to find where the matches are.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <re2/re2.h>
#include <re2/set.h>

#include "keyword/keyword_config.h"
#include "keyword/templates.h"

namespace sipwarden::plugins::keyword {

struct Lexicon {
  KeywordConfig config;
  std::unique_ptr<RE2> patterns;  // null when the lexicon is only a template
  // Precomputed for the hot path.
  std::string ruleTag;      // "keyword:<name>"
  std::string counter;      // "<name>.<action>"
  std::string warning;      // 399 sipwarden "keyword: <name>"
  std::string maskUnit;     // what replaces one character (or the whole match)
  std::string htmlMaskUnit; // the same, escaped for HTML parts
  bool maskPerCharacter = true;
};

// A problem with one lexicon's patterns: `key` is relative to the lexicon
// ("patterns[1]"), `lexicon` its index.
struct MatcherError {
  std::size_t lexicon = 0;
  std::string key;
  std::string message;
};

class KeywordMatcher {
 public:
  // Null (with `error` filled in) when a pattern does not compile.
  static std::unique_ptr<KeywordMatcher> build(std::vector<KeywordConfig> lexicons, MatcherError& error);

  std::size_t size() const { return lexicons_.size(); }
  const Lexicon& lexicon(std::size_t index) const { return lexicons_[index]; }

  // One pass: false when no lexicon can match anywhere in `text`.
  bool mayMatch(std::string_view text) const;
  // Which lexicons may match `text` (flags[i] set to 1); false when none.
  bool candidates(std::string_view text, std::vector<char>& flags) const;
  // Appends the matches of lexicon `index` in `text` (whole UTF-8
  // characters, non-empty, left to right), at most `limit` of them. Time:
  // linear in the text: each RE2 search starts where the last match ended
  // (a DFA pass forward, then back over the match), then the template's
  // scan.
  void find(std::size_t index, std::string_view text, std::vector<Span>& out, std::size_t limit) const;

 private:
  KeywordMatcher() = default;

  std::vector<Lexicon> lexicons_;
  std::unique_ptr<RE2::Set> gate_;      // null when no lexicon has patterns
  std::vector<std::size_t> gateOwner_;  // set index -> lexicon
  std::vector<std::pair<Template, std::size_t>> templates_;  // gate -> lexicon
};

}  // namespace sipwarden::plugins::keyword
