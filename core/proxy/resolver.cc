#include "proxy/resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <random>

#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/HostEntry.h>

namespace sipwarden::proxy {

using transport::Protocol;
using transport::Target;

namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.dns"); }

// One resolver state per lookup thread (res_n* functions are re-entrant on
// their own state), aimed at the configured servers if any.
class ResolverState {
 public:
  explicit ResolverState(const std::vector<Poco::Net::SocketAddress>& servers) {
    state_ = {};
    ok_ = res_ninit(&state_) == 0;
    if (!ok_ || servers.empty()) return;
    state_.nscount = 0;
    for (const auto& server : servers) {
      if (state_.nscount >= MAXNS) break;
      const auto* address = reinterpret_cast<const sockaddr_in*>(server.addr());
      if (server.family() != Poco::Net::SocketAddress::IPv4) continue;
      state_.nsaddr_list[state_.nscount++] = *address;
    }
    // A dead server should cost seconds, not the minutes of the defaults.
    state_.retrans = 2;
    state_.retry = 2;
  }
  ~ResolverState() {
    if (ok_) res_nclose(&state_);
  }
  ResolverState(const ResolverState&) = delete;
  ResolverState& operator=(const ResolverState&) = delete;

  // Sends one query; returns the parsed answer section's records of `type`.
  template <typename Visit>
  bool query(const std::string& name, int type, Visit&& visit) {
    if (!ok_) return false;
    unsigned char answer[4096];
    const int length = res_nquery(&state_, name.c_str(), ns_c_in, type, answer, sizeof answer);
    if (length <= 0) return false;
    ns_msg message;
    if (ns_initparse(answer, length, &message) != 0) return false;
    const int count = ns_msg_count(message, ns_s_an);
    for (int i = 0; i < count; ++i) {
      ns_rr record;
      if (ns_parserr(&message, ns_s_an, i, &record) != 0) continue;
      if (ns_rr_type(record) != type) continue;  // CNAMEs on the way
      visit(message, record);
    }
    return true;
  }

 private:
  struct __res_state state_;
  bool ok_ = false;
};

thread_local std::unique_ptr<ResolverState> threadState;
thread_local const void* threadStateOwner = nullptr;

ResolverState& stateFor(const void* owner, const std::vector<Poco::Net::SocketAddress>& servers) {
  if (!threadState || threadStateOwner != owner) {
    threadState = std::make_unique<ResolverState>(servers);
    threadStateOwner = owner;
  }
  return *threadState;
}

std::uint16_t defaultPort(Protocol protocol) { return protocol == Protocol::Tls ? 5061 : 5060; }

// RFC 3263 §4.1: TLS is "_sips._tcp", TCP "_sip._tcp", UDP "_sip._udp".
std::string srvPrefix(Protocol protocol) {
  return protocol == Protocol::Tls ? "_sips._tcp." : protocol == Protocol::Tcp ? "_sip._tcp." : "_sip._udp.";
}

}  // namespace

std::string NameQuery::key() const {
  return host + "|" + std::to_string(port) + "|" + std::string(transport::protocolName(protocol));
}

std::vector<SrvRecord> orderSrv(std::vector<SrvRecord> records, const std::function<unsigned(unsigned)>& pick) {
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  std::vector<SrvRecord> ordered;
  ordered.reserve(records.size());
  auto begin = records.begin();
  while (begin != records.end()) {
    auto end = std::find_if(begin, records.end(), [&](const SrvRecord& r) { return r.priority != begin->priority; });
    std::vector<SrvRecord> group(begin, end);
    // RFC 2782: zero-weight records first, then draw by running sums.
    std::stable_partition(group.begin(), group.end(), [](const SrvRecord& r) { return r.weight == 0; });
    while (!group.empty()) {
      unsigned total = 0;
      for (const auto& record : group) total += record.weight;
      const unsigned chosen = total == 0 ? 0 : pick(total);
      unsigned running = 0;
      std::size_t index = 0;
      for (; index < group.size(); ++index) {
        running += group[index].weight;
        if (running >= chosen) break;
      }
      index = std::min(index, group.size() - 1);
      ordered.push_back(group[index]);
      group.erase(group.begin() + static_cast<std::ptrdiff_t>(index));
    }
    begin = end;
  }
  return ordered;
}

DnsResolver::DnsResolver(DnsSettings settings) : settings_(std::move(settings)) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, settings_.threads); ++i) threads_.emplace_back([this] { work(); });
}

