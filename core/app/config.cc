#include "app/config.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "app/config_blocks.h"
#include "pipeline/loader.h"
#include "sip/grammar.h"

namespace sipwarden::app {
namespace {

using config::Reader;

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw ConfigError(path + ": " + message);
}

// Relative TLS file names are relative to the config file, as plugin paths are.
void resolveTlsPaths(AppConfig& config) {
  const auto dir = std::filesystem::absolute(config.configPath).parent_path();
  for (std::string* path : {&config.tls.certificateFile, &config.tls.privateKeyFile, &config.tls.caFile,
                            &config.tls.clientCertificateFile, &config.tls.clientPrivateKeyFile,
                            &config.admin.tlsCertificate, &config.admin.tlsPrivateKey}) {
    if (!path->empty() && std::filesystem::path(*path).is_relative()) *path = (dir / *path).string();
  }
}

std::uint16_t parsePort(const std::string& text, const std::string& what) {
  std::uint64_t port = 0;
  if (!sip::parseDecimal(text, 65535, port)) throw ConfigError(what + ": bad port '" + text + "'");
  return static_cast<std::uint16_t>(port);
}

// Splits "host:port" where host may be an IPv6 reference in brackets.
void splitHostPort(const std::string& text, std::string& host, std::string& port, const std::string& what) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw ConfigError(what + ": expected HOST:PORT, got '" + text + "'");
  host = text.substr(0, colon);
  port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
}

// Poco's parser takes /* */ comments only; operators write // as well.
std::string stripLineComments(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  bool inString = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (inString) {
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(c);
        out.push_back(json[++i]);
        continue;
      }
      if (c == '"') inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '/' && i + 1 < json.size() && json[i + 1] == '/') {
      while (i < json.size() && json[i] != '\n') ++i;
      out.push_back('\n');
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// Config files spell protocols in lower case only ("udp", "tcp", "tls").
bool configProtocol(const std::string& name, transport::Protocol& out) {
  return std::none_of(name.begin(), name.end(), [](unsigned char c) { return std::isupper(c); }) &&
         transport::protocolFromName(name, out);
}

// "listen", "advertise" and "upstreams": where the hop listens, the name it
// gives itself, and where requests go next.
void readAddresses(Reader& top, AppConfig& config) {
  const auto listens = top.getStrings("listen", {});
  for (std::size_t i = 0; i < listens.size(); ++i) {
    try {
      config.listen.push_back(parseListen(listens[i]));
    } catch (const ConfigError& error) {
      top.fail("listen[" + std::to_string(i) + "]", error.what());
    }
  }
  if (top.has("advertise")) {
    config.proxy.advertisedHost = top.getString("advertise", "");
    config.advertiseSet = true;
  }
  const auto upstreams = top.getStrings("upstreams", {});
  for (std::size_t i = 0; i < upstreams.size(); ++i) {
    try {
      config.proxy.upstreams.push_back(parseUpstream(upstreams[i]));
    } catch (const ConfigError& error) {
      top.fail("upstreams[" + std::to_string(i) + "]", error.what());
    }
  }
}

// How requests are relayed: Record-Route, rport, sizes and the transaction cap.
void readRelaying(Reader& top, AppConfig& config) {
  auto& proxy = config.proxy;
  if (top.has("record_route")) {
    proxy.recordRoute = top.getChoice("record_route", {"dialog", "off"}, "dialog") == "off"
                            ? proxy::RecordRouteMode::Off
                            : proxy::RecordRouteMode::Dialog;
  }
  proxy.udpMtuLimit =
      static_cast<std::size_t>(top.getInteger("udp_mtu", static_cast<std::int64_t>(proxy.udpMtuLimit), 0, 65535));
  proxy.forceRport = top.getBool("force_rport", proxy.forceRport);
  if (top.has("max_message_size")) {
    proxy.maxMessageSize = static_cast<std::size_t>(top.getInteger("max_message_size", 0, 1024, 1048576));
    config.limits.maxMessageSize = proxy.maxMessageSize;
  }
  proxy.maxTransactions = static_cast<std::size_t>(
      top.getInteger("max_transactions", static_cast<std::int64_t>(proxy.maxTransactions), 1, 10000000));
}

// The process: log level, how long a stop may drain, the SIP thread's watchdog.
void readProcess(Reader& top, AppConfig& config) {
  config.logLevel = top.getString("log_level", config.logLevel);
  config.shutdownGrace =
      std::chrono::milliseconds(top.getInteger("shutdown_grace_ms", config.shutdownGrace.count(), 0, 600000));
  config.watchdog = std::chrono::milliseconds(top.getInteger("watchdog_ms", config.watchdog.count(), 50, 60000));
}

// "plugins" stays JSON: buildChain reads each block when it loads the plugin.
void readPlugins(Reader& top, AppConfig& config) {
  if (top.has("plugins")) config.plugins = top.getArray("plugins", "expected a list of plugin blocks");
  config.pluginDirs = top.getStrings("plugin_dirs", config.pluginDirs);
}

Poco::JSON::Object::Ptr parseJson(const std::string& json) {
  Poco::JSON::Parser parser;
  parser.setAllowComments(true);
  Poco::Dynamic::Var root;
  try {
    root = parser.parse(stripLineComments(json));
  } catch (const Poco::Exception& error) {
    throw ConfigError("config is not valid JSON: " + error.displayText());
  }
  Poco::JSON::Object::Ptr top = root.extract<Poco::JSON::Object::Ptr>();
  if (!top) throw ConfigError("config: expected a JSON object at the top");
  return top;
}

}  // namespace

