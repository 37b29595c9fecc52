// The caller's side of a transaction (RFC 3261 §17.2, RFC 6026): the hop's
// own replies, responses relayed back, their retransmission and linger,
// and the ACK and CANCEL the caller sends for its INVITE.
#include "proxy/proxy.h"
#include "sip/reason.h"
#include "proxy/replies.h"
#include "proxy/transaction_key.h"

namespace sipwarden::proxy {

using transport::Protocol;

void Proxy::replyLocally(Cell& cell, int code, const std::string& reason, const Verdict::Headers& headers) {
  ++counters_.localReplies[std::to_string(code)];
  std::string bytes = buildReply(*cell.request, code, reason, replyTagFor(cell.serverKey), headers);
  sender_.send(cell.replyTarget, bytes);
  if (code < 200) {
    cell.lastResponse = std::move(bytes);
    return;
  }
  cell.lastResponse = std::move(bytes);
  cell.lastResponse.shrink_to_fit();  // kept for the whole linger; see relayResponse
  cell.lastResponseCode = code;
  endTransaction(cell, code);
  if (cell.clientState == ClientState::Calling || cell.clientState == ClientState::Proceeding) {
    finishClient(cell, Millis(0));
  }
  if (cell.isInvite && code >= 300) {
    cell.serverState = ServerState::Completed;
    if (cell.origin.protocol == Protocol::Udp) {
      cell.serverRetransmitInterval = config_.timers.t1;
      schedule(cell, TimerId::ServerRetransmit, config_.timers.t1);
    }
    schedule(cell, TimerId::ServerTimeout, config_.timers.t1 * 64);
  } else {
    cell.serverState = ServerState::Completed;
    finishServer(cell, cell.origin.protocol == Protocol::Udp ? config_.timers.linger : Millis(0));
  }
  table_.eraseIfDone(cell);
}

void Proxy::sendStatelessReply(const sip::Message& request, const transport::Origin& origin, int code,
                               const std::string& reason, const Verdict::Headers& headers) {
  ++counters_.localReplies[std::to_string(code)];
  const std::string tag = replyTagFor(std::string(request.callId()) + std::string(request.startLine()));
  sender_.send(router_.replyTargetFor(request, origin), buildReply(request, code, reason, tag, headers));
}

void Proxy::relayResponse(Cell& cell, const sip::Message& response) {
  const int code = response.statusCode();
  const auto& top = response.vias()->front();
  sip::EditList edits;
  edits.removeElement(response, top.headerIndex, top.elementIndex);
  if (cell.path) cell.path->onResponse(response, edits);
  std::string bytes = sip::serialize(response, edits);
  ++counters_.responsesByClass[sip::statusClass(code)];
  sender_.send(cell.replyTarget, bytes);
  if (code < 200) {
    cell.lastResponse = std::move(bytes);
    return;
  }
  cell.lastResponseCode = code;
  endTransaction(cell, code);
  if (cell.isInvite && code < 300) {
    // RFC 6026 Accepted: INVITE retransmissions are absorbed, 2xx
    // retransmissions from downstream are relayed.
    releaseBuffer(cell.lastResponse);
    cell.serverState = ServerState::Accepted;
    finishServer(cell, config_.timers.linger);
    table_.eraseIfDone(cell);
    return;
  }
  cell.lastResponse = std::move(bytes);
  // The serializer reserves room for edits (256 bytes and more); a final
  // response lingers for every retransmission window, so keep only its bytes.
  cell.lastResponse.shrink_to_fit();
  cell.serverState = ServerState::Completed;
  if (cell.isInvite) {
    if (cell.origin.protocol == Protocol::Udp) {
      cell.serverRetransmitInterval = config_.timers.t1;
      schedule(cell, TimerId::ServerRetransmit, config_.timers.t1);
    }
    schedule(cell, TimerId::ServerTimeout, config_.timers.t1 * 64);
  } else {
    finishServer(cell, cell.origin.protocol == Protocol::Udp ? config_.timers.linger : Millis(0));
  }
  table_.eraseIfDone(cell);
}

void Proxy::finishServer(Cell& cell, Millis linger) {
  if (linger.count() == 0) {
    cell.serverState = ServerState::Terminated;
    cell.deadline(TimerId::ServerLinger).reset();
  } else {
    schedule(cell, TimerId::ServerLinger, linger);
  }
}

void Proxy::handleAck(std::unique_ptr<sip::Message> ack, const transport::Origin& origin) {
  const std::string inviteKey = serverTransactionKey(*ack, "INVITE");
  if (Cell* found = table_.findServer(inviteKey)) {
    Cell& cell = *found;
    if (cell.serverState == ServerState::Completed) {
      // ACK for our (relayed or local) non-2xx final: hop-by-hop, absorbed.
      cell.serverState = ServerState::Confirmed;
      cell.deadline(TimerId::ServerRetransmit).reset();
      cell.deadline(TimerId::ServerTimeout).reset();
      finishServer(cell, cell.origin.protocol == Protocol::Udp ? config_.timers.t4 : Millis(0));
      table_.eraseIfDone(cell);
      return;
    }
    if (cell.serverState == ServerState::Confirmed) {
      ++counters_.retransmissionsAbsorbed;
      return;
    }
  } else if (const Linger* lingering = table_.findLingeringServer(inviteKey);
             lingering != nullptr && lingering->serverState == ServerState::Confirmed) {
    ++counters_.retransmissionsAbsorbed;
    return;
  }
  // ACK for a 2xx is end to end: forwarded statelessly along the route set.
  // Nothing can wait for a name here: the UAS retransmits its 2xx until an
  // ACK arrives, and the caller's next ACK finds the name cached.
  const Route route = relayStatelessly(*ack, origin, serverTransactionKey(*ack, "ACK"));
  if (route.kind == Route::Kind::Lookup) drop("ACK waiting for DNS");
  if (route.kind == Route::Kind::Reply) drop("ACK without route: " + route.reply.reason());
}

void Proxy::handleCancel(std::unique_ptr<sip::Message> cancel, const transport::Origin& origin) {
  const std::string inviteKey = serverTransactionKey(*cancel, "INVITE");
  Cell* found = table_.findServer(inviteKey);
  if (found == nullptr && table_.findLingeringServer(inviteKey) != nullptr) {
    // The INVITE has its final response: nothing left to cancel.
    sendStatelessReply(*cancel, origin, 200, "OK");
    return;
  }
  if (found == nullptr) {
    // RFC 3261 §16.10: no matching INVITE, so forward statelessly.
    if (relayStatelessly(*cancel, origin, inviteKey).kind != Route::Kind::Forward) {
      sendStatelessReply(*cancel, origin, 481, "Call/Transaction Does Not Exist");
    }
    return;
  }
  Cell& cell = *found;
  sendStatelessReply(*cancel, origin, 200, "OK");
  if (cell.serverState != ServerState::Proceeding || cell.cancelRequested) return;
  if (cell.waitingForDns) {
    // Nothing went out yet, so nothing needs cancelling downstream.
    cell.waitingForDns = false;
    cell.deadline(TimerId::DnsWait).reset();
    replyLocally(cell, 487, "Request Terminated");
    return;
  }
  cell.cancelRequested = true;
  if (cell.gotProvisional) sendCancel(cell);
  // Otherwise the CANCEL goes out with the first provisional response
  // (RFC 3261 §9.1), or the INVITE times out and the caller gets 487.
}

}  // namespace sipwarden::proxy