DnsResolver::~DnsResolver() {
  {
    std::lock_guard<std::mutex> hold(lock_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

std::optional<NameAnswer> DnsResolver::cached(const NameQuery& query) {
  std::lock_guard<std::mutex> hold(lock_);
  auto found = cache_.find(query.key());
  if (found == cache_.end()) return std::nullopt;
  if (found->second.expires <= std::chrono::steady_clock::now()) {
    cache_.erase(found);
    return std::nullopt;
  }
  return found->second.answer;
}

void DnsResolver::lookup(const NameQuery& query, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> hold(lock_);
    auto [waiting, fresh] = waiting_.try_emplace(query.key());
    waiting->second.push_back(std::move(done));
    if (!fresh) return;  // the same name is already being looked up
    queue_.push_back(query);
  }
  wake_.notify_one();
}

void DnsResolver::work() {
  for (;;) {
    NameQuery query;
    {
      std::unique_lock<std::mutex> hold(lock_);
      wake_.wait(hold, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      query = std::move(queue_.front());
      queue_.pop_front();
    }
    std::chrono::seconds ttl{0};
    NameAnswer answer;
    try {
      answer = resolveNow(query, ttl);
    } catch (const std::exception& error) {
      answer.error = "DNS lookup of " + query.host + " failed: " + error.what();
      ttl = settings_.negativeTtl;
    }
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> hold(lock_);
      if (cache_.size() >= settings_.maxEntries) {
        const auto now = std::chrono::steady_clock::now();
        std::erase_if(cache_, [&](const auto& entry) { return entry.second.expires <= now; });
        if (cache_.size() >= settings_.maxEntries) cache_.clear();
      }
      cache_[query.key()] = Entry{std::move(answer), std::chrono::steady_clock::now() + ttl};
      auto found = waiting_.find(query.key());
      if (found != waiting_.end()) {
        callbacks = std::move(found->second);
        waiting_.erase(found);
      }
    }
    for (auto& callback : callbacks) callback();
  }
}

std::vector<SrvRecord> DnsResolver::srv(const std::string& name, std::uint32_t& ttl) {
  std::vector<SrvRecord> records;
  stateFor(this, settings_.servers).query(name, ns_t_srv, [&](const ns_msg& message, const ns_rr& record) {
    if (ns_rr_rdlen(record) < 7) return;
    const unsigned char* data = ns_rr_rdata(record);
    SrvRecord srv;
    srv.priority = ns_get16(data);
    srv.weight = ns_get16(data + 2);
    srv.port = ns_get16(data + 4);
    char target[NS_MAXDNAME];
    if (ns_name_uncompress(ns_msg_base(message), ns_msg_end(message), data + 6, target, sizeof target) < 0) return;
    srv.target = target;
    if (srv.target == ".") return;  // RFC 2782: the service is decidedly not available
    ttl = std::min(ttl, ns_rr_ttl(record));
    records.push_back(std::move(srv));
  });
  return records;
}

std::vector<std::string> DnsResolver::addresses(const std::string& name, std::uint32_t& ttl) {
  std::vector<std::string> out;
  auto& state = stateFor(this, settings_.servers);
  for (const int type : {ns_t_a, ns_t_aaaa}) {
    state.query(name, type, [&](const ns_msg&, const ns_rr& record) {
      char text[INET6_ADDRSTRLEN];
      const int family = type == ns_t_a ? AF_INET : AF_INET6;
      const std::size_t size = type == ns_t_a ? 4 : 16;
      if (ns_rr_rdlen(record) != size || inet_ntop(family, ns_rr_rdata(record), text, sizeof text) == nullptr) return;
      ttl = std::min(ttl, ns_rr_ttl(record));
      out.emplace_back(text);
    });
  }
  if (out.empty() && settings_.servers.empty()) {
    // /etc/hosts and the rest of nsswitch, as the system resolves names.
    try {
      const Poco::Net::HostEntry entry = Poco::Net::DNS::hostByName(name);
      for (const auto& address : entry.addresses()) out.push_back(address.toString());
      ttl = std::min<std::uint32_t>(ttl, 60);
    } catch (const Poco::Exception&) {
    }
  }
  return out;
}

NameAnswer DnsResolver::resolveNow(const NameQuery& query, std::chrono::seconds& ttl) {
  NameAnswer answer;
  std::uint32_t seconds = static_cast<std::uint32_t>(settings_.maxTtl.count());
  auto addTargets = [&](const std::string& host, std::uint16_t port) {
    for (const auto& address : addresses(host, seconds)) {
      // The certificate of a TLS next hop must name the SIP domain that was
      // asked for, not the SRV target (RFC 5922 §4.1).
      answer.targets.push_back(Target{query.protocol, Poco::Net::SocketAddress(address, port), 0, query.host});
    }
  };
  if (query.port == 0 && settings_.useSrv) {
    static thread_local std::minstd_rand random(std::random_device{}());
    const auto records = orderSrv(srv(srvPrefix(query.protocol) + query.host, seconds),
                                  [](unsigned total) { return static_cast<unsigned>(random() % (total + 1)); });
    for (const auto& record : records) addTargets(record.target, record.port);
  }
  if (answer.targets.empty()) addTargets(query.host, query.port != 0 ? query.port : defaultPort(query.protocol));
  if (answer.targets.empty()) {
    answer.error = "Cannot resolve " + query.host;
    ttl = settings_.negativeTtl;
    log().information("no address for %s", query.host);
    return answer;
  }
  ttl = std::clamp(std::chrono::seconds(seconds), settings_.minTtl, settings_.maxTtl);
  return answer;
}

}  // namespace sipwarden::proxy
