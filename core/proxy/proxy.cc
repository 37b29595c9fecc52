// A message's way in: parse, the request checks, its transaction, the filter
// chain, the route; and the verdicts and DNS answers that come back later
// through the mailbox. The steps after it are in server_transaction.cc,
// client_transaction.cc and stateless_relay.cc (see proxy.h).
#include "proxy/proxy.h"

#include <Poco/Logger.h>

#include <exception>

#include "proxy/sanity.h"
#include "proxy/transaction_key.h"

namespace sipwarden::proxy {

using transport::Protocol;
using sipwarden::Direction;

namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.proxy"); }

}  // namespace

Proxy::Proxy(ProxyConfig config, transport::Sender& sender, const Clock& clock)
    : config_(std::move(config)),
      router_(config_),
      sender_(sender),
      clock_(clock),
      admission_(config_.access, config_.rates, clock),
      table_(clock) {
  for (const transport::Target& upstream : router_.upstreams()) admission_.exempt(upstream.address.host());
}

Proxy::~Proxy() = default;

void Proxy::onMessage(std::string bytes, const transport::Origin& origin) {
  try {
    sip::ParseFailure failure;
    auto message = sip::Message::parse(std::move(bytes), origin.protocol == Protocol::Udp ? sip::Framing::Datagram
                                                                                         : sip::Framing::Stream,
                                       failure);
    if (!message) {
      drop("unparseable: " + failure.reason);
      return;
    }
    if (message->isRequest()) {
      handleRequest(std::move(message), failure, origin);
    } else {
      handleResponse(std::move(message), failure, origin);
    }
  } catch (const std::exception& error) {
    // A bug must cost one message, never the hop.
    log().error("internal error handling a message from %s: %s", origin.source.toString(), std::string(error.what()));
    drop("internal error");
  }
}

void Proxy::drop(const std::string& reason) {
  ++counters_.drops[reason.substr(0, reason.find(':'))];
  log().debug("dropped: %s", reason);
}

void Proxy::handleRequest(std::unique_ptr<sip::Message> request, const sip::ParseFailure& failure,
                          const transport::Origin& origin) {
  ++counters_.requestsByMethod[std::string(request->method())];
  const Admission::Decision admitted = admission_.checkSource(origin);
  if (admitted != Admission::Decision::Admit) {
    // A denied source learns nothing more than 403, and not even that when
    // its request is too broken to answer.
    if (admitted == Admission::Decision::Drop || !failure.reason.empty()) return drop("access denied");
    sendStatelessReply(*request, origin, 403, "Forbidden");
    return;
  }
  const Verdict verdict = checkRequest(*request, failure, SanityLimits{config_.maxMessageSize});
  if (verdict.kind() == Verdict::Kind::Reply) {
    sendStatelessReply(*request, origin, verdict.code(), verdict.reason(), verdict.headers());
    return;
  }
  if (verdict.kind() == Verdict::Kind::Drop) {
    drop(verdict.reason());
    return;
  }
  if (request->method() == "ACK") return handleAck(std::move(request), origin);
  if (request->method() == "CANCEL") return handleCancel(std::move(request), origin);

  std::string key = serverTransactionKey(*request, request->method());
  if (const Cell* cell = table_.findServer(key)) {
    ++counters_.retransmissionsAbsorbed;
    if (!cell->lastResponse.empty()) sender_.send(cell->replyTarget, cell->lastResponse);
    return;
  }
  if (const Linger* linger = table_.findLingeringServer(key)) {
    ++counters_.retransmissionsAbsorbed;
    if (!linger->lastResponse().empty()) sender_.send(linger->replyTarget, linger->lastResponse());
    return;
  }
  if (admission_.checkRate(request->method(), origin) == Admission::Decision::Throttle) {
    sendStatelessReply(*request, origin, 503, "Service Unavailable",
                       {{"Retry-After", std::to_string(admission_.retryAfterSeconds())}});
    return;
  }
  if (transactionCount() >= config_.maxTransactions) {
    sendStatelessReply(*request, origin, 503, "Service Unavailable", {{"Retry-After", "5"}});
    return;
  }
  if (router_.looped(*request)) {
    sendStatelessReply(*request, origin, 482, "Loop Detected");
    return;
  }

  auto owned = std::make_unique<Cell>();
  owned->isInvite = request->method() == "INVITE";
  owned->serverKey = std::move(key);
  owned->origin = origin;
  owned->replyTarget = router_.replyTargetFor(*request, origin);
  owned->request = std::move(request);
  Cell& cell = table_.add(std::move(owned));
  ++counters_.transactionsCreated;

  if (cell.isInvite) replyLocally(cell, 100, "Trying");
  if (!filterRequest(cell)) return;
  routeAndForward(cell);
}

