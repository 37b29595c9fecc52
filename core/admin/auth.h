#pragma once
// Bearer-token check for the admin server. Secrets are kept as SHA-256
// digests and compared in constant time against every configured token, so
// neither the match position nor the secret's length leaks through timing.

#include <optional>
#include <string>
#include <vector>

#include "admin/settings.h"

namespace sipwarden::admin {

struct Identity {
  std::string name;
  Role role = Role::Metrics;
};

class Authenticator {
 public:
  explicit Authenticator(const std::vector<Token>& tokens);
  // Called per request with the Authorization header's value (may be
  // empty). The identity for "Bearer <valid token>", else nullopt.
  std::optional<Identity> check(const std::string& authorization) const;

 private:
  struct Entry {
    Identity identity;
    std::string digest;  // SHA-256 of the secret, raw bytes
  };
  std::vector<Entry> entries_;
};

// True when a and b are equal; the time taken depends only on their length.
bool constantTimeEqual(const std::string& a, const std::string& b);

}  // namespace sipwarden::admin
