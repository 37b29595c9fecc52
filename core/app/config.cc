#include "app/config.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "archive/store.h"
#include "pipeline/loader.h"
#include "sip/grammar.h"

namespace sipwarden::app {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw ConfigError(path + ": " + message);
}

void rejectUnknownKeys(const Object& object, const std::string& path, const std::set<std::string>& known) {
  for (const auto& [key, value] : object) {
    if (!known.count(key)) {
      std::string list;
      for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
      fail(path.empty() ? key : path + "." + key, "unknown key (expected one of: " + list + ")");
    }
  }
}

std::string joinPath(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::string getString(const Object& object, const std::string& path, const std::string& key) {
  const Poco::Dynamic::Var value = object.get(key);
  if (!value.isString()) fail(joinPath(path, key), "expected a string");
  return value.extract<std::string>();
}

std::int64_t getInteger(const Object& object, const std::string& path, const std::string& key, std::int64_t min,
                        std::int64_t max) {
  const Poco::Dynamic::Var value = object.get(key);
  if (!value.isInteger()) fail(joinPath(path, key), "expected an integer");
  const std::int64_t number = value.convert<std::int64_t>();
  if (number < min || number > max) {
    fail(joinPath(path, key), "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return number;
}

bool getBool(const Object& object, const std::string& path, const std::string& key) {
  const Poco::Dynamic::Var value = object.get(key);
  if (!value.isBoolean()) fail(joinPath(path, key), "expected true or false");
  return value.extract<bool>();
}

std::vector<std::string> getStrings(const Object& object, const std::string& path, const std::string& key) {
  std::vector<std::string> out;
  const Poco::Dynamic::Var value = object.get(key);
  if (value.isString()) return {value.extract<std::string>()};
  Array::Ptr array = object.getArray(key);
  if (!array) fail(joinPath(path, key), "expected a list of strings");
  for (std::size_t i = 0; i < array->size(); ++i) {
    if (!array->get(static_cast<unsigned>(i)).isString()) {
      fail(joinPath(path, key) + "[" + std::to_string(i) + "]", "expected a string");
    }
    out.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
  }
  return out;
}

// archive.checkpoints (docs/archive.md, "Signed checkpoints"). The key is
// checked here, like ssh checks its keys, so that a key others can read
// stops the hop at start with the setting named.
archive::CheckpointSettings parseCheckpoints(const Object& archive) {
  Object::Ptr object = archive.getObject("checkpoints");
  if (!object) fail("archive.checkpoints", "expected an object");
  const std::string path = "archive.checkpoints";
  rejectUnknownKeys(*object, path, {"key", "dir", "every_rows", "every_seconds", "syslog", "post_url"});
  archive::CheckpointSettings settings;
  if (!object->has("key")) fail(path + ".key", "expected the path of the private key (sipwarden archive keygen)");
  if (!object->has("dir")) fail(path + ".dir", "expected the directory the checkpoints are written to");
  settings.keyPath = getString(*object, path, "key");
  settings.dir = getString(*object, path, "dir");
  if (settings.keyPath.empty()) fail(path + ".key", "expected the path of the private key");
  if (settings.dir.empty()) fail(path + ".dir", "expected a directory");
  struct stat info {};
  if (::stat(settings.keyPath.c_str(), &info) != 0) {
    fail(path + ".key", settings.keyPath + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) fail(path + ".key", settings.keyPath + " is not a file");
  if ((info.st_mode & 077) != 0) {
    fail(path + ".key", settings.keyPath + " may be read by group or others: chmod 600 it (like ssh, a key others can read is refused)");
  }
  std::error_code error;
  if (!std::filesystem::is_directory(settings.dir, error)) fail(path + ".dir", settings.dir + " is not a directory");
  if (object->has("every_rows")) settings.everyRows = getInteger(*object, path, "every_rows", 1, 100000000);
  if (object->has("every_seconds")) {
    settings.every = std::chrono::seconds(getInteger(*object, path, "every_seconds", 1, 86400));
  }
  if (object->has("syslog")) settings.syslog = getBool(*object, path, "syslog");
  if (object->has("post_url")) {
    settings.postUrl = getString(*object, path, "post_url");
    const bool http = settings.postUrl.starts_with("http://") || settings.postUrl.starts_with("https://");
    if (!http || settings.postUrl.find_first_of(" \r\n") != std::string::npos) {
      fail(path + ".post_url", "expected an http:// or https:// URL");
    }
  }
  return settings;
}

std::vector<proxy::Network> getNetworks(const Object& object, const std::string& path, const std::string& key) {
  std::vector<proxy::Network> out;
  const auto texts = getStrings(object, path, key);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      out.push_back(proxy::Network::parse(texts[i]));
    } catch (const std::invalid_argument& error) {
      fail(joinPath(path, key) + "[" + std::to_string(i) + "]", error.what());
    }
  }
  return out;
}

double getRate(const Object& object, const std::string& path, const std::string& key, double max) {
  const Poco::Dynamic::Var value = object.get(key);
  if (!value.isNumeric()) fail(joinPath(path, key), "expected a number");
  const double number = value.convert<double>();
  if (!(number >= 0 && number <= max)) fail(joinPath(path, key), "expected a number from 0 to " + std::to_string(static_cast<long>(max)));
  return number;
}

// "tls": certificates and peer checks for TLS listeners and next hops.
void readTls(const Object& top, AppConfig& config) {
  if (!top.has("tls")) return;
  Object::Ptr tls = top.getObject("tls");
  if (!tls) fail("tls", "expected an object");
  rejectUnknownKeys(*tls, "tls",
                    {"certificate", "private_key", "ca", "verify_client", "allowed_subjects", "verify_server",
                     "client_certificate", "client_private_key"});
  auto& settings = config.tls;
  config.tlsSet = true;
  auto optionalString = [&](const char* key, std::string& out) {
    if (tls->has(key)) out = getString(*tls, "tls", key);
  };
  optionalString("certificate", settings.certificateFile);
  optionalString("private_key", settings.privateKeyFile);
  optionalString("ca", settings.caFile);
  optionalString("client_certificate", settings.clientCertificateFile);
  optionalString("client_private_key", settings.clientPrivateKeyFile);
  if (settings.certificateFile.empty() != settings.privateKeyFile.empty()) {
    fail(settings.certificateFile.empty() ? "tls.certificate" : "tls.private_key",
         "certificate and private_key go together");
  }
  if (settings.clientCertificateFile.empty() != settings.clientPrivateKeyFile.empty()) {
    fail(settings.clientCertificateFile.empty() ? "tls.client_certificate" : "tls.client_private_key",
         "client_certificate and client_private_key go together");
  }
  if (tls->has("verify_client")) {
    const std::string mode = getString(*tls, "tls", "verify_client");
    if (mode == "none") {
      settings.verifyClient = transport::ClientVerification::None;
    } else if (mode == "optional") {
      settings.verifyClient = transport::ClientVerification::Optional;
    } else if (mode == "required") {
      settings.verifyClient = transport::ClientVerification::Required;
    } else {
      fail("tls.verify_client", "expected none|optional|required");
    }
  }
  if (settings.verifyClient != transport::ClientVerification::None && settings.caFile.empty()) {
    fail("tls.ca", "verify_client needs the CA that signs client certificates");
  }
  if (tls->has("allowed_subjects")) {
    settings.allowedSubjects = getStrings(*tls, "tls", "allowed_subjects");
    if (settings.verifyClient != transport::ClientVerification::Required) {
      fail("tls.allowed_subjects", "needs verify_client: required");
    }
  }
  if (tls->has("verify_server")) settings.verifyServer = getBool(*tls, "tls", "verify_server");
}

// "dns": which servers answer, whether SRV is used, how long answers live.
void readDns(const Object& top, proxy::DnsSettings& dns) {
  if (!top.has("dns")) return;
  Object::Ptr object = top.getObject("dns");
  if (!object) fail("dns", "expected an object");
  rejectUnknownKeys(*object, "dns", {"servers", "srv", "min_ttl_s", "max_ttl_s", "negative_ttl_s", "threads"});
  if (object->has("threads")) dns.threads = static_cast<std::size_t>(getInteger(*object, "dns", "threads", 1, 64));
  if (object->has("servers")) {
    const auto servers = getStrings(*object, "dns", "servers");
    for (std::size_t i = 0; i < servers.size(); ++i) {
      const std::string key = "dns.servers[" + std::to_string(i) + "]";
      try {
        const std::string text = servers[i].find(':') == std::string::npos ? servers[i] + ":53" : servers[i];
        Poco::Net::SocketAddress address(text);
        if (address.family() != Poco::Net::SocketAddress::IPv4) fail(key, "expected an IPv4 address[:port]");
        dns.servers.push_back(address);
      } catch (const Poco::Exception& error) {
        fail(key, "expected an IPv4 address[:port]: " + error.displayText());
      }
    }
  }
  if (object->has("srv")) dns.useSrv = getBool(*object, "dns", "srv");
  if (object->has("min_ttl_s")) dns.minTtl = std::chrono::seconds(getInteger(*object, "dns", "min_ttl_s", 1, 86400));
  if (object->has("max_ttl_s")) dns.maxTtl = std::chrono::seconds(getInteger(*object, "dns", "max_ttl_s", 1, 86400));
  if (object->has("negative_ttl_s")) {
    dns.negativeTtl = std::chrono::seconds(getInteger(*object, "dns", "negative_ttl_s", 1, 86400));
  }
  if (dns.minTtl > dns.maxTtl) fail("dns.min_ttl_s", "must not exceed dns.max_ttl_s");
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

// "access": who may send (per listener), "rate_limits": how fast.
void readAdmission(const Object& top, proxy::ProxyConfig& proxy) {
  if (top.has("access")) {
    Object::Ptr access = top.getObject("access");
    if (!access) fail("access", "expected an object");
    rejectUnknownKeys(*access, "access", {"allow", "allow_udp", "allow_tcp", "allow_tls", "denied"});
    if (access->has("allow")) {
      proxy.access.allowUdp = proxy.access.allowTcp = proxy.access.allowTls = getNetworks(*access, "access", "allow");
    }
    if (access->has("allow_udp")) proxy.access.allowUdp = getNetworks(*access, "access", "allow_udp");
    if (access->has("allow_tcp")) proxy.access.allowTcp = getNetworks(*access, "access", "allow_tcp");
    if (access->has("allow_tls")) proxy.access.allowTls = getNetworks(*access, "access", "allow_tls");
    if (access->has("denied")) {
      const std::string denied = getString(*access, "access", "denied");
      if (denied != "reject" && denied != "drop") fail("access.denied", "expected reject or drop");
      proxy.access.dropDenied = denied == "drop";
    }
  }
  if (top.has("rate_limits")) {
    Object::Ptr rates = top.getObject("rate_limits");
    if (!rates) fail("rate_limits", "expected an object");
    rejectUnknownKeys(*rates, "rate_limits", {"message_per_second", "invite_per_second", "burst_seconds", "retry_after_s"});
    auto& r = proxy.rates;
    if (rates->has("message_per_second")) r.messagesPerSecond = getRate(*rates, "rate_limits", "message_per_second", 1e6);
    if (rates->has("invite_per_second")) r.invitesPerSecond = getRate(*rates, "rate_limits", "invite_per_second", 1e6);
    if (rates->has("burst_seconds")) r.burstSeconds = getRate(*rates, "rate_limits", "burst_seconds", 3600);
    if (rates->has("retry_after_s")) {
      r.retryAfterSeconds = static_cast<int>(getInteger(*rates, "rate_limits", "retry_after_s", 1, 3600));
    }
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
  Poco::JSON::Parser parser;
  parser.setAllowComments(true);
  Poco::Dynamic::Var root;
  try {
    root = parser.parse(stripLineComments(json));
  } catch (const Poco::Exception& error) {
    throw ConfigError("config is not valid JSON: " + error.displayText());
  }
  Object::Ptr top = root.extract<Object::Ptr>();
  if (!top) throw ConfigError("config: expected a JSON object at the top");

  AppConfig config;
  rejectUnknownKeys(*top, "",
                    {"listen", "advertise", "upstreams", "record_route", "force_rport", "udp_mtu", "max_message_size", "max_transactions",
                     "timers", "tcp", "log_level", "shutdown_grace_ms", "watchdog_ms", "plugins", "plugin_dirs", "pid_file", "archive", "admin", "on_unreadable",
                     "access", "rate_limits", "tls", "dns"});
  readAdmission(*top, config.proxy);
  readTls(*top, config);
  readDns(*top, config.dns);
  if (top->has("listen")) {
    const auto listens = getStrings(*top, "", "listen");
    for (std::size_t i = 0; i < listens.size(); ++i) {
      try {
        config.listen.push_back(parseListen(listens[i]));
      } catch (const ConfigError& error) {
        fail("listen[" + std::to_string(i) + "]", error.what());
      }
    }
  }
  if (top->has("advertise")) {
    config.proxy.advertisedHost = getString(*top, "", "advertise");
    config.advertiseSet = true;
  }
  if (top->has("upstreams")) {
    const auto upstreams = getStrings(*top, "", "upstreams");
    for (std::size_t i = 0; i < upstreams.size(); ++i) {
      try {
        config.proxy.upstreams.push_back(parseUpstream(upstreams[i]));
      } catch (const ConfigError& error) {
        fail("upstreams[" + std::to_string(i) + "]", error.what());
      }
    }
  }
  if (top->has("record_route")) {
    const std::string mode = getString(*top, "", "record_route");
    if (mode == "dialog") {
      config.proxy.recordRoute = proxy::RecordRouteMode::Dialog;
    } else if (mode == "off") {
      config.proxy.recordRoute = proxy::RecordRouteMode::Off;
    } else {
      fail("record_route", "expected dialog|off");
    }
  }
  if (top->has("udp_mtu")) {
    config.proxy.udpMtuLimit = static_cast<std::size_t>(getInteger(*top, "", "udp_mtu", 0, 65535));
  }
  if (top->has("force_rport")) config.proxy.forceRport = getBool(*top, "", "force_rport");
  if (top->has("max_message_size")) {
    config.proxy.maxMessageSize = static_cast<std::size_t>(getInteger(*top, "", "max_message_size", 1024, 1048576));
    config.limits.maxMessageSize = config.proxy.maxMessageSize;
  }
  if (top->has("max_transactions")) {
    config.proxy.maxTransactions = static_cast<std::size_t>(getInteger(*top, "", "max_transactions", 1, 10000000));
  }
  if (top->has("timers")) {
    Object::Ptr timers = top->getObject("timers");
    if (!timers) fail("timers", "expected an object");
    rejectUnknownKeys(*timers, "timers", {"t1_ms", "t2_ms", "t4_ms", "timer_c_ms", "linger_ms"});
    auto& t = config.proxy.timers;
    if (timers->has("t1_ms")) t.t1 = proxy::Millis(getInteger(*timers, "timers", "t1_ms", 10, 10000));
    if (timers->has("t2_ms")) t.t2 = proxy::Millis(getInteger(*timers, "timers", "t2_ms", 10, 60000));
    if (timers->has("t4_ms")) t.t4 = proxy::Millis(getInteger(*timers, "timers", "t4_ms", 10, 60000));
    if (timers->has("linger_ms")) t.linger = proxy::Millis(getInteger(*timers, "timers", "linger_ms", 0, 64000));
    if (timers->has("timer_c_ms")) t.timerC = proxy::Millis(getInteger(*timers, "timers", "timer_c_ms", 1000, 3600000));
  }
  if (top->has("tcp")) {
    Object::Ptr tcp = top->getObject("tcp");
    if (!tcp) fail("tcp", "expected an object");
    rejectUnknownKeys(*tcp, "tcp", {"max_connections", "max_connections_per_source", "idle_timeout_ms", "header_timeout_ms"});
    if (tcp->has("max_connections_per_source")) {
      config.limits.maxConnectionsPerSource =
          static_cast<std::size_t>(getInteger(*tcp, "tcp", "max_connections_per_source", 1, 1000000));
    }
    if (tcp->has("max_connections")) {
      config.limits.maxConnections = static_cast<std::size_t>(getInteger(*tcp, "tcp", "max_connections", 1, 1000000));
    }
    if (tcp->has("idle_timeout_ms")) {
      config.limits.idleTimeout = std::chrono::milliseconds(getInteger(*tcp, "tcp", "idle_timeout_ms", 100, 86400000));
    }
    if (tcp->has("header_timeout_ms")) {
      config.limits.headerTimeout =
          std::chrono::milliseconds(getInteger(*tcp, "tcp", "header_timeout_ms", 100, 3600000));
    }
  }
  if (top->has("log_level")) config.logLevel = getString(*top, "", "log_level");
  if (top->has("shutdown_grace_ms")) {
    config.shutdownGrace = std::chrono::milliseconds(getInteger(*top, "", "shutdown_grace_ms", 0, 600000));
  }
  if (top->has("watchdog_ms")) {
    config.watchdog = std::chrono::milliseconds(getInteger(*top, "", "watchdog_ms", 50, 60000));
  }
  if (top->has("plugins")) {
    config.plugins = top->getArray("plugins");
    if (!config.plugins) fail("plugins", "expected a list of plugin blocks");
  }
  if (top->has("plugin_dirs")) config.pluginDirs = getStrings(*top, "", "plugin_dirs");
  if (top->has("archive")) {
    Object::Ptr archive = top->getObject("archive");
    if (!archive) fail("archive", "expected an object");
    rejectUnknownKeys(*archive, "archive",
                      {"url", "path", "hop_id", "batch_rows", "batch_ms", "queue_limit", "conversation_gap_minutes",
                       "max_pages", "retention_days", "checkpoints"});
    auto& settings = config.archive;
    if (archive->has("url") && archive->has("path")) fail("archive.url", "give url or path, not both");
    if (archive->has("url")) {
      settings.url = getString(*archive, "archive", "url");
      try {
        archive::parseArchiveLocation(settings.url);
      } catch (const archive::ArchiveError& error) {
        fail("archive.url", error.what());
      }
    } else {
      settings.url = getString(*archive, "archive", "path");
      if (settings.url.empty()) fail("archive.path", "expected the SQLite file's path");
    }
    if (archive->has("hop_id")) {
      settings.hopId = getString(*archive, "archive", "hop_id");
      if (settings.hopId.empty()) fail("archive.hop_id", "expected a non-empty name");
    }
    if (archive->has("batch_rows")) {
      settings.batchRows = static_cast<std::size_t>(getInteger(*archive, "archive", "batch_rows", 1, 100000));
    }
    if (archive->has("batch_ms")) {
      settings.batchTime = std::chrono::milliseconds(getInteger(*archive, "archive", "batch_ms", 0, 10000));
    }
    if (archive->has("queue_limit")) {
      settings.queueLimit = static_cast<std::size_t>(getInteger(*archive, "archive", "queue_limit", 1, 10000000));
    }
    if (archive->has("conversation_gap_minutes")) {
      settings.conversationGapMs = getInteger(*archive, "archive", "conversation_gap_minutes", 1, 100000) * 60000;
    }
    if (archive->has("retention_days")) {
      settings.retentionDays = static_cast<int>(getInteger(*archive, "archive", "retention_days", 0, 36500));
    }
    if (archive->has("max_pages")) settings.maxPages = getInteger(*archive, "archive", "max_pages", 0, 1LL << 40);
    if (archive->has("checkpoints")) settings.checkpoints = parseCheckpoints(*archive);
  }
  if (top->has("admin")) {
    Object::Ptr admin = top->getObject("admin");
    if (!admin) fail("admin", "expected an object");
    try {
      config.admin = admin::parseAdminSettings(*admin);
    } catch (const admin::SettingsError& error) {
      throw ConfigError(error.what());
    }
  }
  if (top->has("pid_file")) config.pidFile = getString(*top, "", "pid_file");
  if (top->has("on_unreadable")) {
    config.onUnreadable = getString(*top, "", "on_unreadable");
    if (config.onUnreadable != "block" && config.onUnreadable != "flag" && config.onUnreadable != "pass") {
      fail("on_unreadable", "expected block|flag|pass");
    }
  }
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
