// The blocks that shape the SIP side of the hop: admission, TLS, DNS,
// transaction timers and TCP limits.
#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>

#include "app/config_blocks.h"

namespace sipwarden::app {
namespace {

using config::Reader;

std::vector<proxy::Network> getNetworks(Reader& block, std::string_view key,
                                        const std::vector<proxy::Network>& fallback) {
  if (!block.has(key)) return fallback;
  std::vector<proxy::Network> out;
  const auto texts = block.getStrings(key, {});
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      out.push_back(proxy::Network::parse(texts[i]));
    } catch (const std::invalid_argument& error) {
      block.fail(std::string(key) + "[" + std::to_string(i) + "]", error.what());
    }
  }
  return out;
}

}  // namespace

void readAdmission(Reader& top, proxy::ProxyConfig& proxy) {
  if (Reader* access = top.getObject("access")) {
    access->refuseUnknown({"allow", "allow_udp", "allow_tcp", "allow_tls", "denied"});
    auto& rules = proxy.access;
    if (access->has("allow")) rules.allowUdp = rules.allowTcp = rules.allowTls = getNetworks(*access, "allow", {});
    rules.allowUdp = getNetworks(*access, "allow_udp", rules.allowUdp);
    rules.allowTcp = getNetworks(*access, "allow_tcp", rules.allowTcp);
    rules.allowTls = getNetworks(*access, "allow_tls", rules.allowTls);
    if (access->has("denied")) {
      const std::string denied = access->getString("denied", "");
      if (denied != "reject" && denied != "drop") access->fail("denied", "expected reject or drop");
      rules.dropDenied = denied == "drop";
    }
  }
  if (Reader* rates = top.getObject("rate_limits")) {
    rates->refuseUnknown({"message_per_second", "invite_per_second", "burst_seconds", "retry_after_s"});
    auto& r = proxy.rates;
    r.messagesPerSecond = rates->getNumber("message_per_second", r.messagesPerSecond, 0, 1e6);
    r.invitesPerSecond = rates->getNumber("invite_per_second", r.invitesPerSecond, 0, 1e6);
    r.burstSeconds = rates->getNumber("burst_seconds", r.burstSeconds, 0, 3600);
    r.retryAfterSeconds = static_cast<int>(rates->getInteger("retry_after_s", r.retryAfterSeconds, 1, 3600));
  }
}

void readTls(Reader& top, AppConfig& config) {
  Reader* tls = top.getObject("tls");
  if (!tls) return;
  tls->refuseUnknown({"certificate", "private_key", "ca", "verify_client", "allowed_subjects", "verify_server",
                      "client_certificate", "client_private_key"});
  auto& settings = config.tls;
  config.tlsSet = true;
  settings.certificateFile = tls->getString("certificate", settings.certificateFile);
  settings.privateKeyFile = tls->getString("private_key", settings.privateKeyFile);
  settings.caFile = tls->getString("ca", settings.caFile);
  settings.clientCertificateFile = tls->getString("client_certificate", settings.clientCertificateFile);
  settings.clientPrivateKeyFile = tls->getString("client_private_key", settings.clientPrivateKeyFile);
  if (settings.certificateFile.empty() != settings.privateKeyFile.empty()) {
    tls->fail(settings.certificateFile.empty() ? "certificate" : "private_key", "certificate and private_key go together");
  }
  if (settings.clientCertificateFile.empty() != settings.clientPrivateKeyFile.empty()) {
    tls->fail(settings.clientCertificateFile.empty() ? "client_certificate" : "client_private_key",
              "client_certificate and client_private_key go together");
  }
  if (tls->has("verify_client")) {
    const std::string mode = tls->getChoice("verify_client", {"none", "optional", "required"}, "none");
    settings.verifyClient = mode == "required"   ? transport::ClientVerification::Required
                            : mode == "optional" ? transport::ClientVerification::Optional
                                                 : transport::ClientVerification::None;
  }
  if (settings.verifyClient != transport::ClientVerification::None && settings.caFile.empty()) {
    tls->fail("ca", "verify_client needs the CA that signs client certificates");
  }
  if (tls->has("allowed_subjects")) {
    settings.allowedSubjects = tls->getStrings("allowed_subjects", {});
    if (settings.verifyClient != transport::ClientVerification::Required) {
      tls->fail("allowed_subjects", "needs verify_client: required");
    }
  }
  settings.verifyServer = tls->getBool("verify_server", settings.verifyServer);
}

