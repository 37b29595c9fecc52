#pragma once
// Request validation a proxy owes before forwarding (RFC 3261 §16.3) and the
// structural checks that decide whether a response can be relayed at all.

#include <cstddef>

#include "sip/message.h"
#include "sipwarden/verdict.h"

namespace sipwarden::proxy {

struct SanityLimits {
  std::size_t maxMessageSize = 65536;
};

// Called for every request that parsed (possibly with a ParseFailure) before
// the transaction layer sees it. Continue means the request is fit to be
// proxied; otherwise the verdict carries the local reply (400, 416, 420, 483,
// 505, 513) or Drop when no reply can be addressed.
Verdict checkRequest(const sip::Message& request, const sip::ParseFailure& failure, const SanityLimits& limits);

// True when a response carries what is needed to relay it (a Via to follow,
// a CSeq to match). Others are dropped and counted under `reason`.
bool checkResponse(const sip::Message& response, const sip::ParseFailure& failure, std::string& reason);

}  // namespace sipwarden::proxy
