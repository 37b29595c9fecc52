#include "lua_policy/shared_store.h"

#include <iterator>

namespace sipwarden::plugins::lua_policy {

std::shared_ptr<SharedStore> SharedStore::process() {
  static const auto store = std::make_shared<SharedStore>(Caps{});
  return store;
}

SharedStore::Clock::time_point SharedStore::expiry(Clock::time_point now, std::chrono::milliseconds ttl) {
  return ttl.count() > 0 ? now + ttl : Clock::time_point::max();
}

std::size_t SharedStore::cost(const std::string& key, const Value& value) {
  const std::string* text = std::get_if<std::string>(&value);
  return kEntryOverhead + key.size() + (text != nullptr ? text->size() : 0);
}

void SharedStore::eraseEntry(std::unordered_map<std::string, Entry>::iterator entry) {
  bytes_ -= cost(entry->first, entry->second.value);
  entries_.erase(entry);
}

// Whether an entry of `newCost` fits in place of the key's current one.
bool SharedStore::roomFor(const std::string& key, std::size_t newCost, Clock::time_point now) {
  auto fits = [&] {
    auto existing = entries_.find(key);
    const std::size_t freed = existing != entries_.end() ? cost(existing->first, existing->second.value) : 0;
    const std::size_t keys = entries_.size() + (existing == entries_.end() ? 1 : 0);
    return keys <= caps_.keys && bytes_ - freed + newCost <= caps_.totalBytes;
  };
  if (fits()) return true;
  // The purge walks every entry: at most once per kPurgeInterval, or a
  // sender could make each refused write (a full store of live keys) cost a
  // walk of 100,000 entries on the SIP thread.
  if (lastPurge_ != Clock::time_point{} && now - lastPurge_ < kPurgeInterval) return false;
  lastPurge_ = now;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.expires <= now) {
      auto gone = it++;
      eraseEntry(gone);
    } else {
      ++it;
    }
  }
  return fits();
}

std::optional<SharedStore::Value> SharedStore::get(const std::string& key) {
  std::lock_guard<std::mutex> hold(lock_);
  auto found = entries_.find(key);
  if (found == entries_.end()) return std::nullopt;
  if (found->second.expires <= Clock::now()) {
    eraseEntry(found);
    return std::nullopt;
  }
  return found->second.value;
}

SharedStore::Refusal SharedStore::set(const std::string& key, Value value, std::chrono::milliseconds ttl) {
  if (key.size() > caps_.keyBytes) return Refusal::KeyTooLong;
  const std::string* text = std::get_if<std::string>(&value);
  if (text != nullptr && text->size() > caps_.valueBytes) return Refusal::ValueTooLong;
  std::lock_guard<std::mutex> hold(lock_);
  const auto now = Clock::now();
  const std::size_t newCost = cost(key, value);
  if (!roomFor(key, newCost, now)) return Refusal::Full;
  auto existing = entries_.find(key);
  if (existing != entries_.end()) eraseEntry(existing);
  entries_.emplace(key, Entry{std::move(value), expiry(now, ttl)});
  bytes_ += newCost;
  return Refusal::None;
}

std::optional<double> SharedStore::increment(const std::string& key, double delta, std::chrono::milliseconds ttl) {
  if (key.size() > caps_.keyBytes) return std::nullopt;
  std::lock_guard<std::mutex> hold(lock_);
  const auto now = Clock::now();
  auto found = entries_.find(key);
  if (found != entries_.end() && found->second.expires > now) {
    double* number = std::get_if<double>(&found->second.value);
    if (number == nullptr) return std::nullopt;
    *number += delta;
    return *number;
  }
  const Value fresh = delta;
  if (!roomFor(key, cost(key, fresh), now)) return std::nullopt;
  found = entries_.find(key);
  if (found != entries_.end()) eraseEntry(found);
  entries_.emplace(key, Entry{fresh, expiry(now, ttl)});
  bytes_ += cost(key, fresh);
  return delta;
}

void SharedStore::erase(const std::string& key) {
  std::lock_guard<std::mutex> hold(lock_);
  auto found = entries_.find(key);
  if (found != entries_.end()) eraseEntry(found);
}

std::size_t SharedStore::size() {
  std::lock_guard<std::mutex> hold(lock_);
  return entries_.size();
}

std::size_t SharedStore::bytes() {
  std::lock_guard<std::mutex> hold(lock_);
  return bytes_;
}

}  // namespace sipwarden::plugins::lua_policy
