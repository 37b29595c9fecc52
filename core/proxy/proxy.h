#pragma once
// The stateful proxy core (RFC 3261 §16, RFC 3581): takes framed messages
// from the transport, checks and routes requests, relays responses, and
// absorbs retransmissions so that what lies beyond it (filters, the archive)
// sees each request once. Single-threaded: every call comes from the thread
// that polls the transport.
//
// One idea a file (docs/architecture.md walks them in path order):
//   proxy.cc               a message in: parse, checks, transaction, filters,
//                          route, and the resumptions that come back later
//   server_transaction.cc  the caller's side: our replies, relayed
//                          responses, ACK and CANCEL from the caller
//   client_transaction.cc  the next hop's side: forwarding, responses,
//                          failover, our CANCEL
//   transaction_timers.cc  what each due timer means
//   stateless_relay.cc     what no transaction claims
//   router.cc, transaction_table.cc, pipeline/message_path.cc: their own classes

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/chain.h"
#include "proxy/admission.h"
#include "proxy/proxy_config.h"
#include "proxy/resolver.h"
#include "proxy/router.h"
#include "proxy/transaction.h"
#include "proxy/transaction_table.h"
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
  void setResolver(Resolver* resolver) { router_.setResolver(resolver); }
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
  Millis timeUntilNextTimer(Millis cap) const { return table_.timeUntilNext(cap); }

  std::size_t transactionCount() const { return table_.size(); }
  // Finished transactions kept in their compact form (Linger) only to
  // absorb retransmissions.
  std::size_t lingeringCount() const { return table_.lingeringCount(); }
  // Entries in the timer queue, stale ones included.
  std::size_t queuedTimerCount() const { return table_.queuedTimerCount(); }
  // Bytes the transaction table holds: each transaction's state object and
  // its message buffers (requests, responses, keys), not the allocator's or
  // the hash tables' overhead; what lingering transactions cost, for tests
  // and for watching memory.
  std::size_t heldBufferBytes() const { return table_.heldBufferBytes(); }
  // Requests still waiting for a final response (what a shutdown drains).
  std::size_t inFlightCount() const { return table_.inFlightCount(); }
  const ProxyCounters& counters() const { return counters_; }
  const ProxyConfig& config() const { return config_; }

 private:
  // proxy.cc: a request's way in, through the filters, to the route.
  void handleRequest(std::unique_ptr<sip::Message> request, const sip::ParseFailure& failure,
                     const transport::Origin& origin);
  // Runs the request through the filter chain; false when the chain
  // answered, dropped or holds it (the cell may be gone then).
  bool filterRequest(Cell& cell);
  bool applyChainVerdict(Cell& cell, const Verdict& verdict);
  void resume(std::uint64_t cellId, Verdict verdict);
  void routeAndForward(Cell& cell);
  // Starts a lookup whose completion routes cell `cellId` again (0: none).
  void startLookup(const NameQuery& query, std::uint64_t cellId);
  void endTransaction(Cell& cell, int finalCode);
  void drop(const std::string& reason);

  // server_transaction.cc: the caller's side.
  void replyLocally(Cell& cell, int code, const std::string& reason, const Verdict::Headers& headers = {});
  void sendStatelessReply(const sip::Message& request, const transport::Origin& origin, int code,
                          const std::string& reason, const Verdict::Headers& headers = {});
  void relayResponse(Cell& cell, const sip::Message& response);
  void finishServer(Cell& cell, Millis linger);
  void handleAck(std::unique_ptr<sip::Message> ack, const transport::Origin& origin);
  void handleCancel(std::unique_ptr<sip::Message> cancel, const transport::Origin& origin);

  // client_transaction.cc: the next hop's side.
  void forwardAttempt(Cell& cell);
  void handleResponse(std::unique_ptr<sip::Message> response, const sip::ParseFailure& failure,
                      const transport::Origin& origin);
  void failOrFailover(Cell& cell, int code, const std::string& reason);
  void sendCancel(Cell& cell);
  void finishClient(Cell& cell, Millis linger);
  void absorbLingering(Linger& linger, const sip::Message& response);

  // transaction_timers.cc
  void fireTimers(Cell& cell);

  // stateless_relay.cc: an ACK for a 2xx or a CANCEL without its INVITE
  // goes on along the route set when it has one (Forward); a name not yet
  // cached is looked up for the next one (Lookup), and nothing waits.
  Route relayStatelessly(const sip::Message& request, const transport::Origin& origin, std::string_view branchKey);
  void relayByNextVia(const sip::Message& response);

  void schedule(Cell& cell, TimerId id, Millis after) { table_.schedule(cell, id, after); }

  ProxyConfig config_;
  Router router_;
  transport::Sender& sender_;
  const Clock& clock_;
  Admission admission_;
  TransactionTable table_;
  std::shared_ptr<const pipeline::FilterChain> chain_;
  ArchiveSink* archive_ = nullptr;
  // Verdicts of pending filters and finished lookups, posted from other
  // threads and applied on this one by drainResumes().
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
