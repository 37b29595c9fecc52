// keyword: DLP lexicons over instant-message text (docs/plugins/keyword.md).
// Each lexicon is a set of RE2 patterns and/or a built-in template (payment
// card, IBAN, US SSN, checksum-validated) with an action: block (403 with a
// Warning naming the lexicon), redact (each match masked in every text
// part) or flag (delivered unchanged, tagged).
//
// The common case is a message that matches nothing: one RE2::Set pass per
// text part says so, with no allocation in this plugin.
//
// Text over `max_body_bytes` is not read, and a message with more than
// `max_matches` matches to redact is not redacted: unless a block lexicon
// already fired, the plugin then applies its fail_mode.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "keyword/keyword_config.h"
#include "keyword/matcher.h"
#include "keyword/reading_text.h"
#include "sipwarden/plugin.h"
#include "sipwarden/unreadable.h"
#include "sipwarden/utf8.h"

namespace sipwarden::plugins::keyword {
namespace {

// A match to redact, in the coordinates of the text that was searched.
struct Redaction {
  std::size_t begin;
  std::size_t end;
  std::size_t lexicon;
};

void appendMask(std::string& out, const Lexicon& lexicon, bool html, std::size_t characters) {
  const std::string& unit = html ? lexicon.htmlMaskUnit : lexicon.maskUnit;
  if (!lexicon.maskPerCharacter) {
    out += unit;
    return;
  }
  for (std::size_t i = 0; i < characters; ++i) out += unit;
}

// Sorts and merges overlapping redactions (the earlier one's mask wins).
void mergeRedactions(std::vector<Redaction>& redactions) {
  std::sort(redactions.begin(), redactions.end(),
            [](const Redaction& a, const Redaction& b) { return a.begin < b.begin || (a.begin == b.begin && a.end > b.end); });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < redactions.size(); ++i) {
    if (kept > 0 && redactions[i].begin < redactions[kept - 1].end) {
      redactions[kept - 1].end = std::max(redactions[kept - 1].end, redactions[i].end);
    } else {
      redactions[kept++] = redactions[i];
    }
  }
  redactions.resize(kept);
}

std::string redactPlain(std::string_view text, const std::vector<Redaction>& redactions,
                        const KeywordMatcher& matcher) {
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t at = 0;
  for (const auto& redaction : redactions) {
    out.append(text.substr(at, redaction.begin - at));
    appendMask(out, matcher.lexicon(redaction.lexicon), false,
               utf8::codePoints(text.substr(redaction.begin, redaction.end - redaction.begin)));
    at = redaction.end;
  }
  out.append(text.substr(at));
  return out;
}

// Redacts matches found in the reading text of an HTML part: the HTML of
// each matched character (text bytes or a character reference) is replaced
// by the escaped mask; tags inside or around the match stay as they are. A
// character whose bytes are split by markup (invalid, but possible) gets
// the mask on its first piece and loses the others.
std::string redactHtml(std::string_view html, const ReadingText& reading, const std::vector<Redaction>& redactions,
                       const KeywordMatcher& matcher) {
  const std::string_view text = reading.text();
  std::string out;
  out.reserve(html.size() + 16);
  std::size_t at = 0;  // next HTML byte to copy
  for (const auto& redaction : redactions) {
    const Lexicon& lexicon = matcher.lexicon(redaction.lexicon);
    bool maskPlaced = false;
    std::size_t i = redaction.begin;
    while (i < redaction.end) {
      const std::size_t next = utf8::ceilBoundary(text, i + 1);
      bool characterPlaced = false;
      for (std::size_t k = i; k < next;) {
        if (reading.synthetic(k)) {  // a line break standing for a tag
          ++k;
          continue;
        }
        const std::size_t pieceBegin = reading.htmlBegin(k);
        std::size_t pieceEnd = reading.htmlEnd(k);
        std::size_t m = k + 1;
        while (m < next && !reading.synthetic(m) &&
               (reading.htmlBegin(m) == pieceEnd || reading.htmlBegin(m) == pieceBegin)) {
          pieceEnd = std::max(pieceEnd, reading.htmlEnd(m));
          ++m;
        }
        if (pieceBegin >= at) {
          out.append(html.substr(at, pieceBegin - at));
          if (!characterPlaced && (lexicon.maskPerCharacter || !maskPlaced)) appendMask(out, lexicon, true, 1);
          characterPlaced = maskPlaced = true;
          at = pieceEnd;
        }
        k = m;
      }
      i = next;
    }
  }
  out.append(html.substr(at));
  return out;
}

// The largest message the transport can be set to accept (max_message_size),
// so that by default no message that arrives is too large to be read.
constexpr std::int64_t kDefaultMaxBodyBytes = 1 << 20;

struct Limits {
  std::size_t maxBodyBytes;
  std::size_t maxMatches;  // redactions per message
  OnUnreadable onUnreadable;
};

class KeywordFilter final : public Filter {
 public:
  KeywordFilter(std::unique_ptr<KeywordMatcher> matcher, Limits limits)
      : matcher_(std::move(matcher)), limits_(limits) {}

