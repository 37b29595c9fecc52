#pragma once
// The intranet allow-list: domains (each with its subdomains) and IPv4 /
// IPv6 networks whose links pass untouched. A host matches only when it is
// exactly, byte for byte, under an entry: an international host (non-ASCII
// or xn--) never matches an ASCII entry, so a homoglyph look-alike such as
// "exаmple.com" (Cyrillic а) is not taken for example.com.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "url_parts.h"

namespace sipwarden::plugins::urlfilter {

class AllowList {
 public:
  // Adds "example.com" (also written ".example.com" or "*.example.com"),
  // "10.0.0.0/8", "192.0.2.7", "fd00::/8" or "2001:db8::1". Returns false
  // when the entry is none of these.
  bool add(std::string_view entry);
  bool allows(const Host& host) const;
  bool empty() const { return domains_.empty() && networks_.empty(); }

 private:
  struct Network {
    bool v6 = false;
    std::array<std::uint8_t, 16> address{};
    int prefix = 0;
  };
  static bool inNetwork(const Network& network, const std::uint8_t* address, bool v6);

  std::vector<std::string> domains_;
  std::vector<Network> networks_;
};

}  // namespace sipwarden::plugins::urlfilter
