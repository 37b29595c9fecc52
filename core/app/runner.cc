#include "app/runner.h"

#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>

#include <atomic>
#include <csignal>

#include "proxy/proxy.h"
#include "transport/transport.h"

namespace sipwarden::app {
namespace {

std::atomic<bool> stopRequested{false};

void onStopSignal(int) { stopRequested = true; }

// The transport and the proxy need each other; this breaks the cycle.
class Bridge final : public transport::TransportUser {
 public:
  proxy::Proxy* proxy = nullptr;
  void onMessage(std::string bytes, const transport::Origin& origin) override {
    proxy->onMessage(std::move(bytes), origin);
  }
  void onSendFailure(const transport::Target& target) override { proxy->onSendFailure(target); }
};

}  // namespace

int run(const AppConfig& config) {
  Poco::Logger& log = Poco::Logger::get("sipwarden");
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Bridge bridge;
  transport::Transport transport(bridge, config.limits);
  for (const auto& listen : config.listen) {
    transport.listen(listen.protocol, Poco::Net::SocketAddress(listen.host, listen.port));
    log.information("listening on %s:%s", std::string(transport::protocolName(listen.protocol)),
                    transport.boundAddress(listen.protocol).toString());
  }
  proxy::SteadyClock clock;
  proxy::Proxy proxy(config.proxy, transport, clock);
  bridge.proxy = &proxy;
  for (const auto& upstream : config.proxy.upstreams) {
    log.information("upstream %s:%hu over %s", upstream.host, upstream.port,
                    std::string(transport::protocolName(upstream.protocol)));
  }
  log.information("sipwarden %s ready", std::string(SIPWARDEN_VERSION));

  constexpr proxy::Millis kMaxSleep{50};
  while (!stopRequested) {
    transport.poll(proxy.timeUntilNextTimer(kMaxSleep));
    proxy.runTimers();
  }

  // Drain: no new connections; requests already accepted may still finish.
  log.information("stopping: %z transactions in flight", proxy.inFlightCount());
  transport.stopAccepting();
  const auto deadline = std::chrono::steady_clock::now() + config.shutdownGrace;
  while (proxy.inFlightCount() > 0 && std::chrono::steady_clock::now() < deadline) {
    transport.poll(proxy.timeUntilNextTimer(kMaxSleep));
    proxy.runTimers();
  }
  log.information("stopped; %z transactions left unfinished", proxy.inFlightCount());
  return 0;
}

}  // namespace sipwarden::app
