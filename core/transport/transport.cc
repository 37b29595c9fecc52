// Over 500 lines because the listeners (UDP, TCP, TLS), the connection
// table with its limits and timeouts, and the one poll loop that drives
// them share the connection bookkeeping: a connection's reads, writes,
// TLS session and close are one state; framing is in sip/framing.cc.
#include "transport/transport.h"

#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/NetException.h>

#include "sip/header_id.h"
#include "sip/framing.h"

namespace sipwarden::transport {

using Clock = std::chrono::steady_clock;
using Poco::Net::PollSet;

struct Transport::Connection {
  std::uint64_t id = 0;
  Protocol protocol = Protocol::Tcp;
  Poco::Net::StreamSocket socket;
  std::unique_ptr<TlsSession> tls;  // TLS connections only
  bool handshaking = false;
  bool tlsWantsWrite = false;  // the session's last step waits for the socket to drain
  Poco::Net::SocketAddress peer;
  std::string in;
  std::string out;
  bool connecting = false;
  bool dead = false;
  bool outbound = false;
  Clock::time_point lastActivity;
  Clock::time_point partialSince;  // when the unframed bytes in `in` began
};

namespace {

constexpr std::size_t kMaxDatagramsPerRound = 256;
// Reads from one plain TCP connection per poll round (16 KiB each): a client
// that keeps its socket full must not keep the SIP thread to itself; the
// (level-triggered) poll set reports the rest next round, after the others.
constexpr int kMaxStreamReadsPerRound = 8;

Poco::Logger& log() { return Poco::Logger::get("sipwarden.transport"); }

}  // namespace

std::string_view protocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::Udp: return "UDP";
    case Protocol::Tcp: return "TCP";
    case Protocol::Tls: return "TLS";
  }
  return "UDP";
}

bool protocolFromName(std::string_view name, Protocol& out) {
  for (const Protocol protocol : {Protocol::Udp, Protocol::Tcp, Protocol::Tls}) {
    if (sip::iequals(name, protocolName(protocol))) {
      out = protocol;
      return true;
    }
  }
  return false;
}

Transport::Transport(TransportUser& user, TransportLimits limits)
    : user_(user), limits_(limits), lastIdleSweep_(Clock::now()) {
  datagramBuffer_.resize(65536);
  wakeSocket_.bind(Poco::Net::SocketAddress("127.0.0.1", 0));
  wakeSocket_.setBlocking(false);
  pollSet_.add(wakeSocket_, PollSet::POLL_READ);
}

void Transport::wakeup() {
  const char byte = 1;
  try {
    wakeSocket_.sendTo(&byte, 1, wakeSocket_.address());
  } catch (const Poco::Exception&) {
    // A full socket buffer already holds a wake-up.
  }
}

Transport::~Transport() = default;

void Transport::listen(Protocol protocol, const Poco::Net::SocketAddress& address) {
  // Never SO_REUSEPORT (Poco's bind(address, true) sets it along with
  // SO_REUSEADDR): with it a second process, say another sipwarden started
  // on the same port, binds without error and the kernel splits the traffic
  // between the two, so part of it silently bypasses this hop's filters and
  // archive. Without it that second bind fails with "address in use".
  if (protocol == Protocol::Udp) {
    Poco::Net::DatagramSocket socket(address.family());
    socket.bind(address, false, false);
    socket.setBlocking(false);
    try {
      socket.setReceiveBufferSize(4 * 1024 * 1024);
    } catch (const Poco::Exception&) {
      // The kernel caps the size; the default still works.
    }
    pollSet_.add(socket, PollSet::POLL_READ);
    udp_.push_back(socket);
  } else {
    if (protocol == Protocol::Tls && (!tls_ || tls_->server().isNull())) {
      throw TlsError("a TLS listener needs tls.certificate and tls.private_key");
    }
    // SO_REUSEADDR only: a restart must not wait for TIME_WAIT to clear.
    Poco::Net::ServerSocket server;
    server.bind(address, true, false);
    server.listen(1024);
    server.setBlocking(false);
    pollSet_.add(server, PollSet::POLL_READ);
    (protocol == Protocol::Tls ? tlsListeners_ : tcpListeners_).push_back(server);
  }
}