  MethodSet methods() const override { return MethodSet(MethodSet::Message | MethodSet::Invite); }

  Verdict onRequest(Exchange& exchange) override {
    InstantMessage& im = exchange.instantMessage();
    if (!im.present()) return Verdict::proceed();
    if (auto refused = unreadableVerdict(exchange, limits_.onUnreadable, "keyword")) return std::move(*refused);
    if (auto over = textOverLimit(exchange, limits_.maxBodyBytes)) return std::move(*over);
    const std::size_t parts = im.partCount();
    for (std::size_t part = 0; part < parts; ++part) {
      if (!matcher_->mayMatch(searchText(im, part, false))) continue;
      try {
        return inspect(exchange, im);
      } catch (const std::exception& error) {  // bad_alloc: let the fail mode decide
        return Verdict::error(std::string("keyword: ") + error.what());
      }
    }
    return Verdict::proceed();
  }

 private:
  static bool isHtml(const InstantMessage& im, std::size_t part) { return im.partType(part) == "text/html"; }

  // What a person reads: the part's text, or for HTML its reading text.
  std::string_view searchText(const InstantMessage& im, std::size_t part, bool withMap) {
    return isHtml(im, part) ? reading_.load(im.partText(part), withMap) : im.partText(part);
  }

  // The slow path: something may match. Finds which lexicons fire, applies
  // the strongest action, tags and counts every lexicon that fired.
  Verdict inspect(Exchange& exchange, InstantMessage& im) {
    const std::size_t lexicons = matcher_->size();
    std::vector<char> fired(lexicons, 0);
    std::vector<char> candidates;
    std::vector<Span> spans;
    std::vector<Redaction> redactions;
    std::vector<std::pair<std::size_t, std::string>> rewrites;
    // Redactions are looked for up to max_matches; one more means the
    // message holds more, and the search for them stops there (block and
    // flag lexicons, one match each, are still looked for).
    std::size_t matches = 0;
    bool overLimit = false;
    std::string_view uneditable;  // the media type of a part that needed a redaction it cannot take
    for (std::size_t part = 0; part < im.partCount(); ++part) {
      const bool html = isHtml(im, part);
      const std::string_view text = searchText(im, part, true);
      if (!matcher_->candidates(text, candidates)) continue;
      redactions.clear();
      for (std::size_t l = 0; l < lexicons; ++l) {
        const Action action = matcher_->lexicon(l).config.action;
        if (!candidates[l] || (action != Action::Redact && fired[l]) || (action == Action::Redact && overLimit)) {
          continue;
        }
        spans.clear();
        const std::size_t wanted = action == Action::Redact ? limits_.maxMatches - matches + 1 : 1;
        matcher_->find(l, text, spans, wanted);
        if (spans.empty()) continue;
        fired[l] = 1;
        if (action != Action::Redact) continue;
        if (spans.size() == wanted) {
          overLimit = true;
          continue;
        }
        matches += spans.size();
        for (const Span& span : spans) redactions.push_back(Redaction{span.begin, span.end, l});
      }
      if (redactions.empty()) continue;
      if (!im.partEditable(part)) {
        // RTF, text/enriched, text in an encoded container: a redaction
        // cannot be written back, and passing the match would leak it.
        uneditable = im.partMediaType(part);
        continue;
      }
      mergeRedactions(redactions);
      rewrites.emplace_back(part, html ? redactHtml(im.partText(part), reading_, redactions, *matcher_)
                                       : redactPlain(text, redactions, *matcher_));
    }

    const Lexicon* blocker = nullptr;
    for (std::size_t l = 0; l < lexicons; ++l) {
      if (!fired[l]) continue;
      const Lexicon& lexicon = matcher_->lexicon(l);
      exchange.tag("rule", lexicon.ruleTag);
      if (lexicon.config.action == Action::Flag) exchange.tag("flag", lexicon.config.name);
      exchange.count(lexicon.counter);
      if (lexicon.config.action == Action::Block && blocker == nullptr) blocker = &lexicon;
    }
    if (blocker != nullptr) {
      return Verdict::reply(403, blocker->config.reason, {{"Warning", blocker->warning}});
    }
    if (!uneditable.empty()) {
      exchange.count("blocked.unredactable");
      return Verdict::reply(403, "Forbidden",
                            {{"Warning", "399 sipwarden \"keyword: a match to redact in content that cannot be rewritten (" +
                                             std::string(uneditable) + ")\""}});
    }
    if (overLimit) {
      // Not every match could be redacted: the fail mode decides.
      exchange.count("over_limit.matches");
      return Verdict::error("more than max_matches (" + std::to_string(limits_.maxMatches) + ") matches to redact");
    }
    for (auto& [part, text] : rewrites) im.setPartText(part, text);
    return Verdict::proceed();
  }

