#include "keyword/keyword_config.h"

#include "keyword/utf8.h"

namespace sipwarden::keyword {
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

  if (config.has("mask")) {
    out.mask = config.getString("mask", "");
    if (config.failed()) return false;
    if (out.action != Action::Redact) {
      config.fail("mask", "only used with action redact");
    } else if (out.mask.empty() || hasControl(out.mask) || !utf8::valid(out.mask)) {
      config.fail("mask", "expected a non-empty UTF-8 string without control characters");
    }
  }

  if (config.has("reason")) {
    out.reason = config.getString("reason", "");
    if (config.failed()) return false;
    if (out.action != Action::Block) {
      config.fail("reason", "only used with action block");
    } else if (out.reason.empty() || hasControl(out.reason) || !utf8::valid(out.reason)) {
      config.fail("reason", "expected a non-empty UTF-8 reason phrase without control characters");
    }
  }
  return !config.failed();
}

}  // namespace sipwarden::keyword
