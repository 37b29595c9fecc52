#include "keyword/matcher.h"

#include <algorithm>

#include "sipwarden/utf8.h"
#include "sipwarden/html_text.h"

namespace sipwarden::plugins::keyword {
namespace {

constexpr std::int64_t kMaxMemory = 64 << 20;

RE2::Options patternOptions(bool caseSensitive) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_case_sensitive(caseSensitive);
  options.set_log_errors(false);
  options.set_never_capture(true);
  return options;
}

}  // namespace

std::unique_ptr<KeywordMatcher> KeywordMatcher::build(std::vector<KeywordConfig> configs, MatcherError& error) {
  std::unique_ptr<KeywordMatcher> matcher(new KeywordMatcher());
  RE2::Options setOptions = patternOptions(true);
  setOptions.set_max_mem(kMaxMemory);
  matcher->gate_ = std::make_unique<RE2::Set>(setOptions, RE2::UNANCHORED);

  for (std::size_t l = 0; l < configs.size(); ++l) {
    KeywordConfig& config = configs[l];
    Lexicon lexicon;
    std::string alternation;
    for (std::size_t p = 0; p < config.patterns.size(); ++p) {
      const std::string& pattern = config.patterns[p];
      const std::string key = "patterns[" + std::to_string(p) + "]";
      if (pattern.empty()) {
        error = {l, key, "empty pattern"};
        return nullptr;
      }
      const RE2 alone(pattern, patternOptions(config.caseSensitive));
      if (!alone.ok()) {
        error = {l, key, "bad RE2 pattern: " + alone.error()};
        return nullptr;
      }
      if (RE2::PartialMatch("", alone)) {
        error = {l, key, "matches the empty string"};
        return nullptr;
      }
      const std::string wrapped = (config.caseSensitive ? "(?:" : "(?i:") + pattern + ")";
      std::string setError;
      if (matcher->gate_->Add(wrapped, &setError) < 0) {
        error = {l, key, "bad RE2 pattern: " + setError};
        return nullptr;
      }
      matcher->gateOwner_.push_back(l);
      alternation += (alternation.empty() ? "" : "|") + std::string("(?:") + pattern + ")";
    }
    if (!alternation.empty()) {
      RE2::Options options = patternOptions(config.caseSensitive);
      options.set_longest_match(true);
      options.set_max_mem(kMaxMemory);
      lexicon.patterns = std::make_unique<RE2>(alternation, options);
      if (!lexicon.patterns->ok()) {
        error = {l, "patterns", "cannot compile the patterns together: " + lexicon.patterns->error()};
        return nullptr;
      }
    }
    if (config.templ != Template::None) matcher->templates_.emplace_back(config.templ, l);

    lexicon.ruleTag = "keyword:" + config.name;
    lexicon.counter = config.name + "." + std::string(actionName(config.action));
    lexicon.warning = "399 sipwarden \"keyword: " + config.name + "\"";
    lexicon.maskPerCharacter = config.mask.empty() || utf8::codePoints(config.mask) == 1;
    lexicon.maskUnit = config.mask.empty() ? "*" : config.mask;
    lexicon.htmlMaskUnit = html::escape(lexicon.maskUnit);
    lexicon.config = std::move(config);
    matcher->lexicons_.push_back(std::move(lexicon));
  }
  if (matcher->gateOwner_.empty()) {
    matcher->gate_.reset();  // templates only
  } else if (!matcher->gate_->Compile()) {
    error = {0, "patterns", "too many or too large patterns for RE2 (over 64 MiB)"};
    return nullptr;
  }
  return matcher;
}

bool KeywordMatcher::mayMatch(std::string_view text) const {
  for (const auto& [kind, owner] : templates_) {
    if (templateGateMatches(kind, text)) return true;
  }
  if (!gate_) return false;
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (gate_->Match(text, nullptr, &info)) return true;
  // Should the DFA run out of memory, look closer rather than miss a match.
  return info.kind != RE2::Set::kNoError;
}

bool KeywordMatcher::candidates(std::string_view text, std::vector<char>& flags) const {
  flags.assign(lexicons_.size(), 0);
  bool any = false;
  for (const auto& [kind, owner] : templates_) {
    if (!flags[owner] && templateGateMatches(kind, text)) flags[owner] = any = true;
  }
  if (!gate_) return any;
  std::vector<int> hits;
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (!gate_->Match(text, &hits, &info)) {
    if (info.kind == RE2::Set::kNoError) return any;
    flags.assign(lexicons_.size(), 1);
    return true;
  }
  for (int hit : hits) flags[gateOwner_[static_cast<std::size_t>(hit)]] = 1;
  return true;
}

void KeywordMatcher::find(std::size_t index, std::string_view text, std::vector<Span>& out, std::size_t limit) const {
  const Lexicon& lexicon = lexicons_[index];
  const std::size_t before = out.size();
  if (lexicon.patterns) {
    const re2::StringPiece piece(text.data(), text.size());
    std::size_t pos = 0;
    while (pos < text.size() && out.size() - before < limit) {
      re2::StringPiece match;
      if (!lexicon.patterns->Match(piece, pos, text.size(), RE2::UNANCHORED, &match, 1)) break;
      std::size_t begin = static_cast<std::size_t>(match.data() - text.data());
      std::size_t end = begin + match.size();
      if (end == begin) {  // an empty match (e.g. a lone \b): not a hit
        pos = utf8::ceilBoundary(text, begin + 1);
        continue;
      }
      begin = utf8::floorBoundary(text, begin);
      end = utf8::ceilBoundary(text, end);
      out.push_back(Span{begin, end});
      pos = end;
    }
  }
  const std::size_t found = out.size() - before;
  if (lexicon.config.templ != Template::None && found < limit) {
    findTemplate(lexicon.config.templ, text, lexicon.config.caseSensitive, out, limit - found);
  }
}

}  // namespace sipwarden::plugins::keyword
