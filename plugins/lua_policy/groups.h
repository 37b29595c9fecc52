#pragma once
// Named groups of addresses for sw.groups.member (ethical walls, VIP lists).
// A member is an address ("sip:alice@example.com" or "alice@example.com")
// or a whole domain ("@research.example.com", subdomains included).

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace sipwarden::lua {

class Groups {
 public:
  // Adds the members of a JSON object {"group": ["member", ...], ...}.
  // Returns an error text ("" on success) naming the bad entry.
  std::string addJson(std::string_view json);
  bool known(const std::string& group) const { return groups_.count(group) != 0; }
  // Whether the address (URI, name-addr or user@host) belongs to the group.
  bool member(std::string_view address, const std::string& group) const;

 private:
  struct Members {
    std::set<std::string> addresses;  // user@host, host lower-case
    std::set<std::string> domains;    // lower-case
  };
  std::map<std::string, Members> groups_;
};

}  // namespace sipwarden::lua