bool Proxy::filterRequest(Cell& cell) {
  if (!chain_ || chain_->empty()) return true;
  const std::uint64_t id = cell.id;
  std::weak_ptr<Mailbox> mailbox = mailbox_;
  auto deliver = [id, mailbox](Verdict verdict) {
    auto box = mailbox.lock();
    if (!box) return;  // the proxy is gone
    {
      std::lock_guard<std::mutex> hold(box->lock);
      box->verdicts.emplace_back(id, std::move(verdict));
      box->nonEmpty = true;
    }
    if (box->wakeup) box->wakeup();
  };
  const Direction direction = router_.fromUpstream(cell.origin) ? Direction::FromUpstream : Direction::FromClient;
  cell.path = std::make_unique<pipeline::MessagePath>(chain_, *cell.request, cell.origin, direction, archive_,
                                                      std::move(deliver));
  return applyChainVerdict(cell, cell.path->run());
}

bool Proxy::applyChainVerdict(Cell& cell, const Verdict& verdict) {
  switch (verdict.kind()) {
    case Verdict::Kind::Pending:
      schedule(cell, TimerId::FilterWait, config_.timers.t1 * 64);
      return false;
    case Verdict::Kind::Reply:
      replyLocally(cell, verdict.code(), verdict.reason(), verdict.headers());
      return false;
    case Verdict::Kind::Drop:
    case Verdict::Kind::Error:
      drop("filtered: " + verdict.reason());
      endTransaction(cell, 0);
      cell.serverState = ServerState::Terminated;
      table_.eraseIfDone(cell);
      return false;
    case Verdict::Kind::Continue:
      cell.path->applyTo(cell.forwardEdits);
      return true;
  }
  return true;
}

void Proxy::drainResumes() {
  if (!mailbox_->nonEmpty.load(std::memory_order_acquire)) return;
  std::vector<std::pair<std::uint64_t, Verdict>> verdicts;
  std::vector<std::uint64_t> resolved;
  {
    std::lock_guard<std::mutex> hold(mailbox_->lock);
    verdicts.swap(mailbox_->verdicts);
    resolved.swap(mailbox_->resolved);
    mailbox_->nonEmpty = false;
  }
  for (auto& [id, verdict] : verdicts) resume(id, std::move(verdict));
  for (const std::uint64_t id : resolved) {
    Cell* cell = table_.find(id);
    if (cell == nullptr || !cell->waitingForDns) continue;  // answered or timed out meanwhile
    cell->waitingForDns = false;
    cell->deadline(TimerId::DnsWait).reset();
    routeAndForward(*cell);
  }
}

void Proxy::resume(std::uint64_t cellId, Verdict verdict) {
  Cell* cell = table_.find(cellId);
  if (cell == nullptr || !cell->waitingForFilter()) return;  // timed out meanwhile
  cell->deadline(TimerId::FilterWait).reset();
  if (applyChainVerdict(*cell, cell->path->resume(std::move(verdict)))) routeAndForward(*cell);
}

void Proxy::routeAndForward(Cell& cell) {
  const Route route = router_.prepareForward(*cell.request, cell.origin, cell.forwardEdits, cell.candidates);
  if (route.kind == Route::Kind::Lookup) {
    // A second miss for the same cell means the answer left the cache
    // before we used it; do not chase it forever.
    if (++cell.dnsRounds > 2) {
      replyLocally(cell, 503, "Service Unavailable", {{"Warning", "399 sipwarden \"DNS answer expired\""}});
      return;
    }
    cell.waitingForDns = true;
    schedule(cell, TimerId::DnsWait, config_.timers.t1 * 64);
    startLookup(*route.lookup, cell.id);
    return;
  }
  if (route.kind == Route::Kind::Reply) {
    replyLocally(cell, route.reply.code(), route.reply.reason(), route.reply.headers());
    return;
  }
  forwardAttempt(cell);
}

void Proxy::startLookup(const NameQuery& query, std::uint64_t cellId) {
  std::weak_ptr<Mailbox> mailbox = mailbox_;
  router_.resolver()->lookup(query, [mailbox, cellId] {
    auto box = mailbox.lock();
    if (!box || cellId == 0) return;
    {
      std::lock_guard<std::mutex> hold(box->lock);
      box->resolved.push_back(cellId);
      box->nonEmpty = true;
    }
    if (box->wakeup) box->wakeup();
  });
}

void Proxy::endTransaction(Cell& cell, int finalCode) {
  if (cell.ended) return;
  cell.ended = true;
  if (cell.path) cell.path->end(finalCode);
  // From here on the cell only absorbs retransmissions: it needs its keys,
  // the last response and the ACK, not the request or what went with it.
  cell.path.reset();
  cell.forwardEdits = sip::EditList{};
  releaseBuffer(cell.forwarded);
  cell.candidates.resize(cell.candidates.empty() ? 0 : cell.attempt + 1);
  cell.request.reset();
}

}  // namespace sipwarden::proxy
