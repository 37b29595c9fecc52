#pragma once
// The sipwarden configuration: a JSON file (comments allowed) plus command
// line overrides. Everything is validated here, once, at start; an error
// names the offending key path (e.g. "timers.t1_ms: expected a positive
// integer") and start-up stops.

#include <chrono>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>

#include "admin/settings.h"
#include "archive/writer.h"
#include "config/reader.h"
#include "pipeline/chain.h"
#include "proxy/proxy_config.h"
#include "proxy/resolver.h"
#include "transport/transport.h"

namespace sipwarden::app {

// Every config error, from this file's blocks, the admin block and the
// plugin loader alike, names the key path (config/reader.h).
using ConfigError = config::ConfigError;

struct ListenAddress {
  transport::Protocol protocol = transport::Protocol::Udp;
  std::string host;
  std::uint16_t port = 5060;
};

struct AppConfig {
  std::vector<ListenAddress> listen;
  proxy::ProxyConfig proxy;
  transport::TransportLimits limits;
  std::string logLevel = "information";
  std::chrono::milliseconds shutdownGrace{5000};
  // A SIP thread silent this long is reported stalled (app/watchdog.h).
  std::chrono::milliseconds watchdog{500};
  bool advertiseSet = false;
  // The filter chain as configured; built by buildChain().
  Poco::JSON::Array::Ptr plugins;
  std::vector<std::string> pluginDirs;
  std::string pidFile;
  // What content filters do with a body they cannot read, unless their own
  // block says otherwise (sipwarden/unreadable.h): block, flag or pass.
  std::string onUnreadable = "block";
  // The embedded archive; path empty means no archive.
  archive::WriterSettings archive;
  // The admin HTTP server (API, metrics, console); off without an `admin` block.
  admin::AdminSettings admin;
  // The `tls` block as written; paths resolved against the config file.
  transport::TlsSettings tls;
  // Name lookups for Route and Request-URI hosts (`dns` block).
  proxy::DnsSettings dns;
  bool tlsSet = false;
  // Loaded by finalizeConfig when a TLS listener, upstream or block exists.
  std::shared_ptr<const transport::TlsContexts> tlsContexts;
  std::string configPath;  // where reload reads from; empty without --config
};

// "udp:127.0.0.1:5060", "tcp:[::1]:5060", "tls:127.0.0.1:5061"
ListenAddress parseListen(const std::string& text);
// "host:port" or "host:port;transport=tcp|tls"
proxy::Upstream parseUpstream(const std::string& text);

// Reads and validates a config file. Throws ConfigError.
AppConfig loadConfigFile(const std::string& path);
// Validates a config given as JSON text (the file's contents).
AppConfig parseConfig(const std::string& json);
// Checks what only a complete config can get wrong (after overrides).
void finalizeConfig(AppConfig& config);
// Loads the plugins and builds the chain; throws ConfigError naming the key.
std::shared_ptr<const pipeline::FilterChain> buildChain(const AppConfig& config);
// Where plugin modules are looked for: plugin_dirs, then beside the binary
// (build tree), then the install directory.
std::vector<std::string> defaultPluginDirs();

}  // namespace sipwarden::app
