#include "proxy/transaction_table.h"

#include <algorithm>

namespace sipwarden::proxy {

Cell& TransactionTable::add(std::unique_ptr<Cell> owned) {
  Cell& cell = *owned;
  cell.id = nextId_++;
  serverIndex_.emplace(cell.serverKey, cell.id);
  cells_.emplace(cell.id, std::move(owned));
  return cell;
}

namespace {

// What `key` maps to in `map`, or `none`.
template <typename Map, typename Key>
typename Map::mapped_type lookup(const Map& map, const Key& key, typename Map::mapped_type none) {
  auto found = map.find(key);
  return found == map.end() ? none : found->second;
}

}  // namespace

Cell* TransactionTable::find(std::uint64_t id) {
  auto found = cells_.find(id);
  return found == cells_.end() ? nullptr : found->second.get();
}

// Ids start at 1: 0 is "not indexed".
Cell* TransactionTable::findServer(const std::string& key) { return find(lookup(serverIndex_, key, 0)); }

Linger* TransactionTable::findLingeringServer(const std::string& key) {
  return lookup(lingerServerIndex_, key, nullptr);
}

Cell* TransactionTable::findClient(const std::string& key) { return find(lookup(clientIndex_, key, 0)); }

Linger* TransactionTable::findLingeringClient(const std::string& key) {
  return lookup(lingerClientIndex_, key, nullptr);
}

void TransactionTable::indexClient(const Cell& cell, const std::string& key) { clientIndex_[key] = cell.id; }

void TransactionTable::unindexClient(const std::string& key) { clientIndex_.erase(key); }

void TransactionTable::schedule(Cell& cell, TimerId id, Millis after) {
  const TimePoint when = clock_.now() + after;
  cell.deadline(id) = when;
  arm(cell, when);
}

void TransactionTable::extendServerLinger(Linger& linger, Millis lingerFor) {
  if (!linger.serverUntil) return;
  linger.serverUntil = clock_.now() + lingerFor;
  arm(linger, linger.serverUntil);
}

void TransactionTable::eraseIfDone(Cell& cell) {
  auto unindex = [&](std::unordered_map<std::string, std::uint64_t>& index, const std::string& key) {
    auto found = index.find(key);
    if (found != index.end() && found->second == cell.id) index.erase(found);
  };
  if (cell.serverDone()) unindex(serverIndex_, cell.serverKey);
  const bool cancelInFlight = cell.deadline(TimerId::CancelRetransmit).has_value();
  if (cell.clientDone() && !cancelInFlight) {
    unindex(clientIndex_, cell.clientKey);
    unindex(clientIndex_, cell.cancelKey);
  }
  if (cell.serverDone() && cell.clientDone() && !cancelInFlight) {
    cells_.erase(cell.id);
  } else if (onlyLingers(cell)) {
    compact(cell);
  }
}

bool TransactionTable::onlyLingers(const Cell& cell) const {
  if (!cell.ended || cell.waitingForFilter() || cell.waitingForDns) return false;
  for (std::size_t i = 0; i < cell.deadlines.size(); ++i) {
    const auto id = static_cast<TimerId>(i);
    // A CANCEL timeout without its retransmissions changes nothing when
    // it fires; any other timer still has work for the full cell.
    if (cell.deadlines[i] && id != TimerId::ServerLinger && id != TimerId::ClientLinger &&
        id != TimerId::CancelTimeout) {
      return false;
    }
  }
  const auto& deadline = [&](TimerId id) { return cell.deadlines[static_cast<std::size_t>(id)]; };
  const bool serverLingers = !cell.serverDone();
  if (serverLingers && (cell.serverState == ServerState::Proceeding || !deadline(TimerId::ServerLinger))) {
    return false;
  }
  const bool clientLingers = !cell.clientDone();
  if (clientLingers && ((cell.clientState != ClientState::Completed && cell.clientState != ClientState::Accepted) ||
                        !deadline(TimerId::ClientLinger))) {
    return false;
  }
  return true;
}

void TransactionTable::compact(Cell& cell) {
  // A key moves to the record only while it still names this cell: a newer
  // transaction may have taken it over (a reused branch).
  auto take = [&](std::unordered_map<std::string, std::uint64_t>& index, const std::string& key) {
    auto found = index.find(key);
    if (found == index.end() || found->second != cell.id) return std::string_view();
    index.erase(found);
    return std::string_view(key);
  };
  const bool serverLingers = !cell.serverDone();
  const bool clientLingers = !cell.clientDone();
  const std::string_view serverKey = serverLingers ? take(serverIndex_, cell.serverKey) : std::string_view();
  const std::string_view clientKey = clientLingers ? take(clientIndex_, cell.clientKey) : std::string_view();
  const std::string_view cancelKey = clientLingers ? take(clientIndex_, cell.cancelKey) : std::string_view();
  const std::string_view response = serverLingers ? std::string_view(cell.lastResponse) : std::string_view();
  const std::string_view ack = clientLingers ? std::string_view(cell.ackBytes) : std::string_view();

  Linger& linger = lingering_[cell.id];
  linger.id = cell.id;
  linger.data.reserve(serverKey.size() + clientKey.size() + cancelKey.size() + response.size() + ack.size());
  for (const std::string_view part : {serverKey, clientKey, cancelKey, response, ack}) linger.data.append(part);
  linger.serverKeySize = static_cast<std::uint32_t>(serverKey.size());
  linger.clientKeySize = static_cast<std::uint32_t>(clientKey.size());
  linger.cancelKeySize = static_cast<std::uint32_t>(cancelKey.size());
  linger.responseSize = static_cast<std::uint32_t>(response.size());
  linger.ackSize = static_cast<std::uint32_t>(ack.size());
  linger.serverState = cell.serverState;
  linger.clientState = cell.clientState;
  linger.replyTarget = std::move(cell.replyTarget);
  if (!ack.empty()) linger.downstream = std::make_unique<transport::Target>(cell.downstream());
  // The cell's timer entry carries the same id and now wakes the record.
  if (serverLingers) linger.serverUntil = cell.deadline(TimerId::ServerLinger);
  if (clientLingers) linger.clientUntil = cell.deadline(TimerId::ClientLinger);
  linger.queued = cell.queued;
  arm(linger, linger.nextDeadline());
  if (!linger.serverKey().empty()) lingerServerIndex_.insert_or_assign(linger.serverKey(), &linger);
  if (!linger.clientKey().empty()) lingerClientIndex_.insert_or_assign(linger.clientKey(), &linger);
  if (!linger.cancelKey().empty()) lingerClientIndex_.insert_or_assign(linger.cancelKey(), &linger);
  cells_.erase(cell.id);
}

void TransactionTable::expire(std::unordered_map<std::uint64_t, Linger>::iterator found) {
  Linger& linger = found->second;
  const TimePoint now = clock_.now();
  auto unindex = [&](std::unordered_map<std::string_view, Linger*>& index, std::string_view key) {
    if (key.empty()) return;
    auto entry = index.find(key);
    if (entry != index.end() && entry->second == &linger) index.erase(entry);
  };
  if (linger.serverUntil && *linger.serverUntil <= now) {
    linger.serverUntil.reset();
    linger.serverState = ServerState::Terminated;
    unindex(lingerServerIndex_, linger.serverKey());
  }
  if (linger.clientUntil && *linger.clientUntil <= now) {
    linger.clientUntil.reset();
    linger.clientState = ClientState::Terminated;
    unindex(lingerClientIndex_, linger.clientKey());
    unindex(lingerClientIndex_, linger.cancelKey());
  }
  if (!linger.serverUntil && !linger.clientUntil) {
    lingering_.erase(found);
  } else {
    arm(linger, linger.nextDeadline());
  }
}

Millis TransactionTable::timeUntilNext(Millis cap) const {
  if (timers_.empty()) return cap;
  // Round up: a wait truncated to 0 ms would spin on poll until the deadline.
  const auto wait = std::chrono::ceil<Millis>(timers_.top().first - clock_.now());
  if (wait.count() < 0) return Millis(0);
  return std::min(wait, cap);
}

std::size_t TransactionTable::heldBufferBytes() const {
  std::size_t bytes = 0;
  for (const auto& [id, cell] : cells_) {
    bytes += sizeof(Cell);
    for (const std::string* buffer : {&cell->serverKey, &cell->lastResponse, &cell->branch, &cell->clientKey,
                                      &cell->forwarded, &cell->cancelBytes, &cell->cancelKey, &cell->ackBytes}) {
      bytes += buffer->capacity();
    }
    if (cell->request) bytes += cell->request->bytes().capacity();
  }
  for (const auto& [id, linger] : lingering_) {
    bytes += sizeof(Linger) + linger.data.capacity() + linger.replyTarget.serverName.capacity();
    if (linger.downstream) bytes += sizeof(transport::Target) + linger.downstream->serverName.capacity();
  }
  return bytes;
}

std::size_t TransactionTable::inFlightCount() const {
  std::size_t n = 0;
  for (const auto& [id, cell] : cells_) n += cell->serverState == ServerState::Proceeding ? 1 : 0;
  return n;
}

}  // namespace sipwarden::proxy