void readDns(Reader& top, proxy::DnsSettings& dns) {
  Reader* block = top.getObject("dns");
  if (!block) return;
  block->refuseUnknown({"servers", "srv", "min_ttl_s", "max_ttl_s", "negative_ttl_s", "threads"});
  dns.threads = static_cast<std::size_t>(block->getInteger("threads", static_cast<std::int64_t>(dns.threads), 1, 64));
  const auto servers = block->getStrings("servers", {});
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const std::string key = "servers[" + std::to_string(i) + "]";
    try {
      const std::string text = servers[i].find(':') == std::string::npos ? servers[i] + ":53" : servers[i];
      Poco::Net::SocketAddress address(text);
      if (address.family() != Poco::Net::SocketAddress::IPv4) block->fail(key, "expected an IPv4 address[:port]");
      dns.servers.push_back(address);
    } catch (const Poco::Exception& error) {
      block->fail(key, "expected an IPv4 address[:port]: " + error.displayText());
    }
  }
  dns.useSrv = block->getBool("srv", dns.useSrv);
  dns.minTtl = std::chrono::seconds(block->getInteger("min_ttl_s", dns.minTtl.count(), 1, 86400));
  dns.maxTtl = std::chrono::seconds(block->getInteger("max_ttl_s", dns.maxTtl.count(), 1, 86400));
  dns.negativeTtl = std::chrono::seconds(block->getInteger("negative_ttl_s", dns.negativeTtl.count(), 1, 86400));
  if (dns.minTtl > dns.maxTtl) block->fail("min_ttl_s", "must not exceed dns.max_ttl_s");
}

void readTimers(Reader& top, proxy::TimerSettings& t) {
  Reader* timers = top.getObject("timers");
  if (!timers) return;
  timers->refuseUnknown({"t1_ms", "t2_ms", "t4_ms", "timer_c_ms", "linger_ms"});
  t.t1 = proxy::Millis(timers->getInteger("t1_ms", t.t1.count(), 10, 10000));
  t.t2 = proxy::Millis(timers->getInteger("t2_ms", t.t2.count(), 10, 60000));
  t.t4 = proxy::Millis(timers->getInteger("t4_ms", t.t4.count(), 10, 60000));
  t.linger = proxy::Millis(timers->getInteger("linger_ms", t.linger.count(), 0, 64000));
  t.timerC = proxy::Millis(timers->getInteger("timer_c_ms", t.timerC.count(), 1000, 3600000));
}

void readTcp(Reader& top, transport::TransportLimits& limits) {
  Reader* tcp = top.getObject("tcp");
  if (!tcp) return;
  tcp->refuseUnknown({"max_connections", "max_connections_per_source", "idle_timeout_ms", "header_timeout_ms"});
  limits.maxConnectionsPerSource = static_cast<std::size_t>(tcp->getInteger(
      "max_connections_per_source", static_cast<std::int64_t>(limits.maxConnectionsPerSource), 1, 1000000));
  limits.maxConnections = static_cast<std::size_t>(
      tcp->getInteger("max_connections", static_cast<std::int64_t>(limits.maxConnections), 1, 1000000));
  limits.idleTimeout =
      std::chrono::milliseconds(tcp->getInteger("idle_timeout_ms", limits.idleTimeout.count(), 100, 86400000));
  limits.headerTimeout =
      std::chrono::milliseconds(tcp->getInteger("header_timeout_ms", limits.headerTimeout.count(), 100, 3600000));
}

}  // namespace sipwarden::app
