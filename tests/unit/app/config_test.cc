// The app's config: every block read into its settings, errors that name
// the key path, unknown keys refused with the list, comments, relative paths
// resolved against the config file, what only a complete config can get
// wrong, and the plugin blocks handed to the loader.
#include "app/config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include "app/app_test_support.h"
#include "config/config_test_support.h"
#include "pipeline/loader.h"

namespace sipwarden::plugins {
namespace probe { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::app {
namespace {

using config::testing::thrownError;
using testing::ScratchDir;

std::string errorOf(const std::string& json) {
  return thrownError([&] { parseConfig(json); });
}

constexpr const char* kAdmin = R"("admin": {"tokens": [{"name": "prom", "role": "metrics", "token": "0123456789abcdef"}]})";

TEST(AppConfig, AnEmptyConfigKeepsEveryDefault) {
  const AppConfig config = parseConfig("{}");
  EXPECT_TRUE(config.listen.empty());
  EXPECT_EQ(config.logLevel, "information");
  EXPECT_EQ(config.shutdownGrace, std::chrono::milliseconds(5000));
  EXPECT_EQ(config.watchdog, std::chrono::milliseconds(500));
  EXPECT_EQ(config.onUnreadable, "block");
  EXPECT_FALSE(config.advertiseSet);
  EXPECT_FALSE(config.tlsSet);
  EXPECT_FALSE(config.admin.enabled);
  EXPECT_TRUE(config.archive.url.empty());
  EXPECT_FALSE(config.plugins);
  EXPECT_EQ(config.proxy.recordRoute, proxy::RecordRouteMode::Dialog);
  EXPECT_EQ(config.proxy.timers.t1, proxy::Millis(500));
  EXPECT_EQ(config.limits.maxConnections, 4096u);
  EXPECT_TRUE(config.dns.useSrv);
}

TEST(AppConfig, TopLevelSettingsAreRead) {
  const AppConfig config = parseConfig(R"({
    "listen": ["udp:127.0.0.1:5070", "tcp:[::1]:5071"], "advertise": "hop.example.com",
    "upstreams": "10.0.0.2:5060;transport=tcp", "record_route": "off", "force_rport": true, "udp_mtu": 0,
    "max_message_size": 2048, "max_transactions": 77, "log_level": "debug", "shutdown_grace_ms": 0,
    "watchdog_ms": 50, "plugins": [{"plugin": "probe"}], "plugin_dirs": ["/opt/a", "/opt/b"],
    "pid_file": "/run/sipwarden.pid", "on_unreadable": "pass"})");
  ASSERT_EQ(config.listen.size(), 2u);
  EXPECT_EQ(config.listen[1].protocol, transport::Protocol::Tcp);
  EXPECT_EQ(config.listen[1].host, "::1");
  EXPECT_EQ(config.listen[1].port, 5071);
  EXPECT_TRUE(config.advertiseSet);
  EXPECT_EQ(config.proxy.advertisedHost, "hop.example.com");
  ASSERT_EQ(config.proxy.upstreams.size(), 1u);
  EXPECT_EQ(config.proxy.upstreams[0].protocol, transport::Protocol::Tcp);
  EXPECT_EQ(config.proxy.recordRoute, proxy::RecordRouteMode::Off);
  EXPECT_TRUE(config.proxy.forceRport);
  EXPECT_EQ(config.proxy.udpMtuLimit, 0u);
  EXPECT_EQ(config.proxy.maxMessageSize, 2048u);
  EXPECT_EQ(config.limits.maxMessageSize, 2048u) << "the transport takes the same limit";
  EXPECT_EQ(config.proxy.maxTransactions, 77u);
  EXPECT_EQ(config.logLevel, "debug");
  EXPECT_EQ(config.shutdownGrace, std::chrono::milliseconds(0));
  EXPECT_EQ(config.watchdog, std::chrono::milliseconds(50));
  ASSERT_TRUE(config.plugins);
  EXPECT_EQ(config.plugins->size(), 1u);
  EXPECT_EQ(config.pluginDirs, (std::vector<std::string>{"/opt/a", "/opt/b"}));
  EXPECT_EQ(config.pidFile, "/run/sipwarden.pid");
  EXPECT_EQ(config.onUnreadable, "pass");
}

TEST(AppConfig, ProxyBlocksAreRead) {
  const AppConfig config = parseConfig(R"({
    "timers": {"t1_ms": 100, "t2_ms": 800, "t4_ms": 900, "timer_c_ms": 1000, "linger_ms": 0},
    "tcp": {"max_connections": 10, "max_connections_per_source": 2, "idle_timeout_ms": 100, "header_timeout_ms": 200},
    "access": {"allow": ["10.0.0.0/8"], "allow_tls": ["192.0.2.1", "2001:db8::/32"], "denied": "drop"},
    "rate_limits": {"message_per_second": 2.5, "invite_per_second": 1, "burst_seconds": 4, "retry_after_s": 9},
    "dns": {"servers": ["192.0.2.53", "192.0.2.54:5353"], "srv": false, "min_ttl_s": 2, "max_ttl_s": 60,
            "negative_ttl_s": 3, "threads": 2}})");
  const auto& timers = config.proxy.timers;
  EXPECT_EQ(timers.t1, proxy::Millis(100));
  EXPECT_EQ(timers.t2, proxy::Millis(800));
  EXPECT_EQ(timers.t4, proxy::Millis(900));
  EXPECT_EQ(timers.timerC, proxy::Millis(1000));
  EXPECT_EQ(timers.linger, proxy::Millis(0));
  EXPECT_EQ(config.limits.maxConnections, 10u);
  EXPECT_EQ(config.limits.maxConnectionsPerSource, 2u);
  EXPECT_EQ(config.limits.idleTimeout, std::chrono::milliseconds(100));
  EXPECT_EQ(config.limits.headerTimeout, std::chrono::milliseconds(200));
  const auto& access = config.proxy.access;
  EXPECT_EQ(access.allowUdp.size(), 1u) << "allow covers every listener";
  EXPECT_EQ(access.allowTcp.size(), 1u);
  EXPECT_EQ(access.allowTls.size(), 2u) << "allow_tls overrides allow for TLS";
  EXPECT_TRUE(access.dropDenied);
  EXPECT_EQ(config.proxy.rates.messagesPerSecond, 2.5);
  EXPECT_EQ(config.proxy.rates.invitesPerSecond, 1.0);
  EXPECT_EQ(config.proxy.rates.burstSeconds, 4.0);
  EXPECT_EQ(config.proxy.rates.retryAfterSeconds, 9);
  ASSERT_EQ(config.dns.servers.size(), 2u);
  EXPECT_EQ(config.dns.servers[0].port(), 53) << "the port defaults to 53";
  EXPECT_EQ(config.dns.servers[1].port(), 5353);
  EXPECT_FALSE(config.dns.useSrv);
  EXPECT_EQ(config.dns.minTtl, std::chrono::seconds(2));
  EXPECT_EQ(config.dns.maxTtl, std::chrono::seconds(60));
  EXPECT_EQ(config.dns.negativeTtl, std::chrono::seconds(3));
  EXPECT_EQ(config.dns.threads, 2u);
}

TEST(AppConfig, TlsArchiveAndAdminBlocksAreRead) {
  const AppConfig config = parseConfig(std::string(R"({
    "tls": {"certificate": "hop.pem", "private_key": "hop.key", "ca": "ca.pem", "verify_client": "required",
            "allowed_subjects": ["alice-ua"], "verify_server": false, "client_certificate": "c.pem",
            "client_private_key": "c.key"},
    "archive": {"path": "/var/lib/sipwarden/archive.db", "hop_id": "hop-1", "batch_rows": 10, "batch_ms": 0,
                "queue_limit": 5, "conversation_gap_minutes": 2, "max_pages": 100, "retention_days": 30},
    )") + kAdmin + "}");
  EXPECT_TRUE(config.tlsSet);
  EXPECT_EQ(config.tls.certificateFile, "hop.pem") << "relative until loadConfigFile knows the file";
  EXPECT_EQ(config.tls.verifyClient, transport::ClientVerification::Required);
  EXPECT_EQ(config.tls.allowedSubjects, std::vector<std::string>{"alice-ua"});
  EXPECT_FALSE(config.tls.verifyServer);
  EXPECT_EQ(config.tls.clientPrivateKeyFile, "c.key");
  EXPECT_EQ(config.archive.url, "/var/lib/sipwarden/archive.db");
  EXPECT_EQ(config.archive.hopId, "hop-1");
  EXPECT_EQ(config.archive.batchRows, 10u);
  EXPECT_EQ(config.archive.batchTime, std::chrono::milliseconds(0));
  EXPECT_EQ(config.archive.queueLimit, 5u);
  EXPECT_EQ(config.archive.conversationGapMs, 120000);
  EXPECT_EQ(config.archive.maxPages, 100);
  EXPECT_EQ(config.archive.retentionDays, 30);
  EXPECT_TRUE(config.archive.checkpoints.keyPath.empty());
  EXPECT_TRUE(config.admin.enabled);
  ASSERT_EQ(config.admin.tokens.size(), 1u);
  EXPECT_EQ(config.admin.tokens[0].name, "prom");
}

TEST(AppConfig, UnknownKeysAreRefusedWithWhatIsExpected) {
  const std::string top = errorOf(R"({"listen_on": "udp:127.0.0.1:5060"})");
  EXPECT_EQ(top.rfind("listen_on: unknown key (expected one of: access, admin, advertise, archive, dns, ", 0), 0u) << top;
  EXPECT_EQ(errorOf(R"({"timers": {"t3_ms": 1}})"),
            "timers.t3_ms: unknown key (expected one of: linger_ms, t1_ms, t2_ms, t4_ms, timer_c_ms)");
  EXPECT_EQ(errorOf(R"({"tcp": {"max": 1}})").rfind("tcp.max: unknown key (expected one of: ", 0), 0u);
  EXPECT_EQ(errorOf(R"({"access": {"deny": []}})").rfind("access.deny: unknown key", 0), 0u);
  EXPECT_EQ(errorOf(R"({"rate_limits": {"per_second": 1}})").rfind("rate_limits.per_second: unknown key", 0), 0u);
  EXPECT_EQ(errorOf(R"({"tls": {"cert": "x"}})").rfind("tls.cert: unknown key", 0), 0u);
  EXPECT_EQ(errorOf(R"({"dns": {"server": "x"}})").rfind("dns.server: unknown key", 0), 0u);
  EXPECT_EQ(errorOf(R"({"archive": {"path": "a.db", "file": "x"}})").rfind("archive.file: unknown key", 0), 0u);
  EXPECT_EQ(errorOf(R"({"admin": {"colour": 1}})").rfind("admin.colour: unknown key", 0), 0u);
}

// Each block's errors, with the full key path and the texts operators see.
TEST(AppConfig, ErrorsNameTheKeyPath) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"timers": {"t1_ms": -3}})", "timers.t1_ms: expected an integer from 10 to 10000"},
      {R"({"timers": 5})", "timers: expected an object"},
      {R"({"tcp": {"idle_timeout_ms": "5m"}})", "tcp.idle_timeout_ms: expected an integer"},
      {R"({"access": {"allow": ["10.0.0/8"]}})", nullptr},  // access.allow[0]: Network's own words
      {R"({"access": {"denied": "ignore"}})", "access.denied: expected reject or drop"},
      {R"({"rate_limits": {"message_per_second": -1}})", "rate_limits.message_per_second: expected a number from 0 to 1000000"},
      {R"({"rate_limits": {"burst_seconds": "2"}})", "rate_limits.burst_seconds: expected a number"},
      {R"({"rate_limits": {"retry_after_s": 0}})", "rate_limits.retry_after_s: expected an integer from 1 to 3600"},
      {R"({"tls": {"certificate": "a.pem"}})", "tls.private_key: certificate and private_key go together"},
      {R"({"tls": {"client_private_key": "c.key"}})",
       "tls.client_certificate: client_certificate and client_private_key go together"},
      {R"({"tls": {"verify_client": "always"}})", "tls.verify_client: expected none|optional|required"},
      {R"({"tls": {"verify_client": "optional"}})", "tls.ca: verify_client needs the CA that signs client certificates"},
      {R"({"tls": {"ca": "ca.pem", "allowed_subjects": ["a"]}})", "tls.allowed_subjects: needs verify_client: required"},
      {R"({"tls": {"verify_server": "no"}})", "tls.verify_server: expected true or false"},
      {R"({"dns": {"servers": ["[::1]:53"]}})", "dns.servers[0]: expected an IPv4 address[:port]"},
      {R"({"dns": {"min_ttl_s": 100, "max_ttl_s": 10}})", "dns.min_ttl_s: must not exceed dns.max_ttl_s"},
      {R"({"dns": {"threads": 0}})", "dns.threads: expected an integer from 1 to 64"},
      {R"({"listen": ["udp:127.0.0.1:5060", "sctp:127.0.0.1:5060"]})",
       "listen[1]: listen: expected udp:HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT, got 'sctp:127.0.0.1:5060'"},
      {R"({"listen": 5060})", "listen: expected a list of strings"},
      {R"({"upstreams": ["10.0.0.2:5060;transport=sctp"]})",
       "upstreams[0]: upstreams: unknown parameter 'transport=sctp' (expected transport=udp, transport=tcp or transport=tls)"},
      {R"({"upstreams": ["10.0.0.2:70000"]})", "upstreams[0]: upstreams: bad port '70000'"},
      {R"({"advertise": 1})", "advertise: expected a string"},
      {R"({"record_route": "always"})", "record_route: expected dialog|off"},
      {R"({"udp_mtu": 70000})", "udp_mtu: expected an integer from 0 to 65535"},
      {R"({"max_message_size": 100})", "max_message_size: expected an integer from 1024 to 1048576"},
      {R"({"watchdog_ms": 10})", "watchdog_ms: expected an integer from 50 to 60000"},
      {R"({"plugins": {"plugin": "probe"}})", "plugins: expected a list of plugin blocks"},
      {R"({"plugin_dirs": [1]})", "plugin_dirs[0]: expected a string"},
      {R"({"on_unreadable": "ignore"})", "on_unreadable: expected block|flag|pass"},
      {R"({"archive": {"url": "a", "path": "b"}})", "archive.url: give url or path, not both"},
      {R"({"archive": {}})", "archive.path: expected a string"},
      {R"({"archive": {"path": ""}})", "archive.path: expected the SQLite file's path"},
      {R"({"archive": {"url": "mysql://x/y"}})", "archive.url: unknown archive scheme 'mysql': use sqlite:///path/to/file.db or postgresql://user@host/db"},
      {R"({"archive": {"path": "a.db", "hop_id": ""}})", "archive.hop_id: expected a non-empty name"},
      {R"({"archive": {"path": "a.db", "checkpoints": 1}})", "archive.checkpoints: expected an object"},
      {R"({"archive": {"path": "a.db", "checkpoints": {"dir": "/tmp"}}})",
       "archive.checkpoints.key: expected the path of the private key (sipwarden archive keygen)"},
      {R"({"admin": []})", "admin: expected an object"},
      {R"({"admin": {"tokens": [{"name": "a", "role": "root", "token": "0123456789abcdef"}]}})",
       "admin.tokens[0].role: expected metrics or auditor, got 'root'"},
  };
  for (const auto& [json, expected] : cases) {
    const std::string error = errorOf(json);
    if (expected) {
      EXPECT_EQ(error, expected) << json;
    } else {
      EXPECT_EQ(error.rfind("access.allow[0]: ", 0), 0u) << error;
    }
  }
}

