#pragma once
// Per-plugin counters: written on the SIP thread, read by metrics.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sipwarden::pipeline {

struct PluginCounters {
  std::atomic<std::uint64_t> invocations{0};
  std::atomic<std::uint64_t> continued{0};
  std::atomic<std::uint64_t> replied{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> nanoseconds{0};
  // Counters a plugin names itself (Exchange::count), under the lock.
  std::mutex namedLock;
  std::map<std::string, std::uint64_t> named;

  void add(std::string_view counter, std::uint64_t delta) {
    std::lock_guard<std::mutex> hold(namedLock);
    named[std::string(counter)] += delta;
  }
};

}  // namespace sipwarden::pipeline