ListenAddress parseListen(const std::string& text) {
  ListenAddress out;
  const std::size_t colon = text.find(':');
  const std::string protocol = colon == std::string::npos ? "" : text.substr(0, colon);
  if (!configProtocol(protocol, out.protocol)) {
    throw ConfigError("listen: expected udp:HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT, got '" + text + "'");
  }
  std::string port;
  splitHostPort(text.substr(colon + 1), out.host, port, "listen");
  out.port = parsePort(port, "listen");
  return out;
}

proxy::Upstream parseUpstream(const std::string& text) {
  proxy::Upstream out;
  std::string address = text;
  const std::size_t semicolon = text.find(';');
  if (semicolon != std::string::npos) {
    address = text.substr(0, semicolon);
    const std::string params = text.substr(semicolon + 1);
    if (!params.starts_with("transport=") || !configProtocol(params.substr(10), out.protocol)) {
      throw ConfigError("upstreams: unknown parameter '" + params +
                        "' (expected transport=udp, transport=tcp or transport=tls)");
    }
  }
  std::string port;
  splitHostPort(address, out.host, port, "upstreams");
  out.port = parsePort(port, "upstreams");
  return out;
}

AppConfig parseConfig(const std::string& json) {
  Reader top(parseJson(json), "", config::OnError::Throw);
  top.refuseUnknown({"listen", "advertise", "upstreams", "record_route", "force_rport", "udp_mtu", "max_message_size",
                     "max_transactions", "timers", "tcp", "log_level", "shutdown_grace_ms", "watchdog_ms", "plugins",
                     "plugin_dirs", "pid_file", "archive", "admin", "on_unreadable", "access", "rate_limits", "tls",
                     "dns"});
  AppConfig config;
  readAdmission(top, config.proxy);
  readTls(top, config);
  readDns(top, config.dns);
  readAddresses(top, config);
  readRelaying(top, config);
  readTimers(top, config.proxy.timers);
  readTcp(top, config.limits);
  readProcess(top, config);
  readPlugins(top, config);
  readArchive(top, config.archive);
  if (Reader* admin = top.getObject("admin")) config.admin = admin::readAdminSettings(*admin);
  config.pidFile = top.getString("pid_file", config.pidFile);
  config.onUnreadable = top.getChoice("on_unreadable", {"block", "flag", "pass"}, config.onUnreadable);
  return config;
}