  std::unique_ptr<KeywordMatcher> matcher_;
  const Limits limits_;
  // Scratch for HTML parts; filters run on the SIP worker thread only.
  ReadingText reading_;
};

// One lexicon in the block itself, or several under "lexicons": one pass
// over the text serves them all.
std::unique_ptr<Filter> create(PluginConfig& config) {
  std::vector<KeywordConfig> lexicons;
  if (config.has("lexicons")) {
    for (PluginConfig* block : config.getObjects("lexicons")) {
      KeywordConfig lexicon;
      if (!readKeywordConfig(*block, lexicon)) return nullptr;
      for (const auto& earlier : lexicons) {
        if (earlier.name == lexicon.name) block->fail("name", "another lexicon of this block is named " + lexicon.name);
      }
      lexicons.push_back(std::move(lexicon));
    }
    if (lexicons.empty() && !config.failed()) config.fail("lexicons", "expected at least one lexicon");
    if (config.failed()) return nullptr;
  } else {
    KeywordConfig lexicon;
    if (!readKeywordConfig(config, lexicon)) return nullptr;
    lexicons.push_back(std::move(lexicon));
  }
  const bool nested = config.has("lexicons");
  const Limits limits{
      static_cast<std::size_t>(config.getInteger("max_body_bytes", kDefaultMaxBodyBytes, 1, 1 << 30)),
      static_cast<std::size_t>(config.getInteger("max_matches", 1000, 1, 1000000)),
      onUnreadableSetting(config)};
  if (config.failed()) return nullptr;
  MatcherError error;
  auto matcher = KeywordMatcher::build(std::move(lexicons), error);
  if (!matcher) {
    config.fail(nested ? "lexicons[" + std::to_string(error.lexicon) + "]." + error.key : error.key, error.message);
    return nullptr;
  }
  return std::make_unique<KeywordFilter>(std::move(matcher), limits);
}

}  // namespace
}  // namespace sipwarden::plugins::keyword

SIPWARDEN_PLUGIN(keyword, "keyword", "1.0", &sipwarden::plugins::keyword::create)
