// file_filter: blocks file-transfer offers by extension, like the OCS 2007
// IIMF File Transfer Filter. See docs/plugins/file_filter.md.
//
//   "action":         block_list (default) | block_all | off
//   "extensions":     list of extensions (".exe" or "exe"); default the Lync list
//   "max_body_bytes": offers (SDP, Lync XML, ... entities, decoded) larger
//                     than this in all are not read (default 1 MiB)
//   "max_offers":     offers examined per message (default 100)
//   "on_unreadable":  block (default) | flag | pass: a body the SDK could not
//                     read (nested too deep, broken encoding, bomb) may hide
//                     an offer (sipwarden/unreadable.h); under action off it
//                     is flagged at most
// Past either limit the plugin applies its fail_mode, unless what it did
// read already refuses the message.
//
// A blocked INVITE is answered 488, a blocked MESSAGE 403, each with
// `Warning: 399 sipwarden "file_filter: ..."`. Every offer is tagged
// (file, file_size) for the call-log archive and counted.
//
// An offer whose name cannot be read unambiguously (FileOffer::
// unreadable) is refused whenever a block list is in force (block_list with
// at least one extension): the plugin cannot know which name the receiver
// will use. Otherwise it is flagged (rule file_filter:unreadable-name).
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/file_extensions.h"
#include "file_filter/file_names.h"
#include "file_filter/file_offers.h"
#include "sipwarden/filter_from_config.h"
#include "sipwarden/plugin.h"
#include "sipwarden/text.h"
#include "sipwarden/unreadable.h"

namespace sipwarden::plugins::file_filter {
namespace {

enum class Action { BlockList, BlockAll, Off };

// The most of a sender's file name a log line shows.
constexpr std::size_t kLoggedNameBytes = 200;

// An extension as configured, checked and normalised (".exe"); empty when
// it is not one.
std::string normalisedExtension(std::string_view configured) {
  if (configured.starts_with("*")) configured.remove_prefix(1);
  std::string value = text::lower(configured);
  if (!value.empty() && value[0] != '.') value.insert(0, ".");
  if (value.size() < 2) return "";
  for (std::size_t i = 1; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c <= 0x20 || c == 0x7F || c == '.' || c == '/' || c == '\\' || c == '"' || c == ':' || c == '*' ||
        c == '?' || c == '<' || c == '>' || c == '|') {
      return "";
    }
  }
  return value;
}

// The largest message the transport can be set to accept (max_message_size),
// so that by default no message that arrives is too large to be read.
constexpr std::int64_t kDefaultMaxBodyBytes = 1 << 20;

class FileFilter final : public Filter {
 public:
  explicit FileFilter(PluginConfig& config) {
    const std::string action = config.getChoice("action", {"block_all", "block_list", "off"}, "block_list");
    action_ = action == "block_all" ? Action::BlockAll : action == "off" ? Action::Off : Action::BlockList;
    const auto configured = config.getStrings("extensions", files::defaultBlockedExtensions());
    for (std::size_t i = 0; i < configured.size(); ++i) {
      const std::string extension = normalisedExtension(configured[i]);
      if (extension.empty()) {
        config.fail("extensions[" + std::to_string(i) + "]",
                    "expected a file extension such as \".exe\" (one dot, no spaces)");
        return;
      }
      blocked_.insert(extension);
    }
    maxBodyBytes_ = static_cast<std::size_t>(config.getInteger("max_body_bytes", kDefaultMaxBodyBytes, 1, 1 << 30));
    maxOffers_ = static_cast<std::size_t>(config.getInteger("max_offers", 100, 1, 1000000));
    onUnreadable_ = onUnreadableSetting(config);
    // `off` blocks nothing, whatever the chain-wide on_unreadable says.
    if (action_ == Action::Off && onUnreadable_ == OnUnreadable::Block) onUnreadable_ = OnUnreadable::Flag;
  }

  MethodSet methods() const override { return MethodSet(MethodSet::Invite | MethodSet::Message); }

