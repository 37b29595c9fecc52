#pragma once
// The admin server's configuration: the `admin` block of the config file.
//
//   "admin": {"listen": "127.0.0.1:8080", "allow_remote": false,
//             "tokens": [{"name": "prometheus", "role": "metrics", "token": "..."},
//                        {"name": "carol", "role": "auditor", "token_file": "/etc/sipwarden/carol.token"}],
//             "token_file": "/etc/sipwarden/tokens",   // lines: NAME ROLE TOKEN
//             "tls": {"certificate": "admin.pem", "private_key": "admin.key"},  // HTTPS
//             "header_timeout_ms": 5000, "max_connections": 256, ...}  // ConnectionLimits
//
// Validated once at start through the config reader (config/reader.h): an
// error is a config::ConfigError naming the key path
// ("admin.tokens[1].role: expected metrics or auditor, got 'root'").

#include <Poco/Net/Context.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/reader.h"

namespace sipwarden::admin {

enum class Role { Metrics, Auditor };

struct Token {
  std::string name;  // who the audit trail names ("api:NAME")
  Role role = Role::Metrics;
  std::string secret;
};

// What one client may cost the admin server: every connection is read by
// one poll thread within these deadlines and caps, and only a complete
// request reaches a worker thread (see server.cc).
struct ConnectionLimits {
  int headerTimeoutMs = 5000;   // accept (or first byte after idle) to the end of the head, TLS handshake included
  int bodyTimeoutMs = 10000;    // end of the head to the end of the body
  int idleTimeoutMs = 10000;    // keep-alive: a finished response to the next request's first byte
  int writeTimeoutMs = 30000;   // a whole response taken by the client
  int maxConnections = 256;     // open at once, all addresses
  int maxConnectionsPerAddress = 32;
  std::size_t maxHeaderBytes = 16 * 1024;  // request line and headers
  std::size_t maxBodyBytes = 64 * 1024;

  bool operator==(const ConnectionLimits&) const = default;
};

struct AdminSettings {
  bool enabled = false;  // an `admin` block was present
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  bool allowRemote = false;
  // HTTPS: PEM files (relative to the config file), and the context loaded
  // from them by the config loader before start.
  std::string tlsCertificate;
  std::string tlsPrivateKey;
  Poco::Net::Context::Ptr tlsContext;
  std::vector<Token> tokens;
  int threads = 8;
  ConnectionLimits limits;
};

constexpr std::size_t kMinTokenLength = 16;

// Called by the config loader with the reader of the `admin` block (a
// throwing one: the first error stops the start). Reads token files now, so
// a missing file fails the start, not the first request.
AdminSettings readAdminSettings(config::Reader& block);

// Lines "NAME ROLE TOKEN"; blank lines and lines starting with # skipped.
// `where` prefixes errors (the key that named the file).
std::vector<Token> readTokenFile(const std::string& path, const std::string& where);

}  // namespace sipwarden::admin
