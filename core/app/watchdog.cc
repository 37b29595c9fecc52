#include "app/watchdog.h"

#include <Poco/Logger.h>

#include <unistd.h>

#include <algorithm>

#include "pipeline/activity.h"

namespace sipwarden::app {
namespace {

// How often the watchdog looks: a tenth of the stall threshold, so a stall
// is reported at most 10% late, and never more often than every 10 ms.
std::chrono::milliseconds tickFor(std::chrono::milliseconds stallAfter) {
  return std::max(std::chrono::milliseconds(10), stallAfter / 10);
}

}  // namespace

std::int64_t Watchdog::nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

Watchdog::Watchdog(std::chrono::milliseconds stallAfter, std::chrono::milliseconds exitAfter,
                   const std::atomic<bool>& stopSignal, Poco::Logger& log)
    : stallAfter_(stallAfter), exitAfter_(exitAfter), stopSignal_(stopSignal), log_(log), lastBeatNs_(nowNs()) {
  thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> hold(wakeLock_);
    quit_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool Watchdog::live(std::string& why) const {
  if (!stalled_.load(std::memory_order_relaxed)) return true;
  std::lock_guard<std::mutex> hold(whyLock_);
  why = why_;
  return false;
}

void Watchdog::declareMetrics(admin::StatsRegistry& registry) const {
  registry.single("sipwarden_sip_thread_stalls_total", admin::MetricType::Counter,
                  "Times the SIP thread made no progress for longer than watchdog_ms.", admin::ReadOn::AnyThread,
                  [this] { return stalls(); });
  registry.single("sipwarden_sip_thread_stalled", admin::MetricType::Gauge,
                  "1 while the SIP thread is stalled (then /healthz fails).", admin::ReadOn::AnyThread,
                  [this] { return stalled_.load(std::memory_order_relaxed) ? 1 : 0; });
}

void Watchdog::watch() {
  const auto tick = tickFor(stallAfter_);
  const std::int64_t stallNs = std::chrono::duration_cast<std::chrono::nanoseconds>(stallAfter_).count();
  std::unique_lock<std::mutex> hold(wakeLock_);
  while (!wake_.wait_for(hold, tick, [this] { return quit_; })) {
    const std::int64_t now = nowNs();
    const std::int64_t silentNs = now - lastBeatNs_.load(std::memory_order_relaxed);
    if (exitAtNs_ == 0 && stopSignal_.load()) {
      exitAtNs_ = now + std::chrono::duration_cast<std::chrono::nanoseconds>(exitAfter_).count();
    }
    if (exitAtNs_ != 0 && now >= exitAtNs_) {
      log_.critical("watchdog: the SIP thread did not stop within the shutdown grace (stuck for " +
                    std::to_string(silentNs / 1'000'000) + " ms in " + pipeline::currentActivity() +
                    "); exiting now, queued archive records may be lost");
      _exit(1);
    }
    if (silentNs >= stallNs) {
      // The reason /healthz gives is kept current while the stall lasts;
      // the log and the counter take the stall once.
      std::string activity = pipeline::currentActivity();
      if (activity.empty()) activity = "the core";
      {
        std::lock_guard<std::mutex> whyHold(whyLock_);
        why_ = "SIP thread stalled for " + std::to_string(silentNs / 1'000'000) + " ms in " + activity;
      }
      if (!stalled_.load(std::memory_order_relaxed)) {
        stalled_.store(true);
        stalls_.fetch_add(1);
        log_.error("watchdog: SIP thread stalled for " + std::to_string(silentNs / 1'000'000) + " ms (watchdog_ms " +
                   std::to_string(stallAfter_.count()) + ") in " + activity);
      }
    } else if (silentNs < stallNs && stalled_.load(std::memory_order_relaxed)) {
      stalled_.store(false);
      log_.warning("watchdog: SIP thread running again");
    }
  }
}

}  // namespace sipwarden::app
