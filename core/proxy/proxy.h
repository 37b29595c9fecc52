#pragma once
// The stateful proxy core (RFC 3261 §16, RFC 3581): takes framed messages
// from the transport, checks and routes requests, relays responses, and
// absorbs retransmissions so that what lies beyond it (filters, the archive)
// sees each request once. Single-threaded: every call comes from the thread
// that polls the transport.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pipeline/chain.h"
#include "proxy/proxy_config.h"
#include "proxy/resolver.h"
#include "proxy/transaction.h"
#include "sipwarden/verdict.h"
#include "transport/transport.h"

namespace sipwarden::proxy {

struct ProxyCounters {
  std::map<std::string, std::uint64_t> requestsByMethod;
  std::map<std::string, std::uint64_t> responsesByClass;  // "1xx" .. "6xx", relayed
  std::map<std::string, std::uint64_t> localReplies;      // by code
  std::map<std::string, std::uint64_t> drops;             // by reason
  std::uint64_t retransmissionsAbsorbed = 0;
  std::uint64_t transactionsCreated = 0;
  std::uint64_t timeouts = 0;
  // Filter waits past 64 x T1 because the filter's work had claimed the
  // transaction (an archive commit under way).
  std::uint64_t filterWaitsExtended = 0;
  std::uint64_t failovers = 0;
};

class Proxy final : public transport::TransportUser {
 public:
  Proxy(ProxyConfig config, transport::Sender& sender, const Clock& clock);
  ~Proxy() override;

  // The filter chain new transactions run through; transactions already
  // under way finish on the chain they started with.
  void setChain(std::shared_ptr<const pipeline::FilterChain> chain) { chain_ = std::move(chain); }
  const std::shared_ptr<const pipeline::FilterChain>& chain() const { return chain_; }

  // The archive filters reach through Exchange::archive() (not owned).
  void setArchive(ArchiveSink* archive) { archive_ = archive; }
  // Where host names are looked up off this thread (not owned). Without
  // one, names are resolved here, blocking (tools and tests).
  void setResolver(Resolver* resolver) { resolver_ = resolver; }
  // Called from any thread when a pending filter resumes, so the thread
  // that polls wakes up and calls drainResumes().
  void setWakeup(std::function<void()> wakeup) { mailbox_->wakeup = std::move(wakeup); }
  // Applies the verdicts pending filters delivered and routes the requests
  // whose DNS answers came in. Call after each poll.
  void drainResumes();

  void onMessage(std::string bytes, const transport::Origin& origin) override;
  void onSendFailure(const transport::Target& target) override;

  // Fires every transaction timer that is due. Call after each poll round.
  void runTimers();
  // How long the caller may sleep before runTimers() has work (capped).
  Millis timeUntilNextTimer(Millis cap) const;

  std::size_t transactionCount() const { return cells_.size() + lingering_.size(); }
  // Finished transactions kept in their compact form (Linger) only to
  // absorb retransmissions.
  std::size_t lingeringCount() const { return lingering_.size(); }
  // Entries in the timer queue, stale ones included.
  std::size_t queuedTimerCount() const { return timers_.size(); }
  // Bytes the transaction table holds: each transaction's state object and
  // its message buffers (requests, responses, keys), not the allocator's or
  // the hash tables' overhead; what lingering transactions cost, for tests
  // and for watching memory.
  std::size_t heldBufferBytes() const;
  // Requests still waiting for a final response (what a shutdown drains).
  std::size_t inFlightCount() const;
  const ProxyCounters& counters() const { return counters_; }
  const ProxyConfig& config() const { return config_; }

 private:
  void handleRequest(std::unique_ptr<sip::Message> request, const sip::ParseFailure& failure,
                     const transport::Origin& origin);
  void handleResponse(std::unique_ptr<sip::Message> response, const sip::ParseFailure& failure,
                      const transport::Origin& origin);
  void handleAck(std::unique_ptr<sip::Message> ack, const transport::Origin& origin);
  void handleCancel(std::unique_ptr<sip::Message> cancel, const transport::Origin& origin);

