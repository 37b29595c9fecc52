#include "proxy/admission.h"

#include <Poco/Exception.h>

#include <algorithm>
#include <stdexcept>

namespace sipwarden::proxy {
namespace {

constexpr std::size_t kMaxTrackedSources = 100000;

}  // namespace

Network Network::parse(const std::string& text) {
  const auto slash = text.find('/');
  const std::string host = text.substr(0, slash);
  Poco::Net::IPAddress address;
  // inet_aton takes "10.0.0" for 10.0.0.0: insist on four parts.
  const bool dottedQuad = host.find(':') != std::string::npos || std::count(host.begin(), host.end(), '.') == 3;
  if (!dottedQuad || !Poco::Net::IPAddress::tryParse(host, address)) {
    throw std::invalid_argument("'" + text + "' is not an address or network (like 10.0.0.0/8)");
  }
  const unsigned bits = address.family() == Poco::Net::IPAddress::IPv4 ? 32 : 128;
  unsigned prefix = bits;
  if (slash != std::string::npos) {
    const std::string digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
        std::stoul(digits) > bits) {
      throw std::invalid_argument("'" + text + "': the prefix length must be 0 to " + std::to_string(bits));
    }
    prefix = static_cast<unsigned>(std::stoul(digits));
  }
  return Network{address, prefix};
}

// Compares the leading `prefix` bits byte by byte (Poco's IPAddress::mask
// is IPv4 only).
bool Network::contains(const Poco::Net::IPAddress& candidate) const {
  if (candidate.family() != address.family()) return false;
  const auto* mine = static_cast<const unsigned char*>(address.addr());
  const auto* theirs = static_cast<const unsigned char*>(candidate.addr());
  unsigned bits = prefix;
  for (unsigned i = 0; bits > 0; ++i, bits = bits >= 8 ? bits - 8 : 0) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((mine[i] & mask) != (theirs[i] & mask)) return false;
  }
  return true;
}

Admission::Admission(AccessSettings access, RateSettings rates, const Clock& clock)
    : access_(std::move(access)), rates_(rates), clock_(clock) {}

bool Admission::exempted(const Poco::Net::IPAddress& host) const {
  return std::find(exempt_.begin(), exempt_.end(), host) != exempt_.end();
}

Admission::Decision Admission::checkSource(const transport::Origin& origin) const {
  const auto& allow = origin.protocol == transport::Protocol::Udp   ? access_.allowUdp
                      : origin.protocol == transport::Protocol::Tcp ? access_.allowTcp
                                                                    : access_.allowTls;
  if (allow.empty()) return Decision::Admit;
  const Poco::Net::IPAddress host = origin.source.host();
  if (exempted(host)) return Decision::Admit;
  for (const Network& network : allow) {
    if (network.contains(host)) return Decision::Admit;
  }
  return access_.dropDenied ? Decision::Drop : Decision::Forbid;
}

Admission::Decision Admission::checkRate(std::string_view method, const transport::Origin& origin) {
  const double rate = method == "MESSAGE"  ? rates_.messagesPerSecond
                      : method == "INVITE" ? rates_.invitesPerSecond
                                           : 0;
  if (rate <= 0) return Decision::Admit;
  const Poco::Net::IPAddress host = origin.source.host();
  if (exempted(host)) return Decision::Admit;
  return take(host.toString() + (method == "MESSAGE" ? "/m" : "/i"), rate) ? Decision::Admit : Decision::Throttle;
}

bool Admission::take(const std::string& key, double rate) {
  const TimePoint now = clock_.now();
  const double capacity = std::max(1.0, rate * rates_.burstSeconds);
  auto found = buckets_.find(key);
  if (found == buckets_.end()) {
    if (buckets_.size() >= kMaxTrackedSources) forgetIdleBuckets(now);
    found = buckets_.emplace(key, Bucket{capacity, now}).first;
  }
  Bucket& bucket = found->second;
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(capacity, bucket.tokens + elapsed * rate);
  bucket.updated = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

// A bucket untouched for longer than it takes to refill is full again:
// forgetting it changes nothing. Under a flood of spoofed sources the table
// is capped instead of growing with them.
void Admission::forgetIdleBuckets(TimePoint now) {
  const auto refill = std::chrono::duration_cast<Millis>(std::chrono::duration<double>(rates_.burstSeconds + 1));
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = now - it->second.updated > refill ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() >= kMaxTrackedSources) buckets_.clear();
}

}  // namespace sipwarden::proxy
