#pragma once
// Messages the proxy writes itself: local replies, and the ACK and CANCEL a
// stateful proxy sends downstream on its own (RFC 3261 §17.1.1.3, §9.1).

#include <string>
#include <string_view>

#include "sip/message.h"
#include "sipwarden/verdict.h"

namespace sipwarden::proxy {

// A response to `request` built from its Via, From, To, Call-ID and CSeq.
// `toTag` is added to To when the code is above 100 and To has no tag yet.
std::string buildReply(const sip::Message& request, int code, std::string_view reason, std::string_view toTag,
                       const Verdict::Headers& extraHeaders = {});

// The hop-by-hop ACK for a non-2xx final response to the INVITE we sent.
std::string buildAck(const sip::Message& forwardedInvite, const sip::Message& response);

// CANCEL for the INVITE we sent: same Request-URI, Via (branch), Route,
// From, To, Call-ID and CSeq number.
std::string buildCancel(const sip::Message& forwardedInvite);

}  // namespace sipwarden::proxy
