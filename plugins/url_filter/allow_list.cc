#include "allow_list.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sipwarden::plugins::url_filter {
namespace {

bool validDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > AllowList::kMaxDomain || domain.front() == '.' || domain.back() == '.') {
    return false;
  }
  std::size_t label = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      if (label == 0 || label > 63) return false;
      label = 0;
      continue;
    }
    const char c = domain[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    ++label;
  }
  return true;
}

}  // namespace

bool AllowList::add(std::string_view entry) {
  std::string text(entry);
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const std::size_t slash = text.find('/');
  std::string address = text.substr(0, slash);
  Network network;
  int maxPrefix = 0;
  if (inet_pton(AF_INET, address.c_str(), network.address.data()) == 1) {
    maxPrefix = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), network.address.data()) == 1) {
    network.v6 = true;
    maxPrefix = 128;
  }
  if (maxPrefix != 0) {
    network.prefix = maxPrefix;
    if (slash != std::string::npos) {
      const std::string_view bits = std::string_view(text).substr(slash + 1);
      const auto parsed = std::from_chars(bits.data(), bits.data() + bits.size(), network.prefix);
      if (bits.empty() || parsed.ec != std::errc() || parsed.ptr != bits.data() + bits.size() || network.prefix < 0 ||
          network.prefix > maxPrefix) {
        return false;
      }
    }
    networks_.push_back(network);
    return true;
  }
  if (slash != std::string::npos) return false;
  std::string_view domain = text;
  if (domain.starts_with("*."))
    domain.remove_prefix(2);
  else if (domain.starts_with("."))
    domain.remove_prefix(1);
  // A name that ends in a number would be read as an IPv4 address by a browser.
  if (!validDomain(domain) || endsInNumber(domain)) return false;
  domains_.emplace(domain);
  domainLengths_.set(domain.size());
  return true;
}

bool AllowList::inNetwork(const Network& network, const std::uint8_t* address, bool v6) {
  if (network.v6 != v6) return false;
  const int full = network.prefix / 8;
  if (std::memcmp(network.address.data(), address, static_cast<std::size_t>(full)) != 0) return false;
  const int rest = network.prefix % 8;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (network.address[static_cast<std::size_t>(full)] & mask) == (address[full] & mask);
}

bool AllowList::allows(const Host& host) const {
  switch (host.type) {
    case HostType::Invalid:
      return false;
    case HostType::Ipv4:
      for (const auto& network : networks_) {
        if (inNetwork(network, host.address.data(), false)) return true;
      }
      return false;
    case HostType::Ipv6: {
      static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
      const bool mapped = std::memcmp(host.address.data(), kMapped, 12) == 0;
      for (const auto& network : networks_) {
        if (inNetwork(network, host.address.data(), true)) return true;
        if (mapped && inNetwork(network, host.address.data() + 12, false)) return true;
      }
      return false;
    }
    case HostType::Name:
      break;
  }
  // Byte comparison: a look-alike letter from another script never equals
  // the ASCII one, and an xn-- entry matches only that exact punycode. The
  // host itself, then each parent domain ("b.example.com", "example.com",
  // "com"); a name is hashed only when some entry is as long.
  std::string_view name = host.name;
  while (true) {
    if (name.size() <= kMaxDomain && domainLengths_[name.size()] && domains_.find(name) != domains_.end()) return true;
    const std::size_t dot = name.find('.');
    if (dot == std::string_view::npos) return false;
    name.remove_prefix(dot + 1);
  }
}

}  // namespace sipwarden::plugins::url_filter