Poco::Net::SocketAddress Transport::boundAddress(Protocol protocol) const {
  if (protocol == Protocol::Udp) return udp_.empty() ? Poco::Net::SocketAddress() : udp_.front().address();
  const auto& listeners = protocol == Protocol::Tls ? tlsListeners_ : tcpListeners_;
  return listeners.empty() ? Poco::Net::SocketAddress() : listeners.front().address();
}

bool Transport::hasListener(Protocol protocol) const {
  switch (protocol) {
    case Protocol::Udp: return !udp_.empty();
    case Protocol::Tcp: return !tcpListeners_.empty();
    case Protocol::Tls: return !tlsListeners_.empty();
  }
  return false;
}

void Transport::stopAccepting() {
  if (!accepting_) return;
  accepting_ = false;
  for (auto& server : tcpListeners_) pollSet_.remove(server);
  for (auto& server : tlsListeners_) pollSet_.remove(server);
}

void Transport::send(const Target& target, std::string_view bytes) {
  if (target.protocol == Protocol::Udp) {
    if (udp_.empty()) {
      ++counters_.sendFailures;
      user_.onSendFailure(target);
      return;
    }
    try {
      const int sent = udp_.front().sendTo(bytes.data(), static_cast<int>(bytes.size()), target.address);
      if (sent < 0) throw Poco::IOException("send buffer full");
      ++counters_.messagesOut;
    } catch (const Poco::Exception& error) {
      ++counters_.sendFailures;
      log().warning("UDP send to %s failed: %s", target.address.toString(), error.displayText());
      user_.onSendFailure(target);
    }
    return;
  }
  Connection* connection = nullptr;
  if (target.connectionId != 0) {
    auto found = connections_.find(target.connectionId);
    if (found != connections_.end() && !found->second->dead) connection = found->second.get();
  }
  if (connection == nullptr) {
    for (auto& [id, candidate] : connections_) {
      if (!candidate->dead && candidate->protocol == target.protocol && candidate->peer == target.address) {
        connection = candidate.get();
        break;
      }
    }
  }
  if (connection == nullptr) connection = connectTo(target);
  if (connection == nullptr) {
    ++counters_.sendFailures;
    user_.onSendFailure(target);
    return;
  }
  connection->out.append(bytes);
  ++counters_.messagesOut;
  if (!connection->connecting) flush(*connection);
}

Transport::Connection* Transport::connectTo(const Target& target) {
  if (connections_.size() >= limits_.maxConnections) return nullptr;
  if (target.protocol == Protocol::Tls && !tls_) {
    log().warning("no TLS configured for a connection to %s", target.address.toString());
    return nullptr;
  }
  auto connection = std::make_unique<Connection>();
  try {
    connection->socket.connectNB(target.address);
  } catch (const Poco::Exception& error) {
    log().warning("connect to %s failed: %s", target.address.toString(), error.displayText());
    return nullptr;
  }
  connection->id = nextConnectionId_++;
  connection->protocol = target.protocol;
  connection->peer = target.address;
  connection->connecting = true;
  connection->outbound = true;
  connection->lastActivity = Clock::now();
  connection->partialSince = connection->lastActivity;
  if (target.protocol == Protocol::Tls) {
    // The session is made now so the name to verify travels with the
    // connection; the handshake starts once the TCP connect completes.
    try {
      connection->tls = std::make_unique<TlsSession>(
          tls_, connection->socket.impl()->sockfd(), false,
          target.serverName.empty() ? target.address.host().toString() : target.serverName);
    } catch (const TlsError& error) {
      log().warning("TLS to %s: %s", target.address.toString(), std::string(error.what()));
      connection->socket.close();
      return nullptr;
    }
    connection->handshaking = true;
  }
  pollSet_.add(connection->socket, PollSet::POLL_READ | PollSet::POLL_WRITE | PollSet::POLL_ERROR);
  connectionBySocket_[connection->socket.impl()] = connection->id;
  Connection* raw = connection.get();
  connections_.emplace(raw->id, std::move(connection));
  return raw;
}

