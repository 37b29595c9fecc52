// What each due timer of a transaction means (RFC 3261 §17 timers A-M, the
// CANCEL's own, and the hop's waits for a filter and for DNS). The table
// keeps the queue; this decides what firing does.
#include "proxy/proxy.h"

namespace sipwarden::proxy {

void Proxy::runTimers() {
  table_.runDue([this](Cell& cell) { fireTimers(cell); });
}

void Proxy::fireTimers(Cell& cell) {
  const TimePoint now = clock_.now();
  auto due = [&](TimerId id) {
    auto& deadline = cell.deadline(id);
    if (!deadline || *deadline > now) return false;
    deadline.reset();
    return true;
  };
  const Millis t2 = config_.timers.t2;
  if (due(TimerId::ClientRetransmit) &&
      (cell.clientState == ClientState::Calling || cell.clientState == ClientState::Proceeding)) {
    sender_.send(cell.downstream(), cell.forwarded);
    cell.clientRetransmitInterval = cell.isInvite ? cell.clientRetransmitInterval * 2
                                                  : std::min(cell.clientRetransmitInterval * 2, t2);
    schedule(cell, TimerId::ClientRetransmit, cell.clientRetransmitInterval);
  }
  if (due(TimerId::CancelRetransmit)) {
    sender_.send(cell.downstream(), cell.cancelBytes);
    cell.cancelRetransmitInterval = std::min(cell.cancelRetransmitInterval * 2, t2);
    schedule(cell, TimerId::CancelRetransmit, cell.cancelRetransmitInterval);
  }
  if (due(TimerId::CancelTimeout)) cell.deadline(TimerId::CancelRetransmit).reset();
  if (due(TimerId::ServerRetransmit) && cell.serverState == ServerState::Completed && !cell.lastResponse.empty()) {
    sender_.send(cell.replyTarget, cell.lastResponse);
    cell.serverRetransmitInterval = std::min(cell.serverRetransmitInterval * 2, t2);
    schedule(cell, TimerId::ServerRetransmit, cell.serverRetransmitInterval);
  }
  if (due(TimerId::ServerTimeout)) {
    cell.deadline(TimerId::ServerRetransmit).reset();
    cell.serverState = ServerState::Terminated;
  }
  if (due(TimerId::ServerLinger)) cell.serverState = ServerState::Terminated;
  if (due(TimerId::DnsWait) && cell.waitingForDns) {
    cell.waitingForDns = false;
    ++counters_.timeouts;
    replyLocally(cell, 503, "Service Unavailable",
                 {{"Retry-After", "5"}, {"Warning", "399 sipwarden \"DNS lookup timed out\""}});
    return;
  }
  const bool filterWaitDue = due(TimerId::FilterWait) && cell.waitingForFilter();
  if (filterWaitDue && !cell.path->giveUp()) {
    // The filter's work claimed the transaction (the archive is committing
    // its row) or its verdict is already in the mailbox: answering 503 now
    // would refuse a message that is being archived as delivered.
    ++counters_.filterWaitsExtended;
    schedule(cell, TimerId::FilterWait, config_.timers.t1 * 4);
  } else if (filterWaitDue) {
    ++counters_.timeouts;
    replyLocally(cell, 503, "Service Unavailable",
                 {{"Retry-After", "5"}, {"Warning", "399 sipwarden \"filter did not answer in time\""}});
    return;
  }
  if (due(TimerId::ClientLinger)) cell.clientState = ClientState::Terminated;
  if (due(TimerId::ClientTimeout) &&
      (cell.clientState == ClientState::Calling || cell.clientState == ClientState::Proceeding)) {
    ++counters_.timeouts;
    cell.deadline(TimerId::ClientRetransmit).reset();
    if (cell.isInvite && cell.gotProvisional) sendCancel(cell);  // Timer C
    failOrFailover(cell, 408, "Request Timeout");
    return;  // failOrFailover finished or re-armed the cell
  }
  table_.eraseIfDone(cell);
}

}  // namespace sipwarden::proxy
