#include "admin/auth.h"

#include <Poco/SHA2Engine.h>

namespace sipwarden::admin {
namespace {

std::string digest(const std::string& secret) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(secret);
  const auto& bytes = engine.digest();
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

bool constantTimeEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

Authenticator::Authenticator(const std::vector<Token>& tokens) {
  for (const auto& token : tokens) entries_.push_back({{token.name, token.role}, digest(token.secret)});
}

std::optional<Identity> Authenticator::check(const std::string& authorization) const {
  static const std::string scheme = "Bearer ";
  if (authorization.size() <= scheme.size()) return std::nullopt;
  // The scheme is case-insensitive (RFC 7235 §2.1).
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i]))) {
      return std::nullopt;
    }
  }
  // Digests all have the same length, so comparing them takes the same time
  // whatever was sent; every entry is compared, matched or not.
  const std::string presented = digest(authorization.substr(scheme.size()));
  std::optional<Identity> found;
  for (const auto& entry : entries_) {
    if (constantTimeEqual(presented, entry.digest) && !found) found = entry.identity;
  }
  return found;
}

}  // namespace sipwarden::admin