TEST(AppConfig, TextThatIsNotJsonIsRefused) {
  EXPECT_EQ(errorOf("{\"listen\": ").rfind("config is not valid JSON: ", 0), 0u);
}

TEST(AppConfig, LineAndBlockCommentsAreAllowedButNotInsideStrings) {
  const AppConfig config = parseConfig(R"({
    // the next hop
    "advertise": "sip://hop//x", /* kept */
    "log_level": "debug" // trailing
  })");
  EXPECT_EQ(config.proxy.advertisedHost, "sip://hop//x");
  EXPECT_EQ(config.logLevel, "debug");
  EXPECT_EQ(parseConfig(R"({"advertise": "a\"//b"})").proxy.advertisedHost, "a\"//b") << "an escaped quote";
}

TEST(AppConfig, CheckpointKeysOthersCanReadAreRefused) {
  ScratchDir dir;
  const std::string key = dir.write("hop.key", "not checked here");
  ::chmod(key.c_str(), 0600);
  const std::string block = R"({"archive": {"path": "a.db", "checkpoints": {"key": ")" + key + R"(", "dir": ")" +
                            dir.path() + R"(", "every_rows": 5, "every_seconds": 7, "syslog": true, "post_url": "https://x/"}}})";
  const AppConfig config = parseConfig(block);
  EXPECT_EQ(config.archive.checkpoints.keyPath, key);
  EXPECT_EQ(config.archive.checkpoints.dir, dir.path());
  EXPECT_EQ(config.archive.checkpoints.everyRows, 5);
  EXPECT_EQ(config.archive.checkpoints.every, std::chrono::seconds(7));
  EXPECT_TRUE(config.archive.checkpoints.syslog);
  EXPECT_EQ(config.archive.checkpoints.postUrl, "https://x/");
  ::chmod(key.c_str(), 0640);
  EXPECT_EQ(errorOf(block), "archive.checkpoints.key: " + key +
                                " may be read by group or others: chmod 600 it (like ssh, a key others can read is refused)");
  ::chmod(key.c_str(), 0600);
  const std::string missingDir = R"({"archive": {"path": "a.db", "checkpoints": {"key": ")" + key + R"(", "dir": ")" +
                                 dir.path() + R"(/nowhere"}}})";
  EXPECT_EQ(errorOf(missingDir), "archive.checkpoints.dir: " + dir.path() + "/nowhere is not a directory");
  const std::string ftp = R"({"archive": {"path": "a.db", "checkpoints": {"key": ")" + key + R"(", "dir": ")" +
                          dir.path() + R"(", "post_url": "ftp://x/"}}})";
  EXPECT_EQ(errorOf(ftp), "archive.checkpoints.post_url: expected an http:// or https:// URL");
}

