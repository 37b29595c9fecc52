#include "proxy/proxy.h"

#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>

#include <exception>

#include "proxy/replies.h"
#include "proxy/sanity.h"

namespace sipwarden::proxy {

using transport::Protocol;
using transport::Target;
using sipwarden::Direction;

namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.proxy"); }

// Frees a buffer a lingering transaction no longer needs. `text = {}` or
// clear() would keep the capacity (libstdc++ copies a short string into the
// existing buffer), so a finished cell would go on holding the whole
// forwarded request until it expires.
void releaseBuffer(std::string& text) { std::string().swap(text); }

std::uint64_t hashText(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string tagFor(std::string_view key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::uint64_t hash = hashText(key);
  std::string tag = "sw";
  for (int i = 0; i < 12; ++i, hash >>= 4) tag.push_back(kDigits[hash & 0xf]);
  return tag;
}

// RFC 3261 §17.2.3 transaction key; RFC 2543 elements (no magic cookie) are
// matched on the request's identifying fields instead. `method` is INVITE
// when matching an ACK or CANCEL to its INVITE.
std::string serverKey(const sip::Message& request, std::string_view method) {
  const sip::Via& via = *request.topVia();
  const std::string_view branch = via.branch();
  std::string key;
  key.reserve(96);
  if (branch.size() > 7 && branch.starts_with("z9hG4bK")) {
    key.append(branch).append("|").append(via.host).append(":").append(std::to_string(via.port));
  } else {
    key.append("2543|").append(request.requestUri()).append("|").append(request.from()->tag());
    key.append("|").append(request.callId()).append("|").append(std::to_string(request.cseq()->number));
    key.append("|").append(via.text);
  }
  key.append("|").append(method);
  return key;
}

std::string responseClass(int code) { return std::to_string(code / 100) + "xx"; }

}  // namespace

Proxy::Proxy(ProxyConfig config, transport::Sender& sender, const Clock& clock)
    : config_(std::move(config)), sender_(sender), clock_(clock), admission_(config_.access, config_.rates, clock) {
  for (const Upstream& upstream : config_.upstreams) {
    // Throws Poco::HostNotFoundException for a name that does not resolve:
    // start-up stops and says which.
    upstreams_.push_back(
        Target{upstream.protocol, Poco::Net::SocketAddress(upstream.host, upstream.port), 0, upstream.host});
    admission_.exempt(upstreams_.back().address.host());
  }
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

Cell* Proxy::findCell(std::uint64_t id) {
  auto found = cells_.find(id);
  return found == cells_.end() ? nullptr : found->second.get();
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

  std::string key = serverKey(*request, request->method());
  if (auto found = serverIndex_.find(key); found != serverIndex_.end()) {
    ++counters_.retransmissionsAbsorbed;
    Cell& cell = *cells_.at(found->second);
    if (!cell.lastResponse.empty()) sender_.send(cell.replyTarget, cell.lastResponse);
    return;
  }
  if (auto found = lingerServerIndex_.find(key); found != lingerServerIndex_.end()) {
    ++counters_.retransmissionsAbsorbed;
    const Linger& linger = *found->second;
    if (!linger.lastResponse().empty()) sender_.send(linger.replyTarget, linger.lastResponse());
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
  if (looped(*request)) {
    sendStatelessReply(*request, origin, 482, "Loop Detected");
    return;
  }

  auto owned = std::make_unique<Cell>();
  Cell& cell = *owned;
  cell.id = nextCellId_++;
  cell.isInvite = request->method() == "INVITE";
  cell.serverKey = std::move(key);
  cell.origin = origin;
  cell.replyTarget = replyTargetFor(*request, origin);
  cell.request = std::move(request);
  serverIndex_.emplace(cell.serverKey, cell.id);
  cells_.emplace(cell.id, std::move(owned));
  ++counters_.transactionsCreated;

  if (cell.isInvite) replyLocally(cell, 100, "Trying");
  if (!filterRequest(cell)) return;
  routeAndForward(cell);
}

void Proxy::routeAndForward(Cell& cell) {
  std::optional<NameQuery> lookup;
  const Verdict route = prepareForward(*cell.request, cell.origin, cell.forwardEdits, cell.candidates, lookup);
  if (route.kind() == Verdict::Kind::Pending) {
    // A second miss for the same cell means the answer left the cache
    // before we used it; do not chase it forever.
    if (++cell.dnsRounds > 2) {
      replyLocally(cell, 503, "Service Unavailable", {{"Warning", "399 sipwarden \"DNS answer expired\""}});
      return;
    }
    cell.waitingForDns = true;
    schedule(cell, TimerId::DnsWait, config_.timers.t1 * 64);
    startLookup(*lookup, cell.id);
    return;
  }
  if (route.kind() == Verdict::Kind::Reply) {
    replyLocally(cell, route.code(), route.reason(), route.headers());
    return;
  }
  forwardAttempt(cell);
}

bool Proxy::filterRequest(Cell& cell) {
  if (!chain_ || chain_->empty()) return true;
  cell.chain = chain_;
  cell.exchange = std::make_unique<pipeline::CoreExchange>(
      cell.origin, fromUpstream(cell.origin) ? Direction::FromUpstream : Direction::FromClient);
  cell.exchange->bind(*cell.request);
  cell.exchange->setArchive(archive_);
  const std::uint64_t id = cell.id;
  std::weak_ptr<Mailbox> mailbox = mailbox_;
  cell.exchange->setPendingFactory([id, mailbox] {
    return std::make_shared<pipeline::PendingResume>([id, mailbox](Verdict verdict) {
      auto box = mailbox.lock();
      if (!box) return;  // the proxy is gone
      {
        std::lock_guard<std::mutex> hold(box->lock);
        box->verdicts.emplace_back(id, std::move(verdict));
        box->nonEmpty = true;
      }
      if (box->wakeup) box->wakeup();
    });
  });
  return continueChain(cell, 0);
}

bool Proxy::continueChain(Cell& cell, std::size_t from) {
  return applyChainVerdict(cell, cell.chain->runRequest(*cell.exchange, nullptr, from));
}

bool Proxy::applyChainVerdict(Cell& cell, const Verdict& verdict) {
  switch (verdict.kind()) {
    case Verdict::Kind::Pending:
      cell.waitingForFilter = true;
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
      eraseIfDone(cell);
      return false;
    case Verdict::Kind::Continue:
      cell.exchange->applyTo(cell.forwardEdits);
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
    Cell* cell = findCell(id);
    if (cell == nullptr || !cell->waitingForDns) continue;  // answered or timed out meanwhile
    cell->waitingForDns = false;
    cell->deadline(TimerId::DnsWait).reset();
    routeAndForward(*cell);
  }
}

void Proxy::startLookup(const NameQuery& query, std::uint64_t cellId) {
  std::weak_ptr<Mailbox> mailbox = mailbox_;
  resolver_->lookup(query, [mailbox, cellId] {
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

void Proxy::resume(std::uint64_t cellId, Verdict verdict) {
  Cell* cell = findCell(cellId);
  if (cell == nullptr || !cell->waitingForFilter) return;  // timed out meanwhile
  cell->waitingForFilter = false;
  cell->deadline(TimerId::FilterWait).reset();
  const std::size_t index = cell->exchange->pendingPlugin();
  const Verdict resolved = cell->chain->resolve(index, std::move(verdict), *cell->exchange);
  bool proceed = false;
  if (resolved.isContinue()) {
    proceed = continueChain(*cell, index + 1);
  } else {
    proceed = applyChainVerdict(*cell, resolved);
  }
  if (proceed) routeAndForward(*cell);
}

bool Proxy::giveUpOnFilter(Cell& cell) {
  const auto& pending = cell.exchange ? cell.exchange->pending() : nullptr;
  return pending == nullptr || pending->giveUp();
}

void Proxy::endTransaction(Cell& cell, int finalCode) {
  if (cell.ended) return;
  cell.ended = true;
  // A transaction that ends while a filter's work is still queued tells that
  // work nobody waits for it any more.
  if (cell.waitingForFilter) giveUpOnFilter(cell);
  if (cell.exchange) {
    cell.exchange->bind(*cell.request);
    cell.chain->runEnd(*cell.exchange, finalCode);
  }
  // From here on the cell only absorbs retransmissions: it needs its keys,
  // the last response and the ACK, not the request or what went with it.
  cell.exchange.reset();
  cell.chain.reset();
  cell.forwardEdits = sip::EditList{};
  releaseBuffer(cell.forwarded);
  cell.candidates.resize(cell.candidates.empty() ? 0 : cell.attempt + 1);
  cell.request.reset();
}

void Proxy::forwardAttempt(Cell& cell) {
  Target& target = cell.candidates.at(cell.attempt);
  cell.branch = branchFor(*cell.request, cell.serverKey, cell.attempt);
  auto render = [&] {
    sip::EditList edits = cell.forwardEdits;
    edits.prepend("Via", viaFor(target.protocol, cell.branch));
    return sip::serialize(*cell.request, edits);
  };
  cell.forwarded = render();
  // RFC 3261 §18.1.1: a request near the path MTU must not go over UDP.
  if (target.protocol == Protocol::Udp && config_.udpMtuLimit != 0 && cell.forwarded.size() > config_.udpMtuLimit &&
      config_.tcpPort != 0) {
    target.protocol = Protocol::Tcp;
    cell.forwarded = render();
  }
  if (!cell.clientKey.empty()) clientIndex_.erase(cell.clientKey);
  cell.clientKey = cell.branch + "|" + std::string(cell.request->method());
  clientIndex_[cell.clientKey] = cell.id;
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

void Proxy::replyLocally(Cell& cell, int code, const std::string& reason, const Verdict::Headers& headers) {
  ++counters_.localReplies[std::to_string(code)];
  std::string bytes = buildReply(*cell.request, code, reason, tagFor(cell.serverKey), headers);
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
  eraseIfDone(cell);
}

void Proxy::sendStatelessReply(const sip::Message& request, const transport::Origin& origin, int code,
                               const std::string& reason, const Verdict::Headers& headers) {
  ++counters_.localReplies[std::to_string(code)];
  const std::string tag = tagFor(std::string(request.callId()) + std::string(request.startLine()));
  sender_.send(replyTargetFor(request, origin), buildReply(request, code, reason, tag, headers));
}

void Proxy::handleAck(std::unique_ptr<sip::Message> ack, const transport::Origin& origin) {
  const std::string inviteKey = serverKey(*ack, "INVITE");
  if (auto found = serverIndex_.find(inviteKey); found != serverIndex_.end()) {
    Cell& cell = *cells_.at(found->second);
    if (cell.serverState == ServerState::Completed) {
      // ACK for our (relayed or local) non-2xx final: hop-by-hop, absorbed.
      cell.serverState = ServerState::Confirmed;
      cell.deadline(TimerId::ServerRetransmit).reset();
      cell.deadline(TimerId::ServerTimeout).reset();
      finishServer(cell, cell.origin.protocol == Protocol::Udp ? config_.timers.t4 : Millis(0));
      eraseIfDone(cell);
      return;
    }
    if (cell.serverState == ServerState::Confirmed) {
      ++counters_.retransmissionsAbsorbed;
      return;
    }
  } else if (auto lingering = lingerServerIndex_.find(inviteKey);
             lingering != lingerServerIndex_.end() && lingering->second->serverState == ServerState::Confirmed) {
    ++counters_.retransmissionsAbsorbed;
    return;
  }
  // ACK for a 2xx is end to end: forwarded statelessly along the route set.
  sip::EditList edits;
  std::vector<Target> targets;
  std::optional<NameQuery> lookup;
  const Verdict route = prepareForward(*ack, origin, edits, targets, lookup);
  if (route.kind() == Verdict::Kind::Pending) {
    // Stateless: nothing can wait. The UAS retransmits its 2xx until an ACK
    // arrives, and the caller's next ACK finds the name cached.
    startLookup(*lookup, 0);
    drop("ACK waiting for DNS");
    return;
  }
  if (!route.isContinue() || targets.empty()) {
    drop("ACK without route: " + route.reason());
    return;
  }
  const std::string key = serverKey(*ack, "ACK");
  edits.prepend("Via", viaFor(targets.front().protocol, branchFor(*ack, key, 0)));
  sender_.send(targets.front(), sip::serialize(*ack, edits));
}

void Proxy::handleCancel(std::unique_ptr<sip::Message> cancel, const transport::Origin& origin) {
  const std::string inviteKey = serverKey(*cancel, "INVITE");
  auto found = serverIndex_.find(inviteKey);
  if (found == serverIndex_.end() && lingerServerIndex_.contains(inviteKey)) {
    // The INVITE has its final response: nothing left to cancel.
    sendStatelessReply(*cancel, origin, 200, "OK");
    return;
  }
  if (found == serverIndex_.end()) {
    // RFC 3261 §16.10: no matching INVITE, so forward statelessly.
    sip::EditList edits;
    std::vector<Target> targets;
    std::optional<NameQuery> lookup;
    const Verdict route = prepareForward(*cancel, origin, edits, targets, lookup);
    if (route.kind() == Verdict::Kind::Pending) startLookup(*lookup, 0);
    if (!route.isContinue() || targets.empty()) {
      sendStatelessReply(*cancel, origin, 481, "Call/Transaction Does Not Exist");
      return;
    }
    edits.prepend("Via", viaFor(targets.front().protocol, branchFor(*cancel, inviteKey, 0)));
    sender_.send(targets.front(), sip::serialize(*cancel, edits));
    return;
  }
  Cell& cell = *cells_.at(found->second);
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

void Proxy::sendCancel(Cell& cell) {
  if (cell.cancelSent || cell.clientState != ClientState::Proceeding) return;
  sip::ParseFailure failure;
  auto forwarded = sip::Message::parse(cell.forwarded, sip::Framing::Stream, failure);
  if (!forwarded) return;
  cell.cancelSent = true;
  cell.cancelBytes = buildCancel(*forwarded);
  cell.cancelKey = cell.branch + "|CANCEL";
  clientIndex_[cell.cancelKey] = cell.id;
  if (cell.downstream().protocol == Protocol::Udp) {
    cell.cancelRetransmitInterval = config_.timers.t1;
    schedule(cell, TimerId::CancelRetransmit, config_.timers.t1);
  }
  schedule(cell, TimerId::CancelTimeout, config_.timers.t1 * 64);
  sender_.send(cell.downstream(), cell.cancelBytes);
}

void Proxy::handleResponse(std::unique_ptr<sip::Message> response, const sip::ParseFailure& failure,
                           const transport::Origin& /*origin*/) {
  std::string reason;
  if (!checkResponse(*response, failure, reason)) {
    drop("bad response: " + reason);
    return;
  }
  const sip::Via& top = *response->topVia();
  if (!isLocalVia(top)) {
    drop("response not for us");
    return;
  }
  const int code = response->statusCode();
  const std::string key = std::string(top.branch()) + "|" + std::string(response->method());
  auto found = clientIndex_.find(key);
  if (found == clientIndex_.end()) {
    if (auto lingering = lingerClientIndex_.find(key); lingering != lingerClientIndex_.end()) {
      absorbLingering(*lingering->second, *response);
      return;
    }
    // No transaction (e.g. a 2xx retransmitted after ours ended): relay by
    // the next Via, as a stateless proxy would (RFC 3261 §16.7).
    const auto& vias = *response->vias();
    if (vias.size() < 2) {
      drop("response without a Via to follow");
      return;
    }
    const sip::Via& next = vias[1].value;
    std::string host(next.param("received").value_or(next.hostAddress()));
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    const auto rport = next.param("rport");
    std::uint64_t port = next.port != 0 ? next.port : 5060;
    if (rport && !rport->empty()) (void)sip::parseDecimal(*rport, 65535, port);
    Protocol protocol = Protocol::Udp;
    (void)transport::protocolFromName(next.transport, protocol);  // an unknown transport: UDP
    Target target{protocol, Poco::Net::SocketAddress(host, static_cast<std::uint16_t>(port)), 0};
    sip::EditList edits;
    edits.removeElement(*response, vias[0].headerIndex, vias[0].elementIndex);
    ++counters_.responsesByClass[responseClass(code)];
    sender_.send(target, sip::serialize(*response, edits));
    return;
  }
  Cell& cell = *cells_.at(found->second);
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

void Proxy::relayResponse(Cell& cell, const sip::Message& response) {
  const int code = response.statusCode();
  const auto& top = response.vias()->front();
  sip::EditList edits;
  edits.removeElement(response, top.headerIndex, top.elementIndex);
  if (cell.exchange) {
    cell.exchange->bind(response);
    cell.chain->runResponse(*cell.exchange);
    cell.exchange->applyTo(edits);
  }
  std::string bytes = sip::serialize(response, edits);
  ++counters_.responsesByClass[responseClass(code)];
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
    eraseIfDone(cell);
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
  eraseIfDone(cell);
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
  eraseIfDone(cell);
}

void Proxy::onSendFailure(const Target& target) {
  std::vector<std::uint64_t> affected;
  for (const auto& [id, cell] : cells_) {
    if ((cell->clientState == ClientState::Calling || cell->clientState == ClientState::Proceeding) &&
        cell->downstream().protocol == target.protocol && cell->downstream().address == target.address) {
      affected.push_back(id);
    }
  }
  for (auto id : affected) {
    if (Cell* cell = findCell(id)) {
      cell->deadline(TimerId::ClientRetransmit).reset();
      cell->deadline(TimerId::ClientTimeout).reset();
      failOrFailover(*cell, 503, "Next hop unreachable");
    }
  }
}

void Proxy::schedule(Cell& cell, TimerId id, Millis after) {
  const TimePoint when = clock_.now() + after;
  cell.deadline(id) = when;
  arm(cell, cell.id, when);
}

// Entries cannot be taken out of the queue. With one entry per deadline,
// the 64 x T1 (32 s) timeout of every answered request stayed queued long
// after the transaction was gone: ~160,000 stale entries at 5,000 msg/s.
// One entry per transaction, at its earliest deadline, is enough: when it
// fires, the next deadline gets its entry.
template <typename Owner>
void Proxy::arm(Owner& owner, std::uint64_t id, std::optional<TimePoint> when) {
  if (!when || (owner.queued && *owner.queued <= *when)) return;
  owner.queued = when;
  timers_.emplace(*when, id);
}

void Proxy::finishServer(Cell& cell, Millis linger) {
  if (linger.count() == 0) {
    cell.serverState = ServerState::Terminated;
    cell.deadline(TimerId::ServerLinger).reset();
  } else {
    schedule(cell, TimerId::ServerLinger, linger);
  }
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

void Proxy::eraseIfDone(Cell& cell) {
  // Each side leaves its index as soon as it ends, so that a new request
  // reusing an old branch starts a new transaction.
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

bool Proxy::onlyLingers(Cell& cell) {
  if (!cell.ended || cell.waitingForFilter || cell.waitingForDns) return false;
  for (std::size_t i = 0; i < cell.deadlines.size(); ++i) {
    const auto id = static_cast<TimerId>(i);
    // A CANCEL timeout without its retransmissions changes nothing when
    // it fires; any other timer still has work for the full cell.
    if (cell.deadlines[i] && id != TimerId::ServerLinger && id != TimerId::ClientLinger &&
        id != TimerId::CancelTimeout) {
      return false;
    }
  }
  const bool serverLingers = !cell.serverDone();
  if (serverLingers && (cell.serverState == ServerState::Proceeding || !cell.deadline(TimerId::ServerLinger))) {
    return false;
  }
  const bool clientLingers = !cell.clientDone();
  if (clientLingers && ((cell.clientState != ClientState::Completed && cell.clientState != ClientState::Accepted) ||
                        !cell.deadline(TimerId::ClientLinger))) {
    return false;
  }
  return true;
}

void Proxy::compact(Cell& cell) {
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
  const std::string_view serverKeyText = serverLingers ? take(serverIndex_, cell.serverKey) : std::string_view();
  const std::string_view clientKey = clientLingers ? take(clientIndex_, cell.clientKey) : std::string_view();
  const std::string_view cancelKey = clientLingers ? take(clientIndex_, cell.cancelKey) : std::string_view();
  const std::string_view response = serverLingers ? std::string_view(cell.lastResponse) : std::string_view();
  const std::string_view ack = clientLingers ? std::string_view(cell.ackBytes) : std::string_view();

  Linger& linger = lingering_[cell.id];
  linger.id = cell.id;
  linger.data.reserve(serverKeyText.size() + clientKey.size() + cancelKey.size() + response.size() + ack.size());
  for (const std::string_view part : {serverKeyText, clientKey, cancelKey, response, ack}) linger.data.append(part);
  linger.serverKeySize = static_cast<std::uint32_t>(serverKeyText.size());
  linger.clientKeySize = static_cast<std::uint32_t>(clientKey.size());
  linger.cancelKeySize = static_cast<std::uint32_t>(cancelKey.size());
  linger.responseSize = static_cast<std::uint32_t>(response.size());
  linger.ackSize = static_cast<std::uint32_t>(ack.size());
  linger.serverState = cell.serverState;
  linger.clientState = cell.clientState;
  linger.replyTarget = std::move(cell.replyTarget);
  if (!ack.empty()) linger.downstream = std::make_unique<Target>(cell.downstream());
  // The cell's timer entry carries the same id and now wakes the record.
  if (serverLingers) linger.serverUntil = cell.deadline(TimerId::ServerLinger);
  if (clientLingers) linger.clientUntil = cell.deadline(TimerId::ClientLinger);
  linger.queued = cell.queued;
  arm(linger, linger.id, linger.nextDeadline());
  if (!linger.serverKey().empty()) lingerServerIndex_.insert_or_assign(linger.serverKey(), &linger);
  if (!linger.clientKey().empty()) lingerClientIndex_.insert_or_assign(linger.clientKey(), &linger);
  if (!linger.cancelKey().empty()) lingerClientIndex_.insert_or_assign(linger.cancelKey(), &linger);
  cells_.erase(cell.id);
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
      ++counters_.responsesByClass[responseClass(code)];
      sender_.send(linger.replyTarget, sip::serialize(response, edits));
      if (linger.serverUntil) {
        linger.serverUntil = clock_.now() + config_.timers.linger;
        arm(linger, linger.id, linger.serverUntil);
      }
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

void Proxy::expireLinger(std::unordered_map<std::uint64_t, Linger>::iterator found) {
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
    arm(linger, linger.id, linger.nextDeadline());
  }
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
  const bool filterWaitDue = due(TimerId::FilterWait) && cell.waitingForFilter;
  if (filterWaitDue && !giveUpOnFilter(cell)) {
    // The filter's work claimed the transaction (the archive is committing
    // its row) or its verdict is already in the mailbox: answering 503 now
    // would refuse a message that is being archived as delivered.
    ++counters_.filterWaitsExtended;
    schedule(cell, TimerId::FilterWait, config_.timers.t1 * 4);
  } else if (filterWaitDue) {
    cell.waitingForFilter = false;
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
  eraseIfDone(cell);
}

void Proxy::runTimers() {
  const TimePoint now = clock_.now();
  while (!timers_.empty() && timers_.top().first <= now) {
    const auto [when, id] = timers_.top();
    timers_.pop();
    if (Cell* cell = findCell(id)) {
      if (cell->queued == when) cell->queued.reset();
      fireTimers(*cell);
      // The cell may be gone, or lingering now (compact() arms the record).
      if (Cell* still = findCell(id)) arm(*still, id, still->nextDeadline());
    } else if (auto lingering = lingering_.find(id); lingering != lingering_.end()) {
      if (lingering->second.queued == when) lingering->second.queued.reset();
      expireLinger(lingering);
    }
  }
}

std::size_t Proxy::heldBufferBytes() const {
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
    if (linger.downstream) bytes += sizeof(Target) + linger.downstream->serverName.capacity();
  }
  return bytes;
}

std::size_t Proxy::inFlightCount() const {
  std::size_t n = 0;
  for (const auto& [id, cell] : cells_) n += cell->serverState == ServerState::Proceeding ? 1 : 0;
  return n;
}

Millis Proxy::timeUntilNextTimer(Millis cap) const {
  if (timers_.empty()) return cap;
  // Round up: a wait truncated to 0 ms would spin on poll until the deadline.
  const auto wait = std::chrono::ceil<Millis>(timers_.top().first - clock_.now());
  if (wait.count() < 0) return Millis(0);
  return std::min(wait, cap);
}

}  // namespace sipwarden::proxy
