// The next hop's side of a transaction (RFC 3261 §17.1, §16.7, §16.8): the
// forwarded request and its retransmission, the responses that come back,
// failover to the next candidate, our CANCEL and our ACK for a non-2xx.
#include <Poco/Logger.h>

#include "proxy/proxy.h"
#include "proxy/replies.h"
#include "proxy/sanity.h"
#include "sip/reason.h"

namespace sipwarden::proxy {

using transport::Protocol;
using transport::Target;

namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.proxy"); }

}  // namespace

void Proxy::forwardAttempt(Cell& cell) {
  Target& target = cell.candidates.at(cell.attempt);
  cell.branch = router_.branchFor(*cell.request, cell.serverKey, cell.attempt);
  auto render = [&] {
    sip::EditList edits = cell.forwardEdits;
    edits.prepend("Via", router_.viaFor(target.protocol, cell.branch));
    return sip::serialize(*cell.request, edits);
  };
  cell.forwarded = render();
  // RFC 3261 §18.1.1: a request near the path MTU must not go over UDP.
  if (target.protocol == Protocol::Udp && config_.udpMtuLimit != 0 && cell.forwarded.size() > config_.udpMtuLimit &&
      config_.tcpPort != 0) {
    target.protocol = Protocol::Tcp;
    cell.forwarded = render();
  }
  if (!cell.clientKey.empty()) table_.unindexClient(cell.clientKey);
  cell.clientKey = cell.branch + "|" + std::string(cell.request->method());
  table_.indexClient(cell, cell.clientKey);
  cell.clientState = ClientState::Calling;
  cell.gotProvisional = false;
  cell.deadline(TimerId::ClientRetransmit).reset();
  if (target.protocol == Protocol::Udp) {
    cell.clientRetransmitInterval = config_.timers.t1;
    schedule(cell, TimerId::ClientRetransmit, config_.timers.t1);
  }
  schedule(cell, TimerId::ClientTimeout, config_.timers.t1 * 64);
  const Target destination = target;
  const std::string bytes = cell.forwarded;
  // The send may report a failure synchronously and fail the cell over or
  // finish it: nothing below touches the cell.
  sender_.send(destination, bytes);
}

void Proxy::handleResponse(std::unique_ptr<sip::Message> response, const sip::ParseFailure& failure,
                           const transport::Origin& /*origin*/) {
  std::string reason;
  if (!checkResponse(*response, failure, reason)) {
    drop("bad response: " + reason);
    return;
  }
  const sip::Via& top = *response->topVia();
  if (!router_.isLocalVia(top)) {
    drop("response not for us");
    return;
  }
  const int code = response->statusCode();
  const std::string key = std::string(top.branch()) + "|" + std::string(response->method());
  Cell* found = table_.findClient(key);
  if (found == nullptr) {
    if (Linger* lingering = table_.findLingeringClient(key)) {
      absorbLingering(*lingering, *response);
      return;
    }
    // No transaction (e.g. a 2xx retransmitted after ours ended): relay by
    // the next Via, as a stateless proxy would (RFC 3261 §16.7).
    relayByNextVia(*response);
    return;
  }
  Cell& cell = *found;
  if (response->method() == "CANCEL") {
    cell.deadline(TimerId::CancelRetransmit).reset();
    cell.deadline(TimerId::CancelTimeout).reset();
    return;  // CANCEL is hop by hop: its 200 stops here
  }
  switch (cell.clientState) {
    case ClientState::Calling:
    case ClientState::Proceeding:
      break;
    case ClientState::Accepted:
      if (code >= 200 && code < 300) relayResponse(cell, *response);  // 2xx retransmission
      return;
    case ClientState::Completed:
      ++counters_.retransmissionsAbsorbed;
      if (!cell.ackBytes.empty()) sender_.send(cell.downstream(), cell.ackBytes);
      return;
    default:
      return;
  }
  if (code < 200) {
    if (cell.isInvite) cell.deadline(TimerId::ClientRetransmit).reset();
    cell.clientState = ClientState::Proceeding;
    if (code == 100) return;  // hop by hop
    cell.gotProvisional = true;
    if (cell.isInvite) schedule(cell, TimerId::ClientTimeout, config_.timers.timerC);
    if (cell.cancelRequested) sendCancel(cell);
    relayResponse(cell, *response);
    return;
  }
  cell.deadline(TimerId::ClientRetransmit).reset();
  cell.deadline(TimerId::ClientTimeout).reset();
  if (cell.isInvite && code >= 300) {
    sip::ParseFailure ignored;
    if (auto forwarded = sip::Message::parse(cell.forwarded, sip::Framing::Stream, ignored)) {
      cell.ackBytes = buildAck(*forwarded, *response);
      sender_.send(cell.downstream(), cell.ackBytes);
    }
  }
  const bool canFailOver = code == 503 && !cell.cancelRequested && cell.attempt + 1 < cell.candidates.size();
  if (canFailOver) {
    failOrFailover(cell, code, std::string(response->reasonPhrase()));
    return;
  }
  if (cell.isInvite && code < 300) {
    cell.clientState = ClientState::Accepted;
    schedule(cell, TimerId::ClientLinger, config_.timers.linger);
  } else {
    cell.clientState = ClientState::Completed;
    const bool udp = cell.downstream().protocol == Protocol::Udp;
    schedule(cell, TimerId::ClientLinger,
             udp ? (cell.isInvite ? config_.timers.linger : config_.timers.t4) : Millis(0));
  }
  relayResponse(cell, *response);
}

