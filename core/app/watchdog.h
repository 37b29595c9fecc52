#pragma once
// Watches the SIP thread from a thread of its own. The SIP thread calls
// beat() on every turn of its loop (at least every 50 ms when idle); when no
// beat comes for `stallAfter`, the watchdog logs the stall once with what was
// running (pipeline::currentActivity), counts it, and reports the hop as not
// live (/healthz answers 503) until the thread turns again.
//
// It also bounds shutdown: once `stopSignal` is set (by SIGTERM's handler),
// a process still running `exitAfter` later (the drain's grace plus a
// margin) has a SIP thread stuck in a filter that no budget could stop; the
// watchdog then logs what it was running and ends the process with exit
// status 1, so SIGTERM always ends it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "admin/stats_registry.h"

namespace Poco {
class Logger;
}

namespace sipwarden::app {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;
  Watchdog(std::chrono::milliseconds stallAfter, std::chrono::milliseconds exitAfter,
           const std::atomic<bool>& stopSignal, Poco::Logger& log);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // SIP thread, each turn of the run loop: one relaxed store.
  void beat() { lastBeatNs_.store(nowNs(), std::memory_order_relaxed); }
  // For /healthz: false and why while the SIP thread is stalled.
  bool live(std::string& why) const;
  // Called while wiring, before the registry renders: declares the stall
  // counter and gauge for /metrics (read live).
  void declareMetrics(admin::StatsRegistry& registry) const;
  std::uint64_t stalls() const { return stalls_.load(std::memory_order_relaxed); }

 private:
  static std::int64_t nowNs();
  void watch();

  const std::chrono::milliseconds stallAfter_;
  const std::chrono::milliseconds exitAfter_;
  const std::atomic<bool>& stopSignal_;
  Poco::Logger& log_;
  std::atomic<std::int64_t> lastBeatNs_;
  std::atomic<bool> stalled_{false};
  std::atomic<std::uint64_t> stalls_{0};
  std::int64_t exitAtNs_ = 0;  // watchdog thread only; 0: not stopping
  mutable std::mutex whyLock_;
  std::string why_;
  std::mutex wakeLock_;
  std::condition_variable wake_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace sipwarden::app