TEST(AppConfig, RelativeTlsPathsFollowTheConfigFile) {
  ScratchDir dir;
  const std::string path = dir.write("etc/sipwarden.json", R"({
    "tls": {"certificate": "tls/hop.pem", "private_key": "/abs/hop.key", "ca": "ca.pem"},
    "admin": {"tls": {"certificate": "admin.pem", "private_key": "admin.key"},
              "tokens": [{"name": "prom", "role": "metrics", "token": "0123456789abcdef"}]}})");
  const AppConfig config = loadConfigFile(path);
  const std::string etc = dir.path() + "/etc/";
  EXPECT_EQ(config.configPath, path);
  EXPECT_EQ(config.tls.certificateFile, etc + "tls/hop.pem");
  EXPECT_EQ(config.tls.privateKeyFile, "/abs/hop.key");
  EXPECT_EQ(config.tls.caFile, etc + "ca.pem");
  EXPECT_EQ(config.admin.tlsCertificate, etc + "admin.pem");
  EXPECT_EQ(config.admin.tlsPrivateKey, etc + "admin.key");
  EXPECT_EQ(thrownError([&] { loadConfigFile(dir.path() + "/missing.json"); }),
            dir.path() + "/missing.json: cannot read the file");
}

TEST(AppConfig, ListenAndUpstreamForms) {
  const ListenAddress tls = parseListen("tls:[2001:db8::1]:5061");
  EXPECT_EQ(tls.protocol, transport::Protocol::Tls);
  EXPECT_EQ(tls.host, "2001:db8::1");
  EXPECT_EQ(tls.port, 5061);
  EXPECT_THROW(parseListen("UDP:127.0.0.1:5060"), ConfigError) << "protocols are lower case";
  EXPECT_EQ(thrownError([] { parseListen("udp:127.0.0.1"); }), "listen: expected HOST:PORT, got '127.0.0.1'");
  EXPECT_EQ(thrownError([] { parseListen("udp:127.0.0.1:x"); }), "listen: bad port 'x'");
  const proxy::Upstream plain = parseUpstream("sip.example.com:5080");
  EXPECT_EQ(plain.host, "sip.example.com");
  EXPECT_EQ(plain.port, 5080);
  EXPECT_EQ(plain.protocol, transport::Protocol::Udp);
  EXPECT_EQ(parseUpstream("[::1]:5061;transport=tls").protocol, transport::Protocol::Tls);
  EXPECT_THROW(parseUpstream("10.0.0.1:5060;transport=TCP"), ConfigError);
}