void Transport::flush(Connection& connection) {
  if (connection.tls) {
    flushTls(connection);
    return;
  }
  while (!connection.out.empty()) {
    int sent = -1;
    try {
      sent = connection.socket.sendBytes(connection.out.data(), static_cast<int>(connection.out.size()));
    } catch (const Poco::Exception& error) {
      log().information("TCP send to %s failed: %s", connection.peer.toString(), error.displayText());
      close(connection.id, true);
      return;
    }
    if (sent <= 0) break;  // would block: wait for POLL_WRITE
    connection.out.erase(0, static_cast<std::size_t>(sent));
  }
  updateInterest(connection);
}

void Transport::updateInterest(Connection& connection) {
  const bool wantWrite = connection.tls ? connection.tlsWantsWrite : !connection.out.empty();
  pollSet_.update(connection.socket, PollSet::POLL_READ | PollSet::POLL_ERROR | (wantWrite ? PollSet::POLL_WRITE : 0));
}

void Transport::flushTls(Connection& connection) {
  if (connection.handshaking) {
    advanceHandshake(connection);
    return;
  }
  connection.tlsWantsWrite = false;
  while (!connection.out.empty()) {
    TlsWant want = TlsWant::Nothing;
    const int taken = connection.tls->write(connection.out, want);
    if (taken > 0) {
      connection.out.erase(0, static_cast<std::size_t>(taken));
      continue;
    }
    if (want == TlsWant::Write) connection.tlsWantsWrite = true;
    if (want == TlsWant::Write || want == TlsWant::Read) break;
    log().information("TLS send to %s failed: %s", connection.peer.toString(), connection.tls->failure());
    close(connection.id, true);
    return;
  }
  updateInterest(connection);
}

void Transport::advanceHandshake(Connection& connection) {
  const TlsWant want = connection.tls->handshake();
  connection.tlsWantsWrite = want == TlsWant::Write;
  if (want == TlsWant::Read || want == TlsWant::Write) {
    updateInterest(connection);
    return;
  }
  if (want != TlsWant::Nothing) {
    ++counters_.tlsFailures;
    log().information("TLS %s %s failed: %s", std::string(connection.outbound ? "to" : "from"),
                      connection.peer.toString(), connection.tls->failure());
    close(connection.id, true);
    return;
  }
  connection.handshaking = false;
  connection.partialSince = Clock::now();
  ++counters_.tlsHandshakes;
  log().debug("TLS %s %s established (peer '%s')", std::string(connection.outbound ? "to" : "from"),
              connection.peer.toString(), connection.tls->peerSubject());
  flushTls(connection);
  // Application data that came with the handshake's last flight is in
  // OpenSSL's buffer, where poll() cannot see it.
  if (!connection.dead) readStream(connection);
}

void Transport::close(std::uint64_t id, bool failed) {
  auto found = connections_.find(id);
  if (found == connections_.end() || found->second->dead) return;
  Connection& connection = *found->second;
  connection.dead = true;
  if (!connection.outbound) {
    auto count = inboundBySource_.find(connection.peer.host().toString());
    if (count != inboundBySource_.end() && --count->second == 0) inboundBySource_.erase(count);
  }
  pollSet_.remove(connection.socket);
  connectionBySocket_.erase(connection.socket.impl());
  const bool undelivered = !connection.out.empty() || connection.connecting || connection.handshaking;
  // Before the descriptor closes, so the session's close_notify cannot land
  // on a socket that reuses its number.
  connection.tls.reset();
  try {
    connection.socket.close();
  } catch (const Poco::Exception&) {
  }
  if (failed && undelivered) {
    ++counters_.sendFailures;
    user_.onSendFailure(Target{connection.protocol, connection.peer, id});
  }
}

