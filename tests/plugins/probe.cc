// A test plugin that does what its config says, so tests can drive every
// verdict, edit and failure through the real chain.
//   "action":  continue | reply | drop | error | throw   (default continue)
//   "code", "reason": for reply
//   "add_header": "Name: value" added to requests that pass
//   "append_body": text appended to the body
//   "methods": list of methods to see (default all)
//   "tag": "key=value" tag added to each request
//   "stall_ms": N: blocks the SIP thread for N ms on each request carrying an
//               "X-Probe-Stall" header (a filter stuck where no budget sees it,
//               for the watchdog tests)
#include "sipwarden/filter_from_config.h"
#include "sipwarden/plugin.h"

#include <chrono>
#include <stdexcept>
#include <thread>

namespace {

using namespace sipwarden;

class Probe final : public Filter {
 public:
  explicit Probe(PluginConfig& config)
      : action_(config.getChoice("action", {"continue", "reply", "drop", "error", "throw"}, "continue")),
        code_(static_cast<int>(config.getInteger("code", 403, 300, 699))),
        reason_(config.getString("reason", "Forbidden by probe")),
        addHeader_(config.getString("add_header", "")),
        appendBody_(config.getString("append_body", "")),
        tag_(config.getString("tag", "")),
        stall_(config.getInteger("stall_ms", 0, 0, 600'000)) {
    for (const auto& method : config.getStrings("methods", {})) methods_ |= MethodSet::bitFor(method);
    if (!addHeader_.empty() && addHeader_.find(':') == std::string::npos) {
      config.fail("add_header", "expected \"Name: value\"");
    }
  }

  MethodSet methods() const override { return methods_ == 0 ? MethodSet::all() : MethodSet(methods_); }

  Verdict onRequest(Exchange& exchange) override {
    exchange.count("seen");
    if (stall_ > 0 && exchange.message().header("X-Probe-Stall")) {
      exchange.noteActivity("probe stalling on purpose");
      std::this_thread::sleep_for(std::chrono::milliseconds(stall_));
    }
    if (!tag_.empty()) exchange.tag(tag_.substr(0, tag_.find('=')), tag_.substr(tag_.find('=') + 1));
    exchange.state()["request"] = std::string(exchange.message().method());
    if (action_ == "reply") return Verdict::reply(code_, reason_, {{"Warning", "399 sipwarden \"probe\""}});
    if (action_ == "drop") return Verdict::drop("probe drops");
    if (action_ == "error") return Verdict::error("probe fails on purpose");
    if (action_ == "throw") throw std::runtime_error("probe throws on purpose");
    if (!addHeader_.empty()) {
      const auto colon = addHeader_.find(':');
      exchange.edits().addHeader(addHeader_.substr(0, colon), addHeader_.substr(colon + 2));
    }
    if (!appendBody_.empty()) {
      exchange.edits().setBody(std::string(exchange.message().body()) + appendBody_);
    }
    return Verdict::proceed();
  }

  void onResponse(Exchange& exchange) override {
    if (!addHeader_.empty() && exchange.state().count("request")) {
      const auto colon = addHeader_.find(':');
      exchange.edits().addHeader(addHeader_.substr(0, colon) + "-Response", addHeader_.substr(colon + 2));
    }
  }

  void onEnd(Exchange& exchange, int finalCode) override {
    exchange.count("ended." + std::to_string(finalCode));
  }

 private:
  std::string action_;
  int code_;
  std::string reason_;
  std::string addHeader_;
  std::string appendBody_;
  std::string tag_;
  std::int64_t stall_;
  std::uint32_t methods_ = 0;
};

}  // namespace

SIPWARDEN_PLUGIN(probe, "probe", "1.0", &filterFromConfig<Probe>)
