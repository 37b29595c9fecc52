#include "keyword/keyword_config.h"

#include "sipwarden/utf8.h"

namespace sipwarden::plugins::keyword {
namespace {

bool hasControl(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

bool validName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Reads `key`, a text only action `usedBy` takes (a mask, a reason), into
// `out` when the block gives it; false when reading it failed outright.
bool readActionText(PluginConfig& config, std::string_view key, Action usedBy, Action action,
                    std::string_view expected, std::string& out) {
  if (!config.has(key)) return true;
  out = config.getString(key, "");
  if (config.failed()) return false;
  if (action != usedBy) {
    config.fail(key, "only used with action " + std::string(actionName(usedBy)));
  } else if (out.empty() || hasControl(out) || !utf8::isValid(out)) {
    config.fail(key, "expected " + std::string(expected) + " without control characters");
  }
  return true;
}

}  // namespace

std::string_view actionName(Action action) {
  switch (action) {
    case Action::Block: return "block";
    case Action::Redact: return "redact";
    case Action::Flag: return "flag";
  }
  return "flag";
}

bool readKeywordConfig(PluginConfig& config, KeywordConfig& out) {
  if (config.has("lexicons")) {
    config.fail("lexicons", "a lexicon cannot hold lexicons");
    return false;
  }

  if (!config.has("name")) {
    config.fail("name", "required: the lexicon's name");
  } else {
    out.name = config.getString("name", "");
    if (!config.failed() && !validName(out.name)) config.fail("name", "expected 1 to 64 letters, digits, '_' or '-'");
  }

  const std::string action = config.getChoice("action", {"block", "redact", "flag"}, "");
  out.action = action == "block" ? Action::Block : action == "redact" ? Action::Redact : Action::Flag;

  out.patterns = config.getStrings("patterns", {});

  if (config.has("template")) {
    const std::string templ = config.getChoice("template", {"payment_card", "iban", "us_ssn"}, "");
    out.templ = templ == "payment_card" ? Template::PaymentCard
                : templ == "iban"       ? Template::Iban
                : templ == "us_ssn"     ? Template::UsSsn
                                        : Template::None;
  }
  if (!config.failed() && out.patterns.empty() && out.templ == Template::None) {
    config.fail("patterns", "expected at least one pattern, or a template");
  }

  out.caseSensitive = config.getBool("case_sensitive", false);

  if (!readActionText(config, "mask", Action::Redact, out.action, "a non-empty UTF-8 string", out.mask)) return false;
  if (!readActionText(config, "reason", Action::Block, out.action, "a non-empty UTF-8 reason phrase", out.reason)) {
    return false;
  }
  return !config.failed();
}

}  // namespace sipwarden::plugins::keyword
