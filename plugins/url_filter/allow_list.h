#pragma once
// The intranet allow-list: domains (each with its subdomains) and IPv4 /
// IPv6 networks whose links pass untouched. A host matches only when it is
// exactly, byte for byte, under an entry: an international host (non-ASCII
// or xn--) never matches an ASCII entry, so a homoglyph look-alike such as
// "exаmple.com" (Cyrillic а) is not taken for example.com.

#include <array>
#include <bitset>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "url_parts.h"

namespace sipwarden::plugins::url_filter {

class AllowList {
 public:
  // Adds "example.com" (also written ".example.com" or "*.example.com"),
  // "10.0.0.0/8", "192.0.2.7", "fd00::/8" or "2001:db8::1". Returns false
  // when the entry is none of these.
  bool add(std::string_view entry);
  // Domains are looked up by hash, each parent of the host in turn (only
  // those as long as some entry): the cost of a link does not grow with the
  // list.
  bool allows(const Host& host) const;

  // The longest domain name there is (and the longest entry).
  static constexpr std::size_t kMaxDomain = 253;
  bool empty() const { return domains_.empty() && networks_.empty(); }

 private:
  struct Network {
    bool v6 = false;
    std::array<std::uint8_t, 16> address{};
    int prefix = 0;
  };
  static bool inNetwork(const Network& network, const std::uint8_t* address, bool v6);

  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };

  std::unordered_set<std::string, NameHash, std::equal_to<>> domains_;
  std::bitset<kMaxDomain + 1> domainLengths_;  // the lengths of domains_' entries
  std::vector<Network> networks_;
};

}  // namespace sipwarden::plugins::url_filter
