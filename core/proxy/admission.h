#pragma once
// Who may send requests through the hop, and how fast: a source-network
// allow list per listener (others get 403, or are dropped) and per-source
// token buckets for new MESSAGE and INVITE transactions (over the rate:
// 503 with Retry-After). The configured upstreams are exempt: they carry
// everyone's traffic. Called by the proxy for each request, on the SIP
// worker thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <Poco/Net/IPAddress.h>

#include "proxy/clock.h"
#include "transport/transport.h"

namespace sipwarden::proxy {

// "10.0.0.0/8", "2001:db8::/32" or a single address.
struct Network {
  Poco::Net::IPAddress address;
  unsigned prefix = 0;  // leading bits that must match
  // Throws std::invalid_argument naming what is wrong.
  static Network parse(const std::string& text);
  bool contains(const Poco::Net::IPAddress& candidate) const;
};

struct AccessSettings {
  // Empty: everyone may send on that listener.
  std::vector<Network> allowUdp;
  std::vector<Network> allowTcp;
  std::vector<Network> allowTls;
  bool dropDenied = false;  // false: answer 403
};

struct RateSettings {
  double messagesPerSecond = 0;  // 0: no limit
  double invitesPerSecond = 0;
  double burstSeconds = 2;        // a bucket holds this many seconds of the rate
  int retryAfterSeconds = 5;
};

class Admission {
 public:
  enum class Decision { Admit, Forbid, Drop, Throttle };

  Admission(AccessSettings access, RateSettings rates, const Clock& clock);

  // Whether the source may send on this listener at all (every request,
  // ACK and CANCEL included).
  Decision checkSource(const transport::Origin& origin) const;
  // For a new transaction of `method` that passed checkSource: Throttle when
  // its source is over its rate. Retransmissions must not come here.
  Decision checkRate(std::string_view method, const transport::Origin& origin);
  void exempt(const Poco::Net::IPAddress& host) { exempt_.push_back(host); }
  int retryAfterSeconds() const { return rates_.retryAfterSeconds; }
  std::size_t trackedSources() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated{};
  };
  bool exempted(const Poco::Net::IPAddress& host) const;
  bool take(const std::string& key, double rate);
  void forgetIdleBuckets(TimePoint now);

  AccessSettings access_;
  RateSettings rates_;
  const Clock& clock_;
  std::vector<Poco::Net::IPAddress> exempt_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace sipwarden::proxy
