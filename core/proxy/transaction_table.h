#pragma once
// Every transaction the proxy holds, and when each needs attention: live
// cells by id and by their server and client keys, finished ones kept
// compact (Linger) while they absorb retransmissions, and one timer queue.
// Called only from the SIP thread. It knows the transaction states but no
// SIP: the proxy decides what a timer or a retransmission means, the table
// keeps the bookkeeping (indexes, deadlines, compaction) consistent.

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxy/clock.h"
#include "proxy/transaction.h"

namespace sipwarden::proxy {

class TransactionTable {
 public:
  explicit TransactionTable(const Clock& clock) : clock_(clock) {}
  TransactionTable(const TransactionTable&) = delete;
  TransactionTable& operator=(const TransactionTable&) = delete;

  // Takes a new transaction: gives it its id and indexes its serverKey.
  Cell& add(std::unique_ptr<Cell> cell);
  Cell* find(std::uint64_t id);
  // The live or lingering transaction a request with this key belongs to.
  Cell* findServer(const std::string& key);
  Linger* findLingeringServer(const std::string& key);
  // The live or lingering transaction a response with this key belongs to.
  Cell* findClient(const std::string& key);
  Linger* findLingeringClient(const std::string& key);
  // Points a client key (an attempt's, or its CANCEL's) at the cell; the
  // key of a previous attempt is dropped by passing it to unindexClient.
  void indexClient(const Cell& cell, const std::string& key);
  void unindexClient(const std::string& key);

  // Sets deadline `id` of the cell `after` from now, and makes sure the
  // queue wakes the cell by then.
  void schedule(Cell& cell, TimerId id, Millis after);
  // A lingering server side absorbs retransmissions `linger` longer (a 2xx
  // retransmission came through, RFC 6026).
  void extendServerLinger(Linger& linger, Millis lingerFor);

  // After a side of the cell ended: each finished side leaves its index at
  // once (so that a new request reusing an old branch starts a new
  // transaction); a cell with both sides done is erased, and one that only
  // lingers becomes a compact Linger record. The cell may be gone after.
  void eraseIfDone(Cell& cell);

  // Pops every timer entry that is due: a due cell is handed to `fire`
  // (which may erase or compact it); a lingering record whose time is up
  // stops absorbing on that side, and goes when both sides have.
  template <typename Fire>
  void runDue(Fire&& fire);
  // How long the caller may sleep before runDue() has work (capped).
  Millis timeUntilNext(Millis cap) const;

  std::size_t size() const { return cells_.size() + lingering_.size(); }
  std::size_t lingeringCount() const { return lingering_.size(); }
  std::size_t queuedTimerCount() const { return timers_.size(); }
  // What the transactions hold (see Proxy::heldBufferBytes).
  std::size_t heldBufferBytes() const;
  // Cells whose server side waits for a final response.
  std::size_t inFlightCount() const;
  // The ids of live cells `match` picks (ids, because acting on one cell
  // may erase others).
  template <typename Match>
  std::vector<std::uint64_t> select(Match&& match) const;

 private:
  template <typename Owner>
  void arm(Owner& owner, std::optional<TimePoint> when);
  bool onlyLingers(const Cell& cell) const;
  void compact(Cell& cell);
  void expire(std::unordered_map<std::uint64_t, Linger>::iterator found);

  const Clock& clock_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Cell>> cells_;
  std::unordered_map<std::string, std::uint64_t> serverIndex_;
  std::unordered_map<std::string, std::uint64_t> clientIndex_;  // client and CANCEL keys
  // Finished transactions, by the id their cell had (the timer queue's
  // entries for the cell then find the record). Node-based, so the indexes
  // below may point at the records and view into their data.
  std::unordered_map<std::uint64_t, Linger> lingering_;
  std::unordered_map<std::string_view, Linger*> lingerServerIndex_;
  std::unordered_map<std::string_view, Linger*> lingerClientIndex_;
  using TimerEntry = std::pair<TimePoint, std::uint64_t>;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  std::uint64_t nextId_ = 1;
};

// Entries cannot be taken out of the queue. With one entry per deadline,
// the 64 x T1 (32 s) timeout of every answered request stayed queued long
// after the transaction was gone: ~160,000 stale entries at 5,000 msg/s.
// One entry per transaction, at its earliest deadline, is enough: when it
// fires, the next deadline gets its entry.
template <typename Owner>
void TransactionTable::arm(Owner& owner, std::optional<TimePoint> when) {
  if (!when || (owner.queued && *owner.queued <= *when)) return;
  owner.queued = when;
  timers_.emplace(*when, owner.id);
}

template <typename Fire>
void TransactionTable::runDue(Fire&& fire) {
  const TimePoint now = clock_.now();
  while (!timers_.empty() && timers_.top().first <= now) {
    const auto [when, id] = timers_.top();
    timers_.pop();
    if (Cell* cell = find(id)) {
      if (cell->queued == when) cell->queued.reset();
      fire(*cell);
      // The cell may be gone, or lingering now (compact() arms the record).
      if (Cell* still = find(id)) arm(*still, still->nextDeadline());
    } else if (auto lingering = lingering_.find(id); lingering != lingering_.end()) {
      if (lingering->second.queued == when) lingering->second.queued.reset();
      expire(lingering);
    }
  }
}

template <typename Match>
std::vector<std::uint64_t> TransactionTable::select(Match&& match) const {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, cell] : cells_) {
    if (match(*cell)) ids.push_back(id);
  }
  return ids;
}

}  // namespace sipwarden::proxy
