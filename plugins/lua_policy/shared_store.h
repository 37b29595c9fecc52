#pragma once
// sw.shared: a small key/value store every script state in the process
// shares (across reloads too, so a rate limit survives an edit of the
// script). Values are numbers or strings, each with an optional time to
// live. It lives outside every script's memory cap, so it has caps of its
// own: keys, bytes per key and per value, and bytes in all. When a write
// would pass one, expired keys are purged first (at most once a second),
// and the write is refused if that frees too little: nothing is evicted, so a counter a policy
// relies on (a rate limit) is never silently lost.

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

namespace sipwarden::plugins::lua_policy {

class SharedStore {
 public:
  using Value = std::variant<double, std::string>;
  using Clock = std::chrono::steady_clock;

  struct Caps {
    std::size_t keys = 100'000;
    std::size_t keyBytes = 256;
    std::size_t valueBytes = 64 * 1024;
    std::size_t totalBytes = 16 * 1024 * 1024;  // keys and string values, plus kEntryOverhead each
  };
  // What an entry costs beyond its key and value (map node, expiry).
  static constexpr std::size_t kEntryOverhead = 64;

  explicit SharedStore(Caps caps) : caps_(caps) {}
  const Caps& caps() const { return caps_; }

  // The process-wide store scripts see as sw.shared.
  static std::shared_ptr<SharedStore> process();

  std::optional<Value> get(const std::string& key);
  enum class Refusal { None, KeyTooLong, ValueTooLong, Full };
  // ttl of zero: the key never expires. Refused (nothing stored) when the
  // key or value is over its cap or the store is full.
  Refusal set(const std::string& key, Value value, std::chrono::milliseconds ttl);
  // Adds `delta` to a number (a missing or expired key starts at 0 and takes
  // `ttl`; an existing key keeps its expiry: a fixed window). Nothing when
  // the key holds a string, is too long, or the store is full.
  std::optional<double> increment(const std::string& key, double delta, std::chrono::milliseconds ttl);
  void erase(const std::string& key);
  std::size_t size();
  std::size_t bytes();

 private:
  struct Entry {
    Value value;
    Clock::time_point expires;  // time_point::max() for never
  };
  static std::size_t cost(const std::string& key, const Value& value);
  bool roomFor(const std::string& key, std::size_t newCost, Clock::time_point now);
  void eraseEntry(std::unordered_map<std::string, Entry>::iterator entry);
  static Clock::time_point expiry(Clock::time_point now, std::chrono::milliseconds ttl);

  std::mutex lock_;
  std::unordered_map<std::string, Entry> entries_;
  Caps caps_;
  std::size_t bytes_ = 0;
  Clock::time_point lastPurge_{};
  static constexpr std::chrono::seconds kPurgeInterval{1};
};

}  // namespace sipwarden::plugins::lua_policy
