#include "lua_policy/groups.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>

#include "lua_policy/uri.h"
#include "sipwarden/text.h"

namespace sipwarden::plugins::lua_policy {
namespace {

using text::lower;

// "user@host" with the host lower-cased, from a URI, a name-addr or a bare
// address; empty when it is none of these.
std::string normalise(std::string_view address) {
  if (auto uri = parseUri(address)) return uri->aor();
  const auto at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return {};
  return std::string(address.substr(0, at)) + "@" + lower(address.substr(at + 1));
}

}  // namespace

std::string Groups::addJson(std::string_view json) {
  Poco::JSON::Object::Ptr object;
  try {
    object = Poco::JSON::Parser().parse(std::string(json)).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& error) {
    return "expected an object of groups: " + error.displayText();
  }
  for (const auto& [name, value] : *object) {
    Poco::JSON::Array::Ptr list = object->getArray(name);
    if (!list) return name + ": expected a list of addresses";
    Members& members = groups_[name];
    for (unsigned i = 0; i < list->size(); ++i) {
      const std::string where = name + "[" + std::to_string(i) + "]";
      if (!list->get(i).isString()) return where + ": expected a string";
      const std::string entry = list->getElement<std::string>(i);
      if (entry.size() > 1 && entry.front() == '@') {
        members.domains.insert(lower(entry.substr(1)));
        continue;
      }
      std::string aor = normalise(entry);
      if (aor.empty()) return where + ": \"" + entry + "\" is neither an address nor @domain";
      members.addresses.insert(std::move(aor));
    }
  }
  return {};
}

const std::string& Groups::addressOfRecord(std::string_view address) const {
  for (const auto& memo : memo_) {
    if (!memo.address.empty() && memo.address == address) return memo.aor;
  }
  Memo& slot = memo_[memoNext_++ % memo_.size()];
  slot.address = std::string(address);
  slot.aor = normalise(address);
  return slot.aor;
}

bool Groups::member(std::string_view address, const std::string& group) const {
  auto found = groups_.find(group);
  if (found == groups_.end()) return false;
  const std::string& aor = addressOfRecord(address);
  if (aor.empty()) return false;
  if (found->second.addresses.find(std::string_view(aor)) != found->second.addresses.end()) return true;
  std::string_view host = std::string_view(aor).substr(aor.find('@') + 1);
  // The domain and each parent: a.b.example.com, b.example.com, example.com.
  while (!host.empty()) {
    if (found->second.domains.find(host) != found->second.domains.end()) return true;
    const auto dot = host.find('.');
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return false;
}

}  // namespace sipwarden::plugins::lua_policy
