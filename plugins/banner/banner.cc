// banner: inserts a notice into instant messages. See docs/plugins/banner.md.
//
//   "text":             the notice (required, UTF-8)
//   "position":         start (default) | end
//   "frequency":        every_message (default) | once_per_conversation
//   "scope":            all (default) | external_sender | external_recipient | internal
//   "internal_domains": list of domains (subdomains included); needed unless scope is all
//   "marker":           value of X-Sipwarden-Banner (default "sipwarden-banner")
//   "conversation_idle_seconds", "max_conversations": the conversation memory
//   "max_body_bytes":   text over this is not bannered: the fail_mode decides
//                       (default 1 MiB)
//
// Every text part of the message gets the notice (plain text as is, HTML
// escaped); the core keeps the wire form (CPIM, multipart, ms-body base64)
// and fixes Content-Length. The message is then marked with
// `X-Sipwarden-Banner: <marker>`, and a message that already carries the
// marker is left alone, so a second sipwarden hop does not banner twice.
#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "banner/banner_text.h"
#include "sipwarden/filter_from_config.h"
#include "sipwarden/plugin.h"
#include "sipwarden/utf8.h"

namespace sipwarden::plugins::banner {
namespace {

constexpr std::string_view kMarkerHeader = "X-Sipwarden-Banner";
// The largest message the transport can be set to accept (max_message_size),
// so that by default no message that arrives is too large to be bannered.
constexpr std::int64_t kDefaultMaxBodyBytes = 1 << 20;

enum class Scope { All, ExternalSender, ExternalRecipient, Internal };

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
}

bool sameMarker(std::string_view a, std::string_view b) {
  while (!a.empty() && (a.front() == ' ' || a.front() == '\t')) a.remove_prefix(1);
  while (!a.empty() && (a.back() == ' ' || a.back() == '\t')) a.remove_suffix(1);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

class Banner final : public Filter {
 public:
  explicit Banner(PluginConfig& config)
      : memory_(std::chrono::seconds(1800), 100000) {
    if (!config.has("text")) config.fail("text", "the notice text is required");
    text_ = config.getString("text", "");
    if (config.has("text") && text_.empty()) config.fail("text", "expected a non-empty notice");
    if (!utf8::isValid(text_)) config.fail("text", "expected UTF-8 text");
    textHtml_ = noticeAsHtml(text_);

    position_ = config.getChoice("position", {"start", "end"}, "start") == "end" ? Position::End
                                                                                   : Position::Start;
    once_ = config.getChoice("frequency", {"every_message", "once_per_conversation"}, "every_message") ==
            "once_per_conversation";
    const std::string scope =
        config.getChoice("scope", {"all", "external_sender", "external_recipient", "internal"}, "all");
    scope_ = scope == "external_sender"      ? Scope::ExternalSender
             : scope == "external_recipient" ? Scope::ExternalRecipient
             : scope == "internal"           ? Scope::Internal
                                             : Scope::All;
    const auto domains = config.getStrings("internal_domains", {});
    for (std::size_t i = 0; i < domains.size(); ++i) {
      std::string domain;
      for (char c : domains[i]) domain.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      if (domain.starts_with("*.")) domain.erase(0, 2);
      if (domain.starts_with(".")) domain.erase(0, 1);
      if (domain.ends_with(".")) domain.pop_back();
      const bool valid = !domain.empty() && domain.find_first_of(" \t@/:;,\"<>") == std::string::npos;
      if (!valid) {
        config.fail("internal_domains[" + std::to_string(i) + "]", "expected a domain name such as example.com");
        break;
      }
      domains_.push_back(std::move(domain));
    }
    if (scope_ != Scope::All && domains_.empty() && !config.failed()) {
      config.fail("internal_domains", "required when scope is " + scope);
    }

    marker_ = config.getString("marker", "sipwarden-banner");
    bool token = !marker_.empty();
    for (char c : marker_) token = token && isTokenChar(c);
    if (!token) config.fail("marker", "expected a token (letters, digits and -.!%*_+`'~)");

    const auto idle = config.getInteger("conversation_idle_seconds", 1800, 1, 7 * 24 * 3600);
    const auto capacity = config.getInteger("max_conversations", 100000, 1, 10000000);
    memory_ = ConversationMemory(std::chrono::seconds(idle), static_cast<std::size_t>(capacity));
    maxBodyBytes_ = static_cast<std::size_t>(config.getInteger("max_body_bytes", kDefaultMaxBodyBytes, 1, 1 << 30));
  }

  MethodSet methods() const override { return MethodSet(MethodSet::Message | MethodSet::Invite); }

  Verdict onRequest(Exchange& exchange) override {
    const MessageView& message = exchange.message();
    if (!inScope(message)) return Verdict::proceed();
    if (message.header(kMarkerHeader).has_value()) {
      for (const auto& value : message.headers(kMarkerHeader)) {
        std::string_view rest = value;
        while (true) {
          const std::size_t comma = rest.find(',');
          if (sameMarker(rest.substr(0, comma), marker_)) {
            exchange.count("skipped.marker");
            return Verdict::proceed();
          }
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
      }
    }

    std::string key;
    const auto now = exchange.now();
    if (once_) {
      key = conversationKey(exchange);
      if (memory_.seen(key, now) || seenThroughInvite(exchange, now, key)) {
        exchange.count("skipped.conversation");
        return Verdict::proceed();
      }
    }

    InstantMessage& im = exchange.instantMessage();
    if (!im.present()) return Verdict::proceed();
    if (auto over = textOverLimit(exchange, maxBodyBytes_)) return std::move(*over);
    // Each part is copied once with the notice spliced in: linear in the text.
    // Parts that cannot take an edit (RTF, an image-only message) are left
    // as they are; with none that can, the conversation's next message
    // carries the notice.
    std::size_t bannered = 0;
    for (std::size_t part = 0; part < im.partCount(); ++part) {
      if (!im.partEditable(part)) continue;
      ++bannered;
      const std::string_view text = im.partText(part);
      if (im.partType(part) == "text/html") {
        im.setPartText(part, insertHtml(text, textHtml_, position_));
      } else {
        im.setPartText(part, insertPlain(text, text_, position_));
      }
    }
    if (bannered == 0) {
      exchange.count("skipped.not_editable");
      return Verdict::proceed();
    }
    exchange.edits().addHeader(kMarkerHeader, marker_);
    exchange.count("bannered");
    if (once_) {
      memory_.remember(key, now);
      exchange.state()["conversation"] = key;
    }
    return Verdict::proceed();
  }

  void onEnd(Exchange& exchange, int finalCode) override {
    if (!once_ || (finalCode >= 200 && finalCode < 300)) return;
    // The bannered message never arrived: the next one carries the notice.
    auto& state = exchange.state();
    auto found = state.find("conversation");
    if (found != state.end()) memory_.forget(found->second);
  }

 private:
  bool inScope(const MessageView& message) const {
    switch (scope_) {
      case Scope::All: return true;
      case Scope::ExternalSender: return !domainMatches(message.from().host, domains_);
      case Scope::ExternalRecipient: return !domainMatches(message.to().host, domains_);
      case Scope::Internal:
        return domainMatches(message.from().host, domains_) &&
               domainMatches(message.to().host, domains_);
    }
    return true;
  }

  // Each recipient sees the notice once per conversation: the dialog for
  // in-dialog requests, the INVITE's Call-ID and From tag for a session
  // INVITE with its embedded first message, else the sender/recipient pair.
  static std::string conversationKey(Exchange& exchange) {
    const MessageView& message = exchange.message();
    const std::string recipient = ">" + message.to().aor();
    if (!message.to().tag.empty()) return "d:" + exchange.dialogId() + recipient;
    if (message.method() == "INVITE") {
      return "i:" + std::string(message.callId()) + ";" + message.from().tag + recipient;
    }
    return "p:" + message.from().aor() + recipient;
  }

  // An in-dialog message whose session INVITE already carried the notice to
  // this recipient (the first message of a Lync conversation).
  bool seenThroughInvite(Exchange& exchange, ConversationMemory::TimePoint now,
                         const std::string& key) {
    const MessageView& message = exchange.message();
    if (message.to().tag.empty()) return false;
    const std::string recipient = ">" + message.to().aor();
    for (const std::string* tag : {&message.from().tag, &message.to().tag}) {
      if (tag->empty()) continue;
      if (memory_.seen("i:" + std::string(message.callId()) + ";" + *tag + recipient, now)) {
        memory_.remember(key, now);
        return true;
      }
    }
    return false;
  }

  std::string text_;
  std::string textHtml_;
  Position position_ = Position::Start;
  bool once_ = false;
  Scope scope_ = Scope::All;
  std::vector<std::string> domains_;
  std::string marker_;
  ConversationMemory memory_;
  std::size_t maxBodyBytes_ = 0;
};

}  // namespace
}  // namespace sipwarden::plugins::banner

SIPWARDEN_PLUGIN(banner, "banner", "1.0", &filterFromConfig<banner::Banner>)
