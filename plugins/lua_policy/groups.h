#pragma once
// Named groups of addresses for sw.groups.member (ethical walls, VIP lists).
// A member is an address ("sip:alice@example.com" or "alice@example.com")
// or a whole domain ("@research.example.com", subdomains included).
// Used from the SIP worker thread only (it memoises the last addresses).

#include <array>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace sipwarden::plugins::lua_policy {

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
    std::set<std::string, std::less<>> addresses;  // user@host, host lower-case
    std::set<std::string, std::less<>> domains;    // lower-case
  };
  // The address-of-record of `address`, from a small memo: a wall tests the
  // same sender and recipient against several groups.
  const std::string& addressOfRecord(std::string_view address) const;

  std::map<std::string, Members, std::less<>> groups_;
  struct Memo {
    std::string address;
    std::string aor;
  };
  mutable std::array<Memo, 4> memo_;
  mutable std::size_t memoNext_ = 0;
};

}  // namespace sipwarden::plugins::lua_policy
