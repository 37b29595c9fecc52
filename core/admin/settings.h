#pragma once
// The admin server's configuration: the `admin` block of the config file.
//
//   "admin": {"listen": "127.0.0.1:8080", "allow_remote": false,
//             "tokens": [{"name": "prometheus", "role": "metrics", "token": "..."},
//                        {"name": "carol", "role": "auditor", "token_file": "/etc/sipwarden/carol.token"}],
//             "token_file": "/etc/sipwarden/tokens",   // lines: NAME ROLE TOKEN
//             "tls": {"certificate": "admin.pem", "private_key": "admin.key"}}  // HTTPS
//
// Validated once at start; an error names the key path.

#include <Poco/JSON/Object.h>
#include <Poco/Net/Context.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sipwarden::admin {

// "admin.tokens[1].role: expected metrics or auditor"
class SettingsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Role { Metrics, Auditor };

struct Token {
  std::string name;  // who the audit trail names ("api:NAME")
  Role role = Role::Metrics;
  std::string secret;
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
};

constexpr std::size_t kMinTokenLength = 16;

// Called by the config loader with the `admin` object. Reads token files
// now, so a missing file fails the start, not the first request.
AdminSettings parseAdminSettings(const Poco::JSON::Object& object);

// Lines "NAME ROLE TOKEN"; blank lines and lines starting with # skipped.
// `where` prefixes errors (the key that named the file).
std::vector<Token> readTokenFile(const std::string& path, const std::string& where);

}  // namespace sipwarden::admin