void Transport::acceptOn(Poco::Net::ServerSocket& server, Protocol protocol) {
  for (int i = 0; i < 64; ++i) {
    Poco::Net::StreamSocket socket;
    Poco::Net::SocketAddress peer;
    try {
      socket = server.acceptConnection(peer);
    } catch (const Poco::Exception&) {
      return;  // nothing more to accept right now
    }
    std::size_t& fromSource = inboundBySource_[peer.host().toString()];
    if (connections_.size() >= limits_.maxConnections || fromSource >= limits_.maxConnectionsPerSource) {
      if (fromSource == 0) inboundBySource_.erase(peer.host().toString());
      ++counters_.connectionsRefused;
      socket.close();
      continue;
    }
    ++fromSource;
    socket.setBlocking(false);
    socket.setNoDelay(true);
    auto connection = std::make_unique<Connection>();
    connection->id = nextConnectionId_++;
    connection->protocol = protocol;
    connection->socket = socket;
    connection->peer = peer;
    connection->lastActivity = Clock::now();
    // The header timeout also bounds the TLS handshake.
    connection->partialSince = connection->lastActivity;
    if (protocol == Protocol::Tls) {
      try {
        connection->tls = std::make_unique<TlsSession>(tls_, socket.impl()->sockfd(), true, "");
      } catch (const TlsError& error) {
        log().warning("TLS from %s: %s", peer.toString(), std::string(error.what()));
        if (--fromSource == 0) inboundBySource_.erase(peer.host().toString());
        socket.close();
        continue;
      }
      connection->handshaking = true;
    }
    pollSet_.add(connection->socket, PollSet::POLL_READ | PollSet::POLL_ERROR);
    connectionBySocket_[connection->socket.impl()] = connection->id;
    ++counters_.connectionsAccepted;
    connections_.emplace(connection->id, std::move(connection));
  }
}

void Transport::readDatagrams(Poco::Net::DatagramSocket& socket) {
  for (std::size_t i = 0; i < kMaxDatagramsPerRound; ++i) {
    Poco::Net::SocketAddress source;
    int received = -1;
    try {
      received = socket.receiveFrom(datagramBuffer_.data(), static_cast<int>(datagramBuffer_.size()), source);
    } catch (const Poco::Exception&) {
      return;  // ICMP errors surface here on Linux; nothing to read
    }
    if (received < 0) return;
    if (received == 0) continue;
    ++counters_.datagramsIn;
    std::string bytes(datagramBuffer_.data(), static_cast<std::size_t>(received));
    // A lone CRLF pair is a keep-alive (RFC 5626 §4.4.1 uses STUN on UDP;
    // bare CRLFs are what many UAs send). Nothing to answer.
    if (bytes.find_first_not_of("\r\n") == std::string::npos) continue;
    user_.onMessage(std::move(bytes), Origin{Protocol::Udp, source, 0});
  }
}

void Transport::readStream(Connection& connection) {
  if (connection.handshaking) {
    advanceHandshake(connection);
    return;  // on success the handshake reads what followed it
  }
  char buffer[16384];
  for (int reads = 0;; ++reads) {
    // TLS is read until OpenSSL has nothing buffered: poll cannot see
    // records OpenSSL already holds (docs/limitations.md).
    if (!connection.tls && reads == kMaxStreamReadsPerRound) break;
    int received = -1;
    if (connection.tls) {
      TlsWant want = TlsWant::Nothing;
      received = connection.tls->read(buffer, sizeof buffer, want);
      if (received == 0) {
        if (want == TlsWant::Read) break;
        if (want == TlsWant::Write) {
          connection.tlsWantsWrite = true;
          updateInterest(connection);
          break;
        }
        if (want == TlsWant::Failed) {
          log().information("TLS from %s: %s", connection.peer.toString(), connection.tls->failure());
        }
        close(connection.id, want == TlsWant::Failed);
        return;
      }
    } else {
      try {
        received = connection.socket.receiveBytes(buffer, sizeof buffer);
      } catch (const Poco::Exception&) {
        close(connection.id, true);
        return;
      }
      if (received < 0) break;  // would block
      if (received == 0) {
        close(connection.id, false);
        return;
      }
    }
    if (connection.in.empty()) connection.partialSince = Clock::now();
    connection.in.append(buffer, static_cast<std::size_t>(received));
    connection.lastActivity = Clock::now();
    frameStream(connection);
    if (connection.dead) return;
  }
}

