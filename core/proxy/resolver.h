#pragma once
// Finding the next hop's addresses from a SIP URI's host (RFC 3263 in
// part): SRV records when the URI names no port, then A and AAAA. Lookups
// run on a resolver thread, never on the SIP thread: a slow DNS server
// must delay only the requests that need it. Answers, good and bad, are
// cached for their TTL.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <Poco/Net/SocketAddress.h>

#include "transport/transport.h"

namespace sipwarden::proxy {

struct NameQuery {
  std::string host;       // a DNS name, never an address literal
  std::uint16_t port = 0;  // 0: the URI names none, so SRV applies
  transport::Protocol protocol = transport::Protocol::Udp;

  std::string key() const;
};

struct NameAnswer {
  std::vector<transport::Target> targets;  // in the order to try
  std::string error;                       // why there are none
};

// Called on the SIP thread, except `done`.
class Resolver {
 public:
  virtual ~Resolver() = default;
  // A cached answer still within its TTL, or nothing.
  virtual std::optional<NameAnswer> cached(const NameQuery& query) = 0;
  // Starts a lookup (or joins one under way). `done` runs on another thread
  // once the answer is in the cache; it must only post and wake.
  virtual void lookup(const NameQuery& query, std::function<void()> done) = 0;
};

struct DnsSettings {
  // Name servers to ask (IPv4 "host:port"); empty: /etc/resolv.conf, with
  // /etc/hosts as a fallback for A/AAAA.
  std::vector<Poco::Net::SocketAddress> servers;
  bool useSrv = true;
  std::chrono::seconds minTtl{5};      // floor, so a TTL of 0 cannot make every request wait
  std::chrono::seconds maxTtl{3600};
  std::chrono::seconds negativeTtl{10};  // how long "no such host" is believed
  std::size_t maxEntries = 10000;
  // Lookups run in parallel, so one slow name does not hold up the others.
  std::size_t threads = 4;
};

// An SRV record as RFC 2782 describes it.
struct SrvRecord {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::string target;
};

// Orders SRV records for trying: lowest priority first; within a priority,
// a weighted random order (RFC 2782). `pick` returns a number in [0, total]
// for a running sum `total`; tests pass a fixed one.
std::vector<SrvRecord> orderSrv(std::vector<SrvRecord> records, const std::function<unsigned(unsigned)>& pick);

class DnsResolver final : public Resolver {
 public:
  explicit DnsResolver(DnsSettings settings);
  ~DnsResolver() override;
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  std::optional<NameAnswer> cached(const NameQuery& query) override;
  void lookup(const NameQuery& query, std::function<void()> done) override;

  // The whole RFC 3263 walk, blocking; the resolver thread's work, public
  // for tests. `ttl` receives how long the answer may be cached.
  NameAnswer resolveNow(const NameQuery& query, std::chrono::seconds& ttl);

 private:
  struct Entry {
    NameAnswer answer;
    std::chrono::steady_clock::time_point expires;
  };
  void work();
  std::vector<std::string> addresses(const std::string& name, std::uint32_t& ttl);
  std::vector<SrvRecord> srv(const std::string& name, std::uint32_t& ttl);

  DnsSettings settings_;
  std::mutex lock_;
  std::condition_variable wake_;
  std::deque<NameQuery> queue_;
  std::unordered_map<std::string, std::vector<std::function<void()>>> waiting_;
  std::unordered_map<std::string, Entry> cache_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sipwarden::proxy
