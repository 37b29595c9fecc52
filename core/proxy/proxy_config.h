#pragma once
// Everything the proxy core is told by the configuration, already validated.

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/admission.h"
#include "proxy/clock.h"
#include "transport/transport.h"

namespace sipwarden::proxy {

enum class RecordRouteMode { Off, Dialog };

struct Upstream {
  std::string host;
  std::uint16_t port = 5060;
  transport::Protocol protocol = transport::Protocol::Udp;
};

struct TimerSettings {
  Millis t1{500};
  Millis t2{4000};
  Millis t4{5000};
  // Timer C (RFC 3261 §16.6 step 11): how long an INVITE may ring.
  Millis timerC{180000};
  // How long a finished transaction stays to absorb retransmissions (Timers
  // D, J, L, M). RFC 3261 says 64 x T1 = 32 s; like Kamailio's wt_timer the
  // default is 5 s, which still outlasts T2 (4 s), the longest a client
  // waits between retransmissions, at a sixth of the memory.
  Millis linger{5000};
};

struct ProxyConfig {
  // The address written into Via and Record-Route; the ports are those of
  // the UDP, TCP and TLS listeners (0: no such listener).
  std::string advertisedHost = "127.0.0.1";
  std::uint16_t udpPort = 5060;
  std::uint16_t tcpPort = 5060;
  std::uint16_t tlsPort = 0;

  std::uint16_t portFor(transport::Protocol protocol) const {
    switch (protocol) {
      case transport::Protocol::Udp: return udpPort;
      case transport::Protocol::Tcp: return tcpPort;
      case transport::Protocol::Tls: return tlsPort;
    }
    return udpPort;
  }
  bool ownsPort(std::uint16_t port) const {
    return port != 0 && (port == udpPort || port == tcpPort || port == tlsPort);
  }
  std::vector<Upstream> upstreams;
  RecordRouteMode recordRoute = RecordRouteMode::Dialog;
  // Answer every UDP request at its source address and port, as if it
  // carried rport (RFC 3581): what clients behind NAT need.
  bool forceRport = false;
  std::size_t maxMessageSize = 65536;
  std::size_t maxTransactions = 100000;
  // RFC 3261 §18.1.1: a UDP request larger than this goes over TCP
  // (0: never switch).
  std::size_t udpMtuLimit = 1300;
  TimerSettings timers;
  AccessSettings access;
  RateSettings rates;
};

}  // namespace sipwarden::proxy