void Transport::frameStream(Connection& connection) {
  std::string& in = connection.in;
  while (!in.empty() && !connection.dead) {
    const sip::StreamFrame frame = sip::nextStreamFrame(in, limits_.maxMessageSize);
    switch (frame.kind) {
      case sip::StreamFrame::Kind::Incomplete:
        return;
      case sip::StreamFrame::Kind::Ping:
        in.erase(0, frame.length);
        connection.out.append("\r\n");
        ++counters_.keepAlivesAnswered;
        flush(connection);
        continue;
      case sip::StreamFrame::Kind::Crlf:
        in.erase(0, frame.length);
        continue;
      case sip::StreamFrame::Kind::Error:
        ++counters_.framingErrors;
        log().information("closing %s: %s", connection.peer.toString(), std::string(frame.error));
        close(connection.id, false);
        return;
      case sip::StreamFrame::Kind::Message:
        break;
    }
    std::string message = in.substr(0, frame.length);
    in.erase(0, frame.length);
    connection.partialSince = Clock::now();
    ++counters_.streamMessagesIn;
    user_.onMessage(std::move(message), Origin{connection.protocol, connection.peer, connection.id});
  }
}

void Transport::expireIdle() {
  const auto now = Clock::now();
  if (now - lastIdleSweep_ < std::chrono::seconds(1)) return;
  lastIdleSweep_ = now;
  std::vector<std::uint64_t> expired;
  for (auto& [id, connection] : connections_) {
    if (connection->dead) continue;
    const bool idle = now - connection->lastActivity > limits_.idleTimeout;
    const bool unframed = !connection->in.empty() || connection->handshaking;
    const bool stalled = unframed && now - connection->partialSince > limits_.headerTimeout;
    if (idle || stalled) expired.push_back(id);
  }
  for (auto id : expired) close(id, false);
}

void Transport::poll(std::chrono::milliseconds timeout) {
  const auto ready = pollSet_.poll(Poco::Timespan(static_cast<long>(timeout.count() / 1000),
                                                  static_cast<long>((timeout.count() % 1000) * 1000)));
  for (const auto& [socket, mode] : ready) {
    if (socket.impl() == wakeSocket_.impl()) {
      char sink[64];
      Poco::Net::SocketAddress from;
      try {
        while (wakeSocket_.receiveFrom(sink, sizeof sink, from) > 0) {
        }
      } catch (const Poco::Exception&) {
      }
      continue;
    }
    bool handled = false;
    for (auto& udp : udp_) {
      if (udp.impl() == socket.impl()) {
        readDatagrams(udp);
        handled = true;
        break;
      }
    }
    if (handled) continue;
    for (auto* listeners : {&tcpListeners_, &tlsListeners_}) {
      for (auto& server : *listeners) {
        if (server.impl() == socket.impl()) {
          if (accepting_) acceptOn(server, listeners == &tlsListeners_ ? Protocol::Tls : Protocol::Tcp);
          handled = true;
          break;
        }
      }
    }
    if (handled) continue;
    auto id = connectionBySocket_.find(socket.impl());
    if (id == connectionBySocket_.end()) continue;
    auto found = connections_.find(id->second);
    if (found == connections_.end()) continue;
    Connection& connection = *found->second;
    if (connection.connecting) {
      if (mode & PollSet::POLL_ERROR) {
        log().information("connect to %s refused", connection.peer.toString());
        close(connection.id, true);
        continue;
      }
      if (mode & PollSet::POLL_WRITE) {
        connection.connecting = false;
        connection.socket.setNoDelay(true);
        if (connection.handshaking) {
          advanceHandshake(connection);
          continue;
        }
      }
    }
    if (mode & PollSet::POLL_READ) readStream(connection);
    if (!connection.dead && (mode & PollSet::POLL_WRITE)) flush(connection);
    if (!connection.dead && (mode & PollSet::POLL_ERROR)) close(connection.id, true);
  }
  expireIdle();
  for (auto it = connections_.begin(); it != connections_.end();) {
    it = it->second->dead ? connections_.erase(it) : std::next(it);
  }
}

}  // namespace sipwarden::transport