AppConfig loadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  AppConfig config = parseConfig(text.str());
  config.configPath = path;
  resolveTlsPaths(config);
  return config;
}

std::vector<std::string> defaultPluginDirs() {
  std::vector<std::string> dirs;
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    dirs.push_back((self.parent_path() / "plugins").string());  // build tree
    dirs.push_back((self.parent_path().parent_path() / "lib" / "sipwarden" / "plugins").string());  // relocated install
  }
  dirs.push_back(SIPWARDEN_PLUGIN_INSTALL_DIR);
  return dirs;
}

std::shared_ptr<const pipeline::FilterChain> buildChain(const AppConfig& config) {
  pipeline::ChainSettings settings;
  settings.pluginDirs = config.pluginDirs;
  settings.chainDefaults["on_unreadable"] = config.onUnreadable;
  for (auto& dir : defaultPluginDirs()) settings.pluginDirs.push_back(dir);
  if (!config.configPath.empty()) {
    settings.configDir = std::filesystem::absolute(config.configPath).parent_path().string();
  }
  try {
    return pipeline::buildChain(config.plugins, settings);
  } catch (const pipeline::PluginError& error) {
    throw ConfigError(error.what());
  }
}

void finalizeConfig(AppConfig& config) {
  static const std::set<std::string> levels = {"fatal", "critical", "error", "warning",
                                               "notice", "information", "debug", "trace"};
  if (!levels.count(config.logLevel)) fail("log_level", "expected one of fatal|critical|error|warning|notice|information|debug|trace");
  if (config.listen.empty()) {
    config.listen.push_back({transport::Protocol::Udp, "127.0.0.1", 5060});
    config.listen.push_back({transport::Protocol::Tcp, "127.0.0.1", 5060});
  }
  std::map<transport::Protocol, int> listeners;
  for (const auto& listen : config.listen) {
    if (++listeners[listen.protocol] > 1) fail("listen", "at most one UDP, one TCP and one TLS listener in this version");
  }
  const bool tlsListener = listeners.count(transport::Protocol::Tls) != 0;
  bool tlsUpstream = false;
  for (const auto& upstream : config.proxy.upstreams) tlsUpstream |= upstream.protocol == transport::Protocol::Tls;
  if (tlsListener && !config.tls.listenerReady()) fail("tls.certificate", "a tls: listener needs tls.certificate and tls.private_key");
  if (!config.admin.tlsCertificate.empty()) {
    transport::TlsSettings admin;
    admin.certificateFile = config.admin.tlsCertificate;
    admin.privateKeyFile = config.admin.tlsPrivateKey;
    try {
      config.admin.tlsContext = transport::TlsContexts::load(admin)->server();
    } catch (const transport::TlsError& error) {
      fail("admin.tls", error.what());
    }
  }
  if (tlsListener || tlsUpstream || config.tlsSet) {
    try {
      config.tlsContexts = transport::TlsContexts::load(config.tls);
    } catch (const transport::TlsError& error) {
      fail("tls", error.what());
    }
  }
  if (!config.advertiseSet) {
    const std::string host = config.listen.front().host;
    if (host == "0.0.0.0" || host == "::") {
      fail("advertise", "required when listening on a wildcard address");
    }
    config.proxy.advertisedHost = host;
  }
  config.proxy.udpPort = 0;
  config.proxy.tcpPort = 0;
  config.proxy.tlsPort = 0;
  for (const auto& listen : config.listen) {
    switch (listen.protocol) {
      case transport::Protocol::Udp: config.proxy.udpPort = listen.port; break;
      case transport::Protocol::Tcp: config.proxy.tcpPort = listen.port; break;
      case transport::Protocol::Tls: config.proxy.tlsPort = listen.port; break;
    }
  }
}

}  // namespace sipwarden::app