void Proxy::failOrFailover(Cell& cell, int code, const std::string& reason) {
  if (!cell.gotProvisional && !cell.cancelRequested && cell.attempt + 1 < cell.candidates.size()) {
    ++counters_.failovers;
    log().information("next hop %s failed (%d %s); trying %s", cell.downstream().address.toString(), code, reason,
                      cell.candidates[cell.attempt + 1].address.toString());
    ++cell.attempt;
    forwardAttempt(cell);
    return;
  }
  finishClient(cell, Millis(0));
  if (cell.serverState == ServerState::Proceeding) {
    if (cell.cancelRequested) {
      replyLocally(cell, 487, "Request Terminated");
    } else {
      replyLocally(cell, code, reason);
    }
    return;
  }
  table_.eraseIfDone(cell);
}

void Proxy::onSendFailure(const Target& target) {
  const std::vector<std::uint64_t> affected = table_.select([&](const Cell& cell) {
    return (cell.clientState == ClientState::Calling || cell.clientState == ClientState::Proceeding) &&
           cell.downstream().protocol == target.protocol && cell.downstream().address == target.address;
  });
  for (auto id : affected) {
    if (Cell* cell = table_.find(id)) {
      cell->deadline(TimerId::ClientRetransmit).reset();
      cell->deadline(TimerId::ClientTimeout).reset();
      failOrFailover(*cell, 503, "Next hop unreachable");
    }
  }
}

void Proxy::sendCancel(Cell& cell) {
  if (cell.cancelSent || cell.clientState != ClientState::Proceeding) return;
  sip::ParseFailure failure;
  auto forwarded = sip::Message::parse(cell.forwarded, sip::Framing::Stream, failure);
  if (!forwarded) return;
  cell.cancelSent = true;
  cell.cancelBytes = buildCancel(*forwarded);
  cell.cancelKey = cell.branch + "|CANCEL";
  table_.indexClient(cell, cell.cancelKey);
  if (cell.downstream().protocol == Protocol::Udp) {
    cell.cancelRetransmitInterval = config_.timers.t1;
    schedule(cell, TimerId::CancelRetransmit, config_.timers.t1);
  }
  schedule(cell, TimerId::CancelTimeout, config_.timers.t1 * 64);
  sender_.send(cell.downstream(), cell.cancelBytes);
}

void Proxy::finishClient(Cell& cell, Millis linger) {
  cell.deadline(TimerId::ClientRetransmit).reset();
  cell.deadline(TimerId::ClientTimeout).reset();
  if (linger.count() == 0) {
    cell.clientState = ClientState::Terminated;
    cell.deadline(TimerId::ClientLinger).reset();
  } else {
    schedule(cell, TimerId::ClientLinger, linger);
  }
}

void Proxy::absorbLingering(Linger& linger, const sip::Message& response) {
  if (response.method() == "CANCEL") return;  // CANCEL is hop by hop: its 200 stops here
  const int code = response.statusCode();
  switch (linger.clientState) {
    case ClientState::Accepted: {
      if (code < 200 || code >= 300) return;
      // A 2xx retransmission goes on to the caller (RFC 6026), and the
      // caller's INVITE retransmissions stay absorbed as long again.
      const auto& top = response.vias()->front();
      sip::EditList edits;
      edits.removeElement(response, top.headerIndex, top.elementIndex);
      ++counters_.responsesByClass[sip::statusClass(code)];
      sender_.send(linger.replyTarget, sip::serialize(response, edits));
      table_.extendServerLinger(linger, config_.timers.linger);
      return;
    }
    case ClientState::Completed:
      ++counters_.retransmissionsAbsorbed;
      if (linger.downstream) sender_.send(*linger.downstream, linger.ackBytes());
      return;
    default:
      return;
  }
}

}  // namespace sipwarden::proxy