TEST(AppConfig, FinalizeFillsListenersPortsAndTheAdvertisedHost) {
  AppConfig config = parseConfig("{}");
  finalizeConfig(config);
  ASSERT_EQ(config.listen.size(), 2u);
  EXPECT_EQ(config.listen[0].protocol, transport::Protocol::Udp);
  EXPECT_EQ(config.listen[1].protocol, transport::Protocol::Tcp);
  EXPECT_EQ(config.proxy.advertisedHost, "127.0.0.1");
  EXPECT_EQ(config.proxy.udpPort, 5060);
  EXPECT_EQ(config.proxy.tcpPort, 5060);
  EXPECT_EQ(config.proxy.tlsPort, 0);

  AppConfig udpOnly = parseConfig(R"({"listen": "udp:192.0.2.9:5070"})");
  finalizeConfig(udpOnly);
  EXPECT_EQ(udpOnly.proxy.advertisedHost, "192.0.2.9");
  EXPECT_EQ(udpOnly.proxy.udpPort, 5070);
  EXPECT_EQ(udpOnly.proxy.tcpPort, 0) << "no TCP listener, no TCP port";

  AppConfig advertised = parseConfig(R"({"listen": "udp:0.0.0.0:5060", "advertise": "hop.example.com"})");
  finalizeConfig(advertised);
  EXPECT_EQ(advertised.proxy.advertisedHost, "hop.example.com");
}