  Verdict onRequest(Exchange& exchange) override {
    const MessageView& message = exchange.message();
    if (message.body().empty()) return Verdict::proceed();
    // The body as the SDK reads it: every leaf entity, multipart and CPIM
    // unwrapped, transfer and content encodings undone.
    const InstantMessage& reading = exchange.instantMessage();
    std::size_t offerBytes = 0;
    for (std::size_t entity = 0; entity < reading.entityCount(); ++entity) {
      if (offerType(reading.entityType(entity))) offerBytes += reading.entityContent(entity).size();
    }
    if (offerBytes > maxBodyBytes_) {
      exchange.count("over_limit.body");
      return Verdict::error("body of " + std::to_string(offerBytes) + " bytes, over max_body_bytes (" +
                            std::to_string(maxBodyBytes_) + ")");
    }
    std::vector<FileOffer> offers;
    for (std::size_t entity = 0; entity < reading.entityCount() && offers.size() <= maxOffers_; ++entity) {
      scanEntity(reading.entityType(entity), reading.entityContent(entity), offers, maxOffers_);
    }
    // The first max_offers are examined and tagged; a refusal among them
    // stands, otherwise the fail mode decides (and on_unreadable, for what
    // the SDK could not read).
    const bool overLimit = offers.size() > maxOffers_;
    if (overLimit) offers.resize(maxOffers_);
    if (offers.empty() && reading.unreadableCount() == 0) return Verdict::proceed();

    // A block list is in force when there is something on it: only then can
    // a name that cannot be read hide a blocked file.
    const bool blockList = action_ == Action::BlockList && !blocked_.empty();
    std::string blockedExtension;  // the first extension on the list, for the Warning
    const FileOffer* unreadable = nullptr;  // the first offer whose name cannot be read
    const FileOffer* blockedOffer = nullptr;
    for (const auto& offer : offers) {
      exchange.count("offers");
      // Tags and logs show the name with invisible and bidi characters
      // escaped (<U+202E>), never raw.
      if (!offer.name.empty()) exchange.tag("file", displayName(offer.name));
      if (!offer.size.empty()) exchange.tag("file_size", offer.size);
      if (hasInvisibleCharacters(offer.name)) exchange.count("names.invisible");
      if (!offer.unreadable.empty() && unreadable == nullptr) unreadable = &offer;
      if (blockList && blockedExtension.empty()) {
        for (const auto& extension : candidateExtensions(offer.name)) {
          if (blocked_.count(extension) != 0) {
            blockedExtension = extension;
            blockedOffer = &offer;
            break;
          }
        }
      }
    }

    const bool invite = message.method() == "INVITE";
    std::string warning;
    const FileOffer* named = nullptr;  // the offer the log line names
    if (action_ == Action::BlockAll && !offers.empty()) {
      exchange.count("blocked.all");
      exchange.tag("rule", "file_filter:blocked-all");
      warning = "file_filter: file transfer not allowed";
    } else if (blockList && unreadable != nullptr) {
      // Before the extension: a name read two ways has no one extension.
      exchange.count("blocked.unreadable_name");
      exchange.tag("rule", "file_filter:unreadable-name");
      warning = "file_filter: file name cannot be read (" + unreadable->unreadable + ")";
      named = unreadable;
    } else if (!blockedExtension.empty()) {
      exchange.count("blocked" + blockedExtension);
      exchange.tag("rule", "file_filter:blocked-extension");
      warning = "file_filter: blocked extension " + blockedExtension;
      named = blockedOffer;
    } else {
      if (unreadable != nullptr) flagUnreadable(exchange, *unreadable);
      if (auto refused = unreadableVerdict(exchange, onUnreadable_, "file_filter")) return *std::move(refused);
      if (overLimit) {
        exchange.count("over_limit.offers");
        return Verdict::error("more than max_offers (" + std::to_string(maxOffers_) + ") file offers");
      }
      if (!offers.empty()) exchange.count("allowed");
      return Verdict::proceed();
    }
    std::string line = std::string(message.method()) + " " + std::string(message.callId()) + " from " +
                       message.from().aor() + ": " + warning;
    if (named != nullptr && !named->name.empty()) {
      line += " (file \"" + displayName(named->name, kLoggedNameBytes) + "\")";
    }
    exchange.log(LogLevel::Info, line);
    Verdict::Headers headers{{"Warning", "399 sipwarden \"" + warning + "\""}};
    if (invite) return Verdict::reply(488, "Not Acceptable Here", std::move(headers));
    return Verdict::reply(403, "Forbidden", std::move(headers));
  }

 private:
  // Called when no block list is in force and an offer's name cannot be
  // read: nothing to refuse it for, so it is tagged, counted and logged.
  static void flagUnreadable(Exchange& exchange, const FileOffer& offer) {
    exchange.count("unreadable_name");
    exchange.tag("rule", "file_filter:unreadable-name");
    const MessageView& message = exchange.message();
    exchange.log(LogLevel::Info, std::string(message.method()) + " " + std::string(message.callId()) +
                                     ": file_filter: file name cannot be read (" + offer.unreadable + ") (file \"" +
                                     displayName(offer.name, kLoggedNameBytes) + "\"), flagged");
  }

  Action action_ = Action::BlockList;
  std::set<std::string> blocked_;
  std::size_t maxBodyBytes_ = 0;
  std::size_t maxOffers_ = 0;
  OnUnreadable onUnreadable_ = OnUnreadable::Block;
};

}  // namespace
}  // namespace sipwarden::plugins::file_filter

SIPWARDEN_PLUGIN(file_filter, "file_filter", "1.0", &filterFromConfig<file_filter::FileFilter>)
