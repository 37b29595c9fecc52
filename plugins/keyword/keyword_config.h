#pragma once
// One DLP lexicon as plain C++ (no SDK types), and how it is read from a
// plugin config block: either the block itself ({"plugin": "keyword",
// "name": "cards", "action": "redact", ...}) or each element of its
// "lexicons" list, which one matcher then serves in a single pass.

#include <string>
#include <vector>

#include "keyword/templates.h"
#include "sipwarden/plugin.h"

namespace sipwarden::plugins::keyword {

enum class Action { Block, Redact, Flag };

struct KeywordConfig {
  std::string name;                   // tags, counters and the Warning
  Action action = Action::Flag;
  std::vector<std::string> patterns;  // RE2 syntax
  Template templ = Template::None;    // a built-in, checksum-validated pattern
  bool caseSensitive = false;
  std::string mask;                   // redact: empty means one '*' per character
  std::string reason = "Forbidden";   // block: the reply's reason phrase
};

std::string_view actionName(Action action);

// Reads the lexicon's keys from `config` into `out`, recording the first
// problem through config.fail() (so it carries the block's path). Checks
// everything but the patterns themselves (compiled by KeywordMatcher).
// Returns !config.failed().
bool readKeywordConfig(PluginConfig& config, KeywordConfig& out);

}  // namespace sipwarden::plugins::keyword
