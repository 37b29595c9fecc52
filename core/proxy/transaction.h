#pragma once
// One proxied request and everything the proxy remembers about it: the server
// transaction facing the caller and the client transaction facing the next
// hop (RFC 3261 §17), kept together as Kamailio's tm keeps a "cell".

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/message_path.h"
#include "proxy/clock.h"
#include "sip/edit_list.h"
#include "sip/message.h"
#include "transport/transport.h"

namespace sipwarden::proxy {

enum class ServerState { Proceeding, Completed, Confirmed, Accepted, Terminated };
enum class ClientState { Idle, Calling, Proceeding, Completed, Accepted, Terminated };

// Named deadlines of a cell. Each is optional; the timer queue wakes the cell
// at the earliest one.
enum class TimerId : std::uint8_t {
  ClientRetransmit,  // A / E
  ClientTimeout,     // B / F / C
  ClientLinger,      // D / K / M: keep absorbing downstream retransmissions
  ServerRetransmit,  // G
  ServerTimeout,     // H
  ServerLinger,      // I / J / L: keep absorbing caller retransmissions
  CancelRetransmit,
  CancelTimeout,
  FilterWait,  // a plugin returned Pending and has not resumed yet
  DnsWait,     // the next hop's name is being looked up
  Count
};

struct Cell {
  std::uint64_t id = 0;
  bool isInvite = false;

  // Server side.
  std::string serverKey;
  std::unique_ptr<sip::Message> request;
  transport::Origin origin;
  transport::Target replyTarget;
  ServerState serverState = ServerState::Proceeding;
  std::string lastResponse;  // what a retransmitted request gets again
  int lastResponseCode = 0;
  Millis serverRetransmitInterval{0};

  // Client side, one attempt at a time.
  sip::EditList forwardEdits;  // everything but our Via
  std::vector<transport::Target> candidates;
  std::size_t attempt = 0;
  std::string branch;
  std::string clientKey;
  std::string forwarded;  // bytes sent downstream, for retransmission
  ClientState clientState = ClientState::Idle;
  Millis clientRetransmitInterval{0};
  bool gotProvisional = false;
  bool cancelRequested = false;
  bool cancelSent = false;
  std::string cancelBytes;
  std::string cancelKey;
  Millis cancelRetransmitInterval{0};
  std::string ackBytes;  // our ACK for a non-2xx final, resent on retransmissions

  // The request's way through the filter chain (null without filters),
  // kept for its responses and its end even after a reload swapped chains.
  std::unique_ptr<pipeline::MessagePath> path;
  bool ended = false;  // filters were told the final outcome
  bool waitingForDns = false;
  std::uint8_t dnsRounds = 0;

  std::array<std::optional<TimePoint>, static_cast<std::size_t>(TimerId::Count)> deadlines{};
  // The earliest entry the timer queue holds for this cell; it is never
  // later than any deadline.
  std::optional<TimePoint> queued;

  std::optional<TimePoint> nextDeadline() const {
    std::optional<TimePoint> next;
    for (const auto& deadline : deadlines) {
      if (deadline && (!next || *deadline < *next)) next = deadline;
    }
    return next;
  }

  std::optional<TimePoint>& deadline(TimerId id) { return deadlines[static_cast<std::size_t>(id)]; }
  const transport::Target& downstream() const { return candidates.at(attempt); }
  bool serverDone() const { return serverState == ServerState::Terminated; }
  bool waitingForFilter() const { return path && path->waiting(); }
  bool clientDone() const { return clientState == ClientState::Terminated || clientState == ClientState::Idle; }
};

// Frees a buffer a lingering transaction no longer needs. `text = {}` or
// clear() would keep the capacity (libstdc++ copies a short string into the
// existing buffer), so a finished cell would go on holding the whole
// forwarded request until it expires.
inline void releaseBuffer(std::string& text) { std::string().swap(text); }

// A finished transaction while it lingers (Timers D, I, J, K, L, M) keeps
// only what absorbing retransmissions needs. A full Cell costs about 1.9 KB
// of heap (the Cell alone is ~760 bytes, plus its buffers, three socket
// addresses and three index entries), and at 5,000 transactions/s with a 5 s
// linger 25,000 or more of them linger at once.
struct Linger {
  std::uint64_t id = 0;  // the cell's: its timer entries find the record
  // The keys still indexed, the last response and our ACK, back to back in
  // one allocation sized exactly; the linger indexes hold views into it.
  std::string data;
  std::uint32_t serverKeySize = 0;
  std::uint32_t clientKeySize = 0;
  std::uint32_t cancelKeySize = 0;
  std::uint32_t responseSize = 0;
  std::uint32_t ackSize = 0;
  ServerState serverState = ServerState::Terminated;
  ClientState clientState = ClientState::Terminated;
  transport::Target replyTarget;  // where the last response goes again
  // Where our ACK for a non-2xx goes again (only when there is one).
  std::unique_ptr<transport::Target> downstream;
  // Each side absorbs retransmissions until its deadline (none: done).
  std::optional<TimePoint> serverUntil;
  std::optional<TimePoint> clientUntil;
  std::optional<TimePoint> queued;  // as Cell::queued

  std::optional<TimePoint> nextDeadline() const {
    if (serverUntil && clientUntil) return std::min(*serverUntil, *clientUntil);
    return serverUntil ? serverUntil : clientUntil;
  }

  std::string_view serverKey() const { return std::string_view(data).substr(0, serverKeySize); }
  std::string_view clientKey() const { return std::string_view(data).substr(serverKeySize, clientKeySize); }
  std::string_view cancelKey() const {
    return std::string_view(data).substr(serverKeySize + clientKeySize, cancelKeySize);
  }
  std::string_view lastResponse() const {
    return std::string_view(data).substr(serverKeySize + clientKeySize + cancelKeySize, responseSize);
  }
  std::string_view ackBytes() const {
    return std::string_view(data).substr(serverKeySize + clientKeySize + cancelKeySize + responseSize, ackSize);
  }
};

}  // namespace sipwarden::proxy