TEST(AppConfig, FinalizeRefusesWhatOnlyAWholeConfigGetsWrong) {
  auto finalError = [](const std::string& json) {
    return thrownError([&] {
      AppConfig config = parseConfig(json);
      finalizeConfig(config);
    });
  };
  EXPECT_EQ(finalError(R"({"log_level": "loud"})"),
            "log_level: expected one of fatal|critical|error|warning|notice|information|debug|trace");
  EXPECT_EQ(finalError(R"({"listen": ["udp:127.0.0.1:5060", "udp:127.0.0.1:5062"]})"),
            "listen: at most one UDP, one TCP and one TLS listener in this version");
  EXPECT_EQ(finalError(R"({"listen": "udp:0.0.0.0:5060"})"), "advertise: required when listening on a wildcard address");
  EXPECT_EQ(finalError(R"({"listen": "tls:127.0.0.1:5061"})"),
            "tls.certificate: a tls: listener needs tls.certificate and tls.private_key");
  EXPECT_EQ(finalError(R"({"tls": {"certificate": "/nonexistent/hop.pem", "private_key": "/nonexistent/hop.key"}})")
                .rfind("tls: ", 0),
            0u);
}

TEST(AppConfig, PluginBlocksReachTheLoaderWithTheirPath) {
  pipeline::registerBuiltinPlugin(plugins::probe::descriptor());
  const auto chain = buildChain(parseConfig(R"({"plugins": [{"plugin": "probe", "action": "reply", "code": 488}]})"));
  ASSERT_EQ(chain->entries().size(), 1u);
  EXPECT_EQ(chain->entries()[0].label, "plugins[0] (probe)");
  EXPECT_EQ(thrownError([] { buildChain(parseConfig(R"({"plugins": [{"plugin": "probe"}, {"plugin": "probe", "action": "x"}]})")); }),
            "plugins[1].action: expected continue|reply|drop|error|throw");
  EXPECT_EQ(thrownError([] { buildChain(parseConfig(R"({"plugins": [{"plugin": "probe", "colour": "blue"}]})")); }),
            "plugins[0].colour: unknown key");
  EXPECT_EQ(buildChain(parseConfig("{}"))->entries().size(), 0u);
}

}  // namespace
}  // namespace sipwarden::app
