#include "lua_policy/shared_store.h"

#include <iterator>

namespace sipwarden::lua {

std::shared_ptr<SharedStore> SharedStore::process() {
  static const auto store = std::make_shared<SharedStore>(100000);
  return store;
}

SharedStore::Clock::time_point SharedStore::expiry(Clock::time_point now, std::chrono::milliseconds ttl) {
  return ttl.count() > 0 ? now + ttl : Clock::time_point::max();
}

bool SharedStore::roomFor(const std::string& key, Clock::time_point now) {
  if (entries_.size() < capacity_ || entries_.count(key)) return true;
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
  }
  return entries_.size() < capacity_;
}

std::optional<SharedStore::Value> SharedStore::get(const std::string& key) {
  std::lock_guard<std::mutex> hold(lock_);
  auto found = entries_.find(key);
  if (found == entries_.end()) return std::nullopt;
  if (found->second.expires <= Clock::now()) {
    entries_.erase(found);
    return std::nullopt;
  }
  return found->second.value;
}

bool SharedStore::set(const std::string& key, Value value, std::chrono::milliseconds ttl) {
  std::lock_guard<std::mutex> hold(lock_);
  const auto now = Clock::now();
  if (!roomFor(key, now)) return false;
  entries_.insert_or_assign(key, Entry{std::move(value), expiry(now, ttl)});
  return true;
}

std::optional<double> SharedStore::increment(const std::string& key, double delta, std::chrono::milliseconds ttl) {
  std::lock_guard<std::mutex> hold(lock_);
  const auto now = Clock::now();
  auto found = entries_.find(key);
  if (found != entries_.end() && found->second.expires > now) {
    double* number = std::get_if<double>(&found->second.value);
    if (number == nullptr) return std::nullopt;
    *number += delta;
    return *number;
  }
  if (!roomFor(key, now)) return std::nullopt;
  entries_.insert_or_assign(key, Entry{delta, expiry(now, ttl)});
  return delta;
}

void SharedStore::erase(const std::string& key) {
  std::lock_guard<std::mutex> hold(lock_);
  entries_.erase(key);
}

std::size_t SharedStore::size() {
  std::lock_guard<std::mutex> hold(lock_);
  return entries_.size();
}

}  // namespace sipwarden::lua
