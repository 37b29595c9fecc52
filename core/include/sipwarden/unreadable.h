#pragma once
// What a content filter does with a message whose text it cannot read
// (InstantMessage::unreadableCount() > 0): the `on_unreadable` setting.
// Reading only what could be read and passing the message would let an
// unusual encoding walk past the filter, so the default is to refuse.
//
//   block  415 Unsupported Media Type, with a Warning naming the reason and
//          the Accept / Accept-Encoding the hop reads, so a client that can
//          send another form knows which.
//   flag   the message goes on; tagged "<plugin>:unreadable" (the archive
//          marks the row and the review queue can pick it up).
//   pass   the message goes on; only counted.
// In every mode the counter "unreadable" goes up and what could be read is
// still checked by the caller (a flagged message with a link is blocked).

#include <optional>
#include <string>
#include <string_view>

#include "sipwarden/filter.h"
#include "sipwarden/plugin.h"

namespace sipwarden {

enum class OnUnreadable { Block, Flag, Pass };

// Called from a plugin's create(): reads the block's `on_unreadable`. When
// the block does not set it, the chain-wide top-level `on_unreadable`
// applies (the core hands it to every block), then `fallback`.
inline OnUnreadable onUnreadableSetting(PluginConfig& config, OnUnreadable fallback = OnUnreadable::Block) {
  const char* fallbackName = fallback == OnUnreadable::Block ? "block" : fallback == OnUnreadable::Flag ? "flag" : "pass";
  const std::string value = config.getChoice("on_unreadable", {"block", "flag", "pass"}, fallbackName);
  if (value == "flag") return OnUnreadable::Flag;
  if (value == "pass") return OnUnreadable::Pass;
  return OnUnreadable::Block;
}

// The media types and encodings the body reader undoes, for 415's Accept.
inline constexpr std::string_view kReadableMediaTypes =
    "text/plain, text/html, application/xhtml+xml, text/enriched, text/rtf, message/cpim, multipart/mixed, "
    "multipart/alternative, multipart/related";
inline constexpr std::string_view kReadableContentEncodings = "gzip, deflate, identity";

// Called from onRequest once the message is known to be present(): nullopt
// when everything could be read or `setting` lets the message go on (after
// counting, and tagging for flag); otherwise the 415 to return.
inline std::optional<Verdict> unreadableVerdict(Exchange& exchange, OnUnreadable setting, std::string_view plugin) {
  const InstantMessage& message = exchange.instantMessage();
  if (message.unreadableCount() == 0) return std::nullopt;
  exchange.count("unreadable");
  if (setting == OnUnreadable::Pass) return std::nullopt;
  if (setting == OnUnreadable::Flag) {
    exchange.tag("rule", std::string(plugin) + ":unreadable");
    return std::nullopt;
  }
  // The reason is the reader's ASCII; quotes and backslashes would end the
  // Warning's quoted text early.
  std::string reason(message.unreadableReason(0));
  for (char& c : reason) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '\'';
  }
  exchange.tag("rule", std::string(plugin) + ":unreadable");
  return Verdict::reply(415, "Unsupported Media Type",
                        {{"Warning", "399 sipwarden \"" + std::string(plugin) + ": unreadable content: " + reason + "\""},
                         {"Accept", std::string(kReadableMediaTypes)},
                         {"Accept-Encoding", std::string(kReadableContentEncodings)}});
}

}  // namespace sipwarden
