#pragma once
// The SIP transport layer: UDP, TCP and TLS listeners, outbound TCP and TLS
// connections, stream framing (Content-Length, RFC 5626 CRLF keep-alives),
// all driven from one thread by poll(). It knows nothing of transactions: whole messages go
// up through TransportUser, bytes come down through send().

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/PollSet.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/SocketImpl.h>
#include <Poco/Net/StreamSocket.h>

#include "transport/tls.h"

namespace sipwarden::transport {

enum class Protocol { Udp, Tcp, Tls };

std::string_view protocolName(Protocol protocol);  // "UDP", "TCP", "TLS"
inline bool isStream(Protocol protocol) { return protocol != Protocol::Udp; }
// "udp", "tcp", "tls" in any case (config, URI transport=, Via); false for
// anything else.
bool protocolFromName(std::string_view name, Protocol& out);

// Where a message came from, and so where its replies may go back.
struct Origin {
  Protocol protocol = Protocol::Udp;
  Poco::Net::SocketAddress source;
  std::uint64_t connectionId = 0;  // stream connection; 0 for datagrams
};

// Where to send: a protocol and an address, plus a connection to prefer
// (the one a request arrived on, for its responses).
struct Target {
  Protocol protocol = Protocol::Udp;
  Poco::Net::SocketAddress address;
  std::uint64_t connectionId = 0;
  // For a new TLS connection: the host the certificate must name (and the
  // SNI when it is a name). Empty: the address itself.
  std::string serverName = {};
};

// What the proxy needs of a transport: a way to send bytes somewhere.
class Sender {
 public:
  virtual ~Sender() = default;
  // Sends one whole message. Failures are reported later through
  // TransportUser::onSendFailure, never thrown.
  virtual void send(const Target& target, std::string_view bytes) = 0;
};

// Implemented by the proxy. Called on the transport thread.
class TransportUser {
 public:
  virtual ~TransportUser() = default;
  // One framed message. `bytes` holds exactly one datagram or one
  // Content-Length framed stream message.
  virtual void onMessage(std::string bytes, const Origin& origin) = 0;
  // A send to `target` could not be done (connection refused, reset before
  // the bytes left). Lets the proxy fail over at once.
  virtual void onSendFailure(const Target& target) = 0;
};

struct TransportLimits {
  std::size_t maxMessageSize = 65536;
  std::size_t maxConnections = 4096;
  // Accepted connections from one address (a client opening connection
  // after connection must not take them all).
  std::size_t maxConnectionsPerSource = 256;
  std::chrono::milliseconds idleTimeout{std::chrono::minutes(5)};
  // A stream that has not completed a message's header section in this time
  // is closed (slow or partial senders must not hold resources forever).
  std::chrono::milliseconds headerTimeout{std::chrono::seconds(30)};
};

struct TransportCounters {
  std::uint64_t datagramsIn = 0;
  std::uint64_t streamMessagesIn = 0;
  std::uint64_t messagesOut = 0;
  std::uint64_t sendFailures = 0;
  std::uint64_t framingErrors = 0;
  std::uint64_t connectionsAccepted = 0;
  std::uint64_t connectionsRefused = 0;  // over the connection limit
  std::uint64_t keepAlivesAnswered = 0;
  std::uint64_t tlsHandshakes = 0;
  std::uint64_t tlsFailures = 0;  // handshake, verification or subject refused
};

class Transport final : public Sender {
 public:
  Transport(TransportUser& user, TransportLimits limits);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Sets the TLS contexts for connections opened from now on (at start and
  // on reload); open connections keep theirs. Needed before a TLS listen().
  void setTls(std::shared_ptr<const TlsContexts> contexts) { tls_ = std::move(contexts); }

  // Binds a listener; throws Poco::Exception when the address is taken
  // (TlsError for TLS without a certificate).
  void listen(Protocol protocol, const Poco::Net::SocketAddress& address);
  // The address actually bound (port 0 resolves to the kernel's choice).
  Poco::Net::SocketAddress boundAddress(Protocol protocol) const;
  bool hasListener(Protocol protocol) const;

  // Sends one message. For TCP, reuses the target's connection or any open
  // connection to its address, else connects (non-blocking; bytes are queued).
  void send(const Target& target, std::string_view bytes) override;

  // Waits up to `timeout` for socket events and handles them. Returns after
  // one round, so the caller can run timers and check for shutdown.
  void poll(std::chrono::milliseconds timeout);

  // Stops accepting new connections and datagrams are still read; used when
  // draining on shutdown.
  void stopAccepting();
  // Makes a poll() in progress return soon. Safe from any thread.
  void wakeup();
  std::size_t connectionCount() const { return connections_.size(); }
  const TransportCounters& counters() const { return counters_; }

 private:
  struct Connection;
  void acceptOn(Poco::Net::ServerSocket& server, Protocol protocol);
  void readDatagrams(Poco::Net::DatagramSocket& socket);
  void readStream(Connection& connection);
  void flush(Connection& connection);
  void close(std::uint64_t id, bool failed);
  void frameStream(Connection& connection);
  void expireIdle();
  Connection* connectTo(const Target& target);
  void startTls(Connection& connection, bool serverSide, const std::string& serverName);
  void advanceHandshake(Connection& connection);
  void flushTls(Connection& connection);
  void updateInterest(Connection& connection);

  TransportUser& user_;
  TransportLimits limits_;
  Poco::Net::PollSet pollSet_;
  std::unordered_map<std::string, std::size_t> inboundBySource_;  // open accepted connections per peer host
  std::vector<Poco::Net::DatagramSocket> udp_;
  std::vector<Poco::Net::ServerSocket> tcpListeners_;
  std::vector<Poco::Net::ServerSocket> tlsListeners_;
  std::shared_ptr<const TlsContexts> tls_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::unordered_map<Poco::Net::SocketImpl*, std::uint64_t> connectionBySocket_;
  std::uint64_t nextConnectionId_ = 1;
  std::string datagramBuffer_;
  Poco::Net::DatagramSocket wakeSocket_;  // loopback datagrams that end a poll early
  bool accepting_ = true;
  std::chrono::steady_clock::time_point lastIdleSweep_;
  TransportCounters counters_;
};

}  // namespace sipwarden::transport
