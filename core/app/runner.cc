#include "app/runner.h"

#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/SocketAddress.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <iostream>

#include "admin/metrics.h"
#include "admin/server.h"
#include "app/watchdog.h"
#include "pipeline/activity.h"
#include "proxy/proxy.h"
#include "transport/transport.h"

namespace sipwarden::app {
namespace {

std::atomic<bool> stopRequested{false};
std::atomic<bool> reloadRequested{false};

void onStopSignal(int) { stopRequested = true; }
void onReloadSignal(int) { reloadRequested = true; }

// Re-reads the TLS certificates and keys (they are renewed in place, e.g.
// by an ACME client). New connections use them; open ones keep theirs.
void reloadTls(const AppConfig& fresh, transport::Transport& transport, Poco::Logger& log) {
  if (!fresh.tlsSet) return;
  try {
    transport.setTls(transport::TlsContexts::load(fresh.tls));
    log.information("reload: TLS certificates re-read");
  } catch (const transport::TlsError& error) {
    log.error("reload: keeping the running TLS certificates: %s", std::string(error.what()));
  }
}

// Rebuilds the filter chain (and re-reads TLS certificates) from the config
// file. On any error the running chain stays and the reason is logged.
bool reload(const AppConfig& running, proxy::Proxy& proxy, transport::Transport& transport, Poco::Logger& log) {
  if (running.configPath.empty()) {
    log.warning("reload: sipwarden was started without --config; nothing to reload");
    return false;
  }
  pipeline::noteActivity("reload of " + running.configPath);
  try {
    AppConfig fresh = loadConfigFile(running.configPath);
    reloadTls(fresh, transport, log);
    fresh.pluginDirs.insert(fresh.pluginDirs.end(), running.pluginDirs.begin(), running.pluginDirs.end());
    auto chain = buildChain(fresh);
    proxy.setChain(std::move(chain));
    log.information("reload: filter chain rebuilt from %s (%z plugins); transactions in flight finish on the old one",
                    running.configPath, proxy.chain()->entries().size());
    return true;
  } catch (const std::exception& error) {
    log.error("reload failed, keeping the running chain: %s", std::string(error.what()));
    return false;
  }
}

// The transport and the proxy need each other; this breaks the cycle.
class Bridge final : public transport::TransportUser {
 public:
  proxy::Proxy* proxy = nullptr;
  void onMessage(std::string bytes, const transport::Origin& origin) override {
    proxy->onMessage(std::move(bytes), origin);
  }
  void onSendFailure(const transport::Target& target) override { proxy->onSendFailure(target); }
};

void logCounters(const proxy::Proxy& proxy, const transport::Transport& transport, Poco::Logger& log) {
  auto join = [](const std::map<std::string, std::uint64_t>& counts) {
    std::string out;
    for (const auto& [name, count] : counts) out += (out.empty() ? "" : ", ") + name + "=" + std::to_string(count);
    return out.empty() ? std::string("none") : out;
  };
  const auto& counters = proxy.counters();
  log.information("requests: %s", join(counters.requestsByMethod));
  log.information("responses relayed: %s; local replies: %s", join(counters.responsesByClass),
                  join(counters.localReplies));
  log.information("dropped: " + join(counters.drops) +
                  "; retransmissions absorbed: " + std::to_string(counters.retransmissionsAbsorbed) +
                  "; timeouts: " + std::to_string(counters.timeouts) + "; failovers: " + std::to_string(counters.failovers));
  const auto& wire = transport.counters();
  log.information("transport: " + std::to_string(wire.datagramsIn) + " datagrams, " +
                  std::to_string(wire.streamMessagesIn) + " stream messages in, " + std::to_string(wire.messagesOut) +
                  " out, " + std::to_string(wire.sendFailures) + " send failures, " +
                  std::to_string(wire.framingErrors) + " framing errors");
}

}  // namespace

int run(const AppConfig& config) {
  Poco::Logger& log = Poco::Logger::get("sipwarden");
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  struct sigaction hup {};
  hup.sa_handler = onReloadSignal;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto chain = buildChain(config);
  Bridge bridge;
  transport::Transport transport(bridge, config.limits);
  if (config.tlsContexts) transport.setTls(config.tlsContexts);
  for (const auto& listen : config.listen) {
    transport.listen(listen.protocol, Poco::Net::SocketAddress(listen.host, listen.port));
    log.information("listening on %s:%s", std::string(transport::protocolName(listen.protocol)),
                    transport.boundAddress(listen.protocol).toString());
  }
  proxy::SteadyClock clock;
  proxy::Proxy proxy(config.proxy, transport, clock);
  bridge.proxy = &proxy;
  proxy::DnsResolver resolver(config.dns);
  proxy.setResolver(&resolver);
  proxy.setChain(chain);
  proxy.setWakeup([&transport] { transport.wakeup(); });
  std::unique_ptr<archive::Writer> archive;
  if (!config.archive.url.empty()) {
    archive::WriterSettings settings = config.archive;
    // A shared archive keeps one chain per hop: by default this machine and
    // the first SIP port, which no other running hop can have.
    if (settings.hopId.empty() && !config.listen.empty()) {
      settings.hopId = Poco::Net::DNS::hostName() + ":" + std::to_string(transport.boundAddress(config.listen.front().protocol).port());
    }
    archive = std::make_unique<archive::Writer>(settings);
    proxy.setArchive(archive.get());
    const bool shared = archive::parseArchiveLocation(settings.url).postgres();
    log.information("archive %s open%s", archive::redactedLocation(settings.url),
                    shared ? " (chain of hop " + settings.hopId + ")" : std::string());
  }
  for (const auto& entry : chain->entries()) log.information("filter %s loaded", entry.label);
  // Everything /metrics shows. The proxy's and transport's counters are not
  // thread-safe to read live, so the SIP thread samples them every second.
  admin::StatsRegistry metrics;
  std::atomic<bool> listenersUp{false};
  std::atomic<bool> stopping{false};
  // SIGTERM ends the process within the grace plus a margin, even if a
  // filter never returns (the watchdog then ends it).
  constexpr std::chrono::milliseconds kExitMargin{1000};
  Watchdog watchdog(config.watchdog, config.shutdownGrace + kExitMargin, stopRequested, log);
  admin::declareProxyMetrics(metrics, proxy.counters(), [&proxy] { return proxy.inFlightCount(); });
  admin::declareTransportMetrics(metrics, transport.counters(), [&transport] { return transport.connectionCount(); });
  admin::declareFilterMetrics(metrics, [&proxy] { return proxy.chain().get(); });
  admin::declareListenerMetrics(metrics, listenersUp);
  if (archive) admin::declareArchiveMetrics(metrics, *archive);
  watchdog.declareMetrics(metrics);
  metrics.sample();
  listenersUp = true;
  std::unique_ptr<admin::AdminServer> adminServer;
  if (config.admin.enabled) {
    admin::ServerHooks hooks;
    hooks.metrics = [&metrics] { return metrics.render(); };
    hooks.live = [&watchdog](std::string& why) { return watchdog.live(why); };
    hooks.ready = [&listenersUp, &archive, &stopping](std::string& why) {
      if (stopping) {
        why = "stopping";
      } else if (!listenersUp) {
        why = "SIP listeners not bound";
      } else if (archive && !archive->healthy()) {
        why = "archive not writable";
      }
      return why.empty();
    };
    adminServer = std::make_unique<admin::AdminServer>(config.admin, config.archive.url, std::move(hooks));
    adminServer->declareMetrics(metrics);
    try {
      adminServer->start();
    } catch (const Poco::Exception& error) {
      throw ConfigError("admin.listen: cannot listen on " + config.admin.host + ":" +
                        std::to_string(config.admin.port) + ": " + error.displayText());
    }
    log.information("admin server listening on %s://%s", std::string(config.admin.tlsContext.isNull() ? "http" : "https"),
                    adminServer->address());
  }
  auto nextSnapshot = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  if (!config.pidFile.empty()) {
    std::ofstream(config.pidFile) << getpid() << "\n";
  }
  for (const auto& upstream : config.proxy.upstreams) {
    log.information("upstream %s:%hu over %s", upstream.host, upstream.port,
                    std::string(transport::protocolName(upstream.protocol)));
  }
  log.information("sipwarden %s ready", std::string(SIPWARDEN_VERSION));

  constexpr proxy::Millis kMaxSleep{50};
  constexpr auto kWatchInterval = std::chrono::seconds(1);
  auto nextWatch = std::chrono::steady_clock::now() + kWatchInterval;
  std::map<std::string, std::filesystem::file_time_type> lastFailedWatch;
  while (!stopRequested) {
    watchdog.beat();
    transport.poll(proxy.timeUntilNextTimer(kMaxSleep));
    proxy.drainResumes();
    proxy.runTimers();
    if (reloadRequested.exchange(false)) reload(config, proxy, transport, log);
    if (std::chrono::steady_clock::now() >= nextWatch) {
      nextWatch = std::chrono::steady_clock::now() + kWatchInterval;
      // A failed reload keeps the old chain, whose watch still sees the
      // change: remember the file's state so it is tried once per edit.
      const std::string changed = proxy.chain()->changedFile();
      if (!changed.empty() && pipeline::modificationTime(changed) != lastFailedWatch[changed]) {
        log.information("reload: %s changed", changed);
        if (!reload(config, proxy, transport, log)) lastFailedWatch[changed] = pipeline::modificationTime(changed);
      }
    }
    if (adminServer && std::chrono::steady_clock::now() >= nextSnapshot) {
      metrics.sample();
      nextSnapshot = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
  }
  stopping = true;

  // Drain: no new connections; requests already accepted may still finish.
  log.information("stopping: %z transactions in flight", proxy.inFlightCount());
  transport.stopAccepting();
  const auto deadline = std::chrono::steady_clock::now() + config.shutdownGrace;
  while (proxy.inFlightCount() > 0 && std::chrono::steady_clock::now() < deadline) {
    watchdog.beat();
    transport.poll(proxy.timeUntilNextTimer(kMaxSleep));
    proxy.drainResumes();
    proxy.runTimers();
  }
  if (adminServer) adminServer->stop();  // its readers go before the writer
  if (archive) {
    log.information("archive: committing %z queued messages", archive->queueDepth());
    archive->drainAndStop();
  }
  log.information("stopped; %z transactions left unfinished", proxy.inFlightCount());
  logCounters(proxy, transport, log);
  if (!config.pidFile.empty()) std::remove(config.pidFile.c_str());
  return 0;
}

int reloadCommand(const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0] != "--pid-file") {
    std::cerr << "usage: sipwarden reload --pid-file FILE\n";
    return 2;
  }
  std::ifstream in(args[1]);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) {
    std::cerr << "sipwarden: no running sipwarden recorded in " << args[1] << "\n";
    return 1;
  }
  if (kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    std::cerr << "sipwarden: cannot signal process " << pid << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::cout << "reload requested from process " << pid << "; its log says whether the new chain was taken\n";
  return 0;
}

}  // namespace sipwarden::app
