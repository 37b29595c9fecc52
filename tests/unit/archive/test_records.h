#pragma once
// The message record the archive tests write: a delivered text/plain
// MESSAGE from one address-of-record to another, with its participants set
// as the archive plugin sets them, and no final code yet.
#include <algorithm>
#include <cstdint>
#include <string>

#include "sipwarden/archive.h"

namespace sipwarden::archive::testing {

inline MessageRecord textMessage(const std::string& callId, std::uint32_t cseq, std::int64_t timeMs,
                                 const std::string& text, const std::string& from = "alice@example.com",
                                 const std::string& to = "bob@example.com") {
  MessageRecord r;
  r.timeMs = timeMs;
  r.direction = "from_client";
  r.sender = from;
  r.recipient = to;
  r.callId = callId;
  r.cseq = cseq;
  r.contentType = "text/plain";
  r.text = text;
  r.verdict = "delivered";
  r.participants = std::min(from, to) + "," + std::max(from, to);
  return r;
}

}  // namespace sipwarden::archive::testing
