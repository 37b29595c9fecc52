#include "admin/settings.h"

#include <Poco/Net/IPAddress.h>

#include <fstream>
#include <set>
#include <sstream>

namespace sipwarden::admin {
namespace {

using config::ConfigError;
using config::Reader;

// For errors at a path no reader holds (a line of a token file).
[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw ConfigError(path + ": " + message);
}

Role parseRole(const std::string& role, const std::string& path) {
  if (role == "metrics") return Role::Metrics;
  if (role == "auditor") return Role::Auditor;
  fail(path, "expected metrics or auditor, got '" + role + "'");
}

void checkSecret(const std::string& secret, const std::string& path) {
  if (secret.size() < kMinTokenLength) {
    fail(path, "a token needs at least " + std::to_string(kMinTokenLength) + " characters");
  }
  for (char c : secret) {
    if (c <= ' ' || c == 0x7f) fail(path, "a token cannot contain spaces or control characters");
  }
}

std::string readSecret(const std::string& file, const std::string& path) {
  std::ifstream in(file);
  if (!in) fail(path, "cannot read " + file);
  std::string secret;
  std::getline(in, secret);
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  return secret;
}

// An optional integer key within [low, high]. The admin block words a value
// of the wrong type as one out of range ("expected an integer from 1 to
// 64"), where the rest of the config says "expected an integer".
template <typename Number>
void bounded(Reader& block, std::string_view key, std::int64_t low, std::int64_t high, Number& out) {
  if (block.has(key) && block.kind(key) != Reader::Kind::Integer) {
    block.fail(key, "expected an integer from " + std::to_string(low) + " to " + std::to_string(high));
  }
  out = static_cast<Number>(block.getInteger(key, static_cast<std::int64_t>(out), low, high));
}

void readLimits(Reader& block, ConnectionLimits& limits) {
  bounded(block, "header_timeout_ms", 100, 600'000, limits.headerTimeoutMs);
  bounded(block, "body_timeout_ms", 100, 600'000, limits.bodyTimeoutMs);
  bounded(block, "idle_timeout_ms", 100, 3'600'000, limits.idleTimeoutMs);
  bounded(block, "write_timeout_ms", 100, 3'600'000, limits.writeTimeoutMs);
  bounded(block, "max_connections", 1, 10'000, limits.maxConnections);
  bounded(block, "max_connections_per_address", 1, 10'000, limits.maxConnectionsPerAddress);
  bounded(block, "max_header_bytes", 1024, 1024 * 1024, limits.maxHeaderBytes);
  bounded(block, "max_body_bytes", 0, 64 * 1024 * 1024, limits.maxBodyBytes);
}

// "tls": {"certificate", "private_key"}: HTTPS for the admin server.
void readTls(Reader& block, AdminSettings& s) {
  Reader* tls = block.getObject("tls", "expected an object {certificate, private_key}");
  if (!tls) return;
  tls->refuseUnknown({"certificate", "private_key"});
  if (!tls->has("certificate")) tls->fail("certificate", "required");
  if (!tls->has("private_key")) tls->fail("private_key", "required");
  s.tlsCertificate = tls->getString("certificate", "");
  s.tlsPrivateKey = tls->getString("private_key", "");
}

// "listen": "HOST:PORT", the host possibly an IPv6 reference in brackets.
void readListen(Reader& block, AdminSettings& s) {
  if (!block.has("listen")) return;
  const std::string listen = block.getString("listen", "");
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) block.fail("listen", "expected HOST:PORT, got '" + listen + "'");
  s.host = listen.substr(0, colon);
  if (s.host.size() > 2 && s.host.front() == '[' && s.host.back() == ']') s.host = s.host.substr(1, s.host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    block.fail("listen", "bad port '" + port + "'");
  }
  s.port = static_cast<std::uint16_t>(std::stoi(port));
}

// Without TLS, tokens travel in clear text: unless told otherwise the
// server then only listens where nobody else can reach it.
void checkReach(Reader& block, const AdminSettings& s) {
  Poco::Net::IPAddress address;
  const bool loopback = s.host == "localhost" || (Poco::Net::IPAddress::tryParse(s.host, address) && address.isLoopback());
  if (!loopback && !s.allowRemote && s.tlsCertificate.empty()) {
    block.fail("listen", "'" + s.host + "' is not a loopback address; tokens would cross the network in clear text "
                         "(configure admin.tls, or set admin.allow_remote: true to accept that)");
  }
}

// "tokens": [{name, role, token | token_file}], then the lines of "token_file".
void readTokens(Reader& block, std::vector<Token>& tokens) {
  constexpr std::string_view kShape = "{name, role, token | token_file}";
  if (block.kind("tokens") == Reader::Kind::Object) block.fail("tokens", "expected a list of " + std::string(kShape));
  for (Reader* entry : block.getObjects("tokens", "expected a list of " + std::string(kShape),
                                        "expected an object " + std::string(kShape))) {
    entry->refuseUnknown({"name", "role", "token", "token_file"});
    Token token;
    token.name = entry->requireString("name");
    if (token.name.empty()) entry->fail("name", "expected a name");
    token.role = parseRole(entry->requireString("role"), entry->pathOf("role"));
    if (entry->has("token") == entry->has("token_file")) entry->fail("", "expected one of token or token_file");
    token.secret = entry->has("token") ? entry->requireString("token")
                                       : readSecret(entry->requireString("token_file"), entry->pathOf("token_file"));
    checkSecret(token.secret, entry->pathOf(entry->has("token") ? "token" : "token_file"));
    tokens.push_back(std::move(token));
  }
  if (block.has("token_file")) {
    for (auto& token : readTokenFile(block.requireString("token_file"), block.pathOf("token_file"))) {
      tokens.push_back(std::move(token));
    }
  }
  std::set<std::string> names;
  for (const auto& token : tokens) {
    if (!names.insert(token.name).second) block.fail("tokens", "the name '" + token.name + "' is used twice");
  }
  if (tokens.empty()) block.fail("tokens", "expected at least one token (or admin.token_file)");
}

}  // namespace

std::vector<Token> readTokenFile(const std::string& file, const std::string& where) {
  std::ifstream in(file);
  if (!in) fail(where, "cannot read " + file);
  std::vector<Token> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string at = where + " (" + file + " line " + std::to_string(number) + ")";
    std::istringstream fields(line);
    std::string name, role, secret, extra;
    if (!(fields >> name) || name.starts_with("#")) continue;
    if (!(fields >> role >> secret) || (fields >> extra)) fail(at, "expected NAME ROLE TOKEN");
    Token token{name, parseRole(role, at), secret};
    checkSecret(secret, at);
    out.push_back(std::move(token));
  }
  return out;
}

AdminSettings readAdminSettings(Reader& block) {
  AdminSettings s;
  s.enabled = true;
  block.refuseUnknown({"listen", "allow_remote", "tokens", "token_file", "threads", "tls", "header_timeout_ms",
                       "body_timeout_ms", "idle_timeout_ms", "write_timeout_ms", "max_connections",
                       "max_connections_per_address", "max_header_bytes", "max_body_bytes"});
  readTls(block, s);
  readListen(block, s);
  s.allowRemote = block.getBool("allow_remote", s.allowRemote);
  bounded(block, "threads", 1, 64, s.threads);
  readLimits(block, s.limits);
  checkReach(block, s);
  readTokens(block, s.tokens);
  return s;
}

}  // namespace sipwarden::admin
