#pragma once
// How a request finds its transaction (RFC 3261 §17.2.3), and the To tag
// the hop puts on its own replies to it.

#include <cstdint>
#include <string>
#include <string_view>

#include "sip/message.h"

namespace sipwarden::proxy {

// The server transaction key: branch, sent-by and method; RFC 2543 elements
// (no magic cookie) are matched on the request's identifying fields
// instead. `method` is INVITE when matching an ACK or CANCEL to its INVITE.
std::string serverTransactionKey(const sip::Message& request, std::string_view method);
// FNV-1a: cheap, stable across runs, for branches, loop hashes and tags
// (none of them is a secret or needs to resist collisions by design).
inline std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 1469598103934665603ULL) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

// A To tag derived from `key`, so a retransmitted request gets the same one.
std::string replyTagFor(std::string_view key);

}  // namespace sipwarden::proxy
