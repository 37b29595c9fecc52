#pragma once
// Per-plugin counters: written on the SIP thread, read by metrics.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sipwarden::pipeline {

// Only the SIP thread writes these, so a relaxed load and store (no locked
// read-modify-write) is enough; readers see a recent value.
inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t delta = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

struct PluginCounters {
  std::atomic<std::uint64_t> invocations{0};
  std::atomic<std::uint64_t> continued{0};
  std::atomic<std::uint64_t> replied{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> errors{0};
  // Time in the plugin, estimated from every 32nd call (timed, and counted
  // 32 times): reading the clock around every call would cost more than a
  // cheap plugin does.
  std::atomic<std::uint64_t> nanoseconds{0};
  static constexpr std::uint64_t kTimingSample = 32;
  // Counters a plugin names itself (Exchange::count), under the lock.
  std::mutex namedLock;
  std::map<std::string, std::uint64_t> named;

  void add(std::string_view counter, std::uint64_t delta) {
    std::lock_guard<std::mutex> hold(namedLock);
    named[std::string(counter)] += delta;
  }
};

}  // namespace sipwarden::pipeline