  // Routing (routing.cc).
  bool isLocal(const sip::Uri& uri) const;
  bool fromUpstream(const transport::Origin& origin) const;
  bool isLocalVia(const sip::Via& via) const;
  // Fills the edits every forwarded copy shares and the list of next hops;
  // returns a local reply verdict when the request cannot be routed.
  // Returns Pending, with `lookup` set and nothing edited, when a name must
  // be looked up first.
  Verdict prepareForward(const sip::Message& request, const transport::Origin& origin, sip::EditList& edits,
                         std::vector<transport::Target>& targets, std::optional<NameQuery>& lookup);
  enum class Resolution { Ready, Pending, Failed };
  Resolution resolve(const sip::Uri& uri, std::vector<transport::Target>& targets, std::string& error,
                     std::optional<NameQuery>& lookup);
  // Starts a lookup whose completion routes cell `cellId` again (0: none).
  void startLookup(const NameQuery& query, std::uint64_t cellId);
  std::string viaFor(transport::Protocol protocol, const std::string& branch) const;
  std::string branchFor(const sip::Message& request, std::string_view serverKey, std::size_t attempt) const;
  bool looped(const sip::Message& request) const;
  transport::Target replyTargetFor(const sip::Message& request, const transport::Origin& origin) const;

  // Transactions.
  void forwardAttempt(Cell& cell);
  void replyLocally(Cell& cell, int code, const std::string& reason, const Verdict::Headers& headers = {});
  void sendStatelessReply(const sip::Message& request, const transport::Origin& origin, int code,
                          const std::string& reason, const Verdict::Headers& headers = {});
  void relayResponse(Cell& cell, const sip::Message& response);
  void failOrFailover(Cell& cell, int code, const std::string& reason);
  void sendCancel(Cell& cell);
  void schedule(Cell& cell, TimerId id, Millis after);
  // Makes sure the timer queue wakes `owner` (a Cell or a Linger) by `when`.
  template <typename Owner>
  void arm(Owner& owner, std::uint64_t id, std::optional<TimePoint> when);
  void fireTimers(Cell& cell);
  void finishServer(Cell& cell, Millis linger);
  void finishClient(Cell& cell, Millis linger);
  // Erases a cell whose both sides are done, or moves one that only
  // lingers into a Linger record; either way the cell may be gone after.
  void eraseIfDone(Cell& cell);
  bool onlyLingers(Cell& cell);
  void compact(Cell& cell);
  void absorbLingering(Linger& linger, const sip::Message& response);
  void expireLinger(std::unordered_map<std::uint64_t, Linger>::iterator found);
  void drop(const std::string& reason);
  // Runs the request through the filter chain; false when the chain
  // answered or dropped it (the cell may be gone then).
  bool filterRequest(Cell& cell);
  // Runs the chain from plugin `from`; true when the request may be routed.
  bool continueChain(Cell& cell, std::size_t from);
  bool applyChainVerdict(Cell& cell, const Verdict& verdict);
  void routeAndForward(Cell& cell);
  void resume(std::uint64_t cellId, Verdict verdict);
  void endTransaction(Cell& cell, int finalCode);
  // Gives up waiting for the pending filter unless its work has claimed the
  // transaction or resumed it; true when it gave up.
  bool giveUpOnFilter(Cell& cell);
  Cell* findCell(std::uint64_t id);

  ProxyConfig config_;
  std::vector<transport::Target> upstreams_;  // resolved once, at start
  transport::Sender& sender_;
  const Clock& clock_;
  Admission admission_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Cell>> cells_;
  std::unordered_map<std::string, std::uint64_t> serverIndex_;
  std::unordered_map<std::string, std::uint64_t> clientIndex_;
  // Finished transactions, by the id their cell had (the timer queue's
  // entries for the cell then find the record). Node-based, so the indexes
  // below may point at the records and view into their data.
  std::unordered_map<std::uint64_t, Linger> lingering_;
  std::unordered_map<std::string_view, Linger*> lingerServerIndex_;
  std::unordered_map<std::string_view, Linger*> lingerClientIndex_;  // client and CANCEL keys
  using TimerEntry = std::pair<TimePoint, std::uint64_t>;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  std::uint64_t nextCellId_ = 1;
  std::shared_ptr<const pipeline::FilterChain> chain_;
  ArchiveSink* archive_ = nullptr;
  Resolver* resolver_ = nullptr;
  // Verdicts of pending filters, posted from other threads.
  struct Mailbox {
    std::mutex lock;
    std::vector<std::pair<std::uint64_t, Verdict>> verdicts;
    std::vector<std::uint64_t> resolved;  // cells whose DNS answer is cached now
    std::atomic<bool> nonEmpty{false};
    std::function<void()> wakeup;
  };
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();
  ProxyCounters counters_;
};

}  // namespace sipwarden::proxy
