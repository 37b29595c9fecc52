#pragma once
// sw.shared: a small key/value store every script state in the process
// shares (across reloads too, so a rate limit survives an edit of the
// script). Values are numbers or strings, each with an optional time to
// live. Bounded: when full, expired keys are purged, and a new key is
// refused if that frees nothing.

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

namespace sipwarden::lua {

class SharedStore {
 public:
  using Value = std::variant<double, std::string>;
  using Clock = std::chrono::steady_clock;

  explicit SharedStore(std::size_t capacity) : capacity_(capacity) {}

  // The process-wide store scripts see as sw.shared.
  static std::shared_ptr<SharedStore> process();

  std::optional<Value> get(const std::string& key);
  // ttl of zero: the key never expires. False when the store is full.
  bool set(const std::string& key, Value value, std::chrono::milliseconds ttl);
  // Adds `delta` to a number (a missing or expired key starts at 0 and takes
  // `ttl`; an existing key keeps its expiry: a fixed window). Nothing when
  // the key holds a string or the store is full.
  std::optional<double> increment(const std::string& key, double delta, std::chrono::milliseconds ttl);
  void erase(const std::string& key);
  std::size_t size();

 private:
  struct Entry {
    Value value;
    Clock::time_point expires;  // time_point::max() for never
  };
  bool roomFor(const std::string& key, Clock::time_point now);
  static Clock::time_point expiry(Clock::time_point now, std::chrono::milliseconds ttl);

  std::mutex lock_;
  std::unordered_map<std::string, Entry> entries_;
  std::size_t capacity_;
};

}  // namespace sipwarden::lua
