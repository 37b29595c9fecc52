// Example plugin: answers 403 to requests from a configured list of senders.
//   {"plugin": "deny_senders", "senders": ["mallory@example.com"], "reason": "Sender blocked"}
#include <sipwarden/plugin.h>

#include <set>

namespace {

class DenySenders final : public sipwarden::Filter {
 public:
  DenySenders(std::set<std::string> senders, std::string reason)
      : senders_(std::move(senders)), reason_(std::move(reason)) {}

  sipwarden::Verdict onRequest(sipwarden::Exchange& exchange) override {
    const std::string sender = exchange.message().from().aor();
    if (!senders_.count(sender)) return sipwarden::Verdict::proceed();
    exchange.count("denied");
    return sipwarden::Verdict::reply(403, reason_, {{"Warning", "399 sipwarden \"deny_senders: " + sender + "\""}});
  }

 private:
  std::set<std::string> senders_;
  std::string reason_;
};

std::unique_ptr<sipwarden::Filter> create(sipwarden::PluginConfig& config) {
  const auto senders = config.getStrings("senders", {});
  const auto reason = config.getString("reason", "Sender blocked");
  if (senders.empty()) config.fail("senders", "list at least one address (user@host)");
  if (config.failed()) return nullptr;
  return std::make_unique<DenySenders>(std::set<std::string>(senders.begin(), senders.end()), reason);
}

}  // namespace

SIPWARDEN_PLUGIN(deny_senders, "deny_senders", "1.0", &create)
