#include "admin/settings.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/IPAddress.h>

#include <fstream>
#include <set>
#include <sstream>

namespace sipwarden::admin {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw SettingsError(path + ": " + message);
}

void rejectUnknown(const Poco::JSON::Object& object, const std::string& path, const std::set<std::string>& known) {
  for (const auto& [key, value] : object) {
    if (!known.count(key)) {
      std::string list;
      for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
      fail(path + "." + key, "unknown key (expected one of: " + list + ")");
    }
  }
}

std::string text(const Poco::JSON::Object& object, const std::string& path, const std::string& key) {
  const Poco::Dynamic::Var value = object.get(key);
  if (!value.isString()) fail(path + "." + key, "expected a string");
  return value.extract<std::string>();
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

// An optional integer key within [low, high]; the error names the key.
template <typename Number>
void bounded(const Poco::JSON::Object& object, const std::string& key, std::int64_t low, std::int64_t high,
             Number& out) {
  if (!object.has(key)) return;
  const Poco::Dynamic::Var value = object.get(key);
  if (!value.isInteger() || value.convert<std::int64_t>() < low || value.convert<std::int64_t>() > high) {
    fail("admin." + key, "expected an integer from " + std::to_string(low) + " to " + std::to_string(high));
  }
  out = static_cast<Number>(value.convert<std::int64_t>());
}

void readLimits(const Poco::JSON::Object& object, ConnectionLimits& limits) {
  bounded(object, "header_timeout_ms", 100, 600'000, limits.headerTimeoutMs);
  bounded(object, "body_timeout_ms", 100, 600'000, limits.bodyTimeoutMs);
  bounded(object, "idle_timeout_ms", 100, 3'600'000, limits.idleTimeoutMs);
  bounded(object, "write_timeout_ms", 100, 3'600'000, limits.writeTimeoutMs);
  bounded(object, "max_connections", 1, 10'000, limits.maxConnections);
  bounded(object, "max_connections_per_address", 1, 10'000, limits.maxConnectionsPerAddress);
  bounded(object, "max_header_bytes", 1024, 1024 * 1024, limits.maxHeaderBytes);
  bounded(object, "max_body_bytes", 0, 64 * 1024 * 1024, limits.maxBodyBytes);
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

AdminSettings parseAdminSettings(const Poco::JSON::Object& object) {
  AdminSettings s;
  s.enabled = true;
  rejectUnknown(object, "admin", {"listen", "allow_remote", "tokens", "token_file", "threads", "tls", "header_timeout_ms",
                                  "body_timeout_ms", "idle_timeout_ms", "write_timeout_ms", "max_connections",
                                  "max_connections_per_address", "max_header_bytes", "max_body_bytes"});
  if (object.has("tls")) {
    Poco::JSON::Object::Ptr tls = object.getObject("tls");
    if (!tls) fail("admin.tls", "expected an object {certificate, private_key}");
    rejectUnknown(*tls, "admin.tls", {"certificate", "private_key"});
    if (!tls->has("certificate")) fail("admin.tls.certificate", "required");
    if (!tls->has("private_key")) fail("admin.tls.private_key", "required");
    s.tlsCertificate = text(*tls, "admin.tls", "certificate");
    s.tlsPrivateKey = text(*tls, "admin.tls", "private_key");
  }
  if (object.has("listen")) {
    const std::string listen = text(object, "admin", "listen");
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) fail("admin.listen", "expected HOST:PORT, got '" + listen + "'");
    s.host = listen.substr(0, colon);
    if (s.host.size() > 2 && s.host.front() == '[' && s.host.back() == ']') s.host = s.host.substr(1, s.host.size() - 2);
    const std::string port = listen.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) > 65535) {
      fail("admin.listen", "bad port '" + port + "'");
    }
    s.port = static_cast<std::uint16_t>(std::stoi(port));
  }
  if (object.has("allow_remote")) {
    const Poco::Dynamic::Var value = object.get("allow_remote");
    if (!value.isBoolean()) fail("admin.allow_remote", "expected true or false");
    s.allowRemote = value.extract<bool>();
  }
  if (object.has("threads")) {
    const Poco::Dynamic::Var value = object.get("threads");
    if (!value.isInteger() || value.convert<int>() < 1 || value.convert<int>() > 64) {
      fail("admin.threads", "expected an integer from 1 to 64");
    }
    s.threads = value.convert<int>();
  }
  readLimits(object, s.limits);
  // Without TLS, tokens travel in clear text: unless told otherwise the
  // server then only listens where nobody else can reach it.
  Poco::Net::IPAddress address;
  const bool loopback = s.host == "localhost" || (Poco::Net::IPAddress::tryParse(s.host, address) && address.isLoopback());
  if (!loopback && !s.allowRemote && s.tlsCertificate.empty()) {
    fail("admin.listen", "'" + s.host + "' is not a loopback address; tokens would cross the network in clear text "
                         "(configure admin.tls, or set admin.allow_remote: true to accept that)");
  }
  if (object.has("tokens")) {
    Poco::JSON::Array::Ptr tokens = object.getArray("tokens");
    if (!tokens) fail("admin.tokens", "expected a list of {name, role, token | token_file}");
    for (unsigned i = 0; i < tokens->size(); ++i) {
      const std::string path = "admin.tokens[" + std::to_string(i) + "]";
      Poco::JSON::Object::Ptr entry = tokens->getObject(i);
      if (!entry) fail(path, "expected an object {name, role, token | token_file}");
      rejectUnknown(*entry, path, {"name", "role", "token", "token_file"});
      Token token;
      token.name = text(*entry, path, "name");
      if (token.name.empty()) fail(path + ".name", "expected a name");
      token.role = parseRole(text(*entry, path, "role"), path + ".role");
      if (entry->has("token") == entry->has("token_file")) fail(path, "expected one of token or token_file");
      token.secret = entry->has("token") ? text(*entry, path, "token")
                                         : readSecret(text(*entry, path, "token_file"), path + ".token_file");
      checkSecret(token.secret, path + (entry->has("token") ? ".token" : ".token_file"));
      s.tokens.push_back(std::move(token));
    }
  }
  if (object.has("token_file")) {
    for (auto& token : readTokenFile(text(object, "admin", "token_file"), "admin.token_file")) {
      s.tokens.push_back(std::move(token));
    }
  }
  std::set<std::string> names;
  for (const auto& token : s.tokens) {
    if (!names.insert(token.name).second) fail("admin.tokens", "the name '" + token.name + "' is used twice");
  }
  if (s.tokens.empty()) fail("admin.tokens", "expected at least one token (or admin.token_file)");
  return s;
}

}  // namespace sipwarden::admin
