#pragma once
// How much of the SIP thread one lua_policy block may take. Each script
// call is bounded by its deadline, but a sender who makes every message run
// to that deadline, and sends many (pipelined over TCP, or a burst of UDP
// datagrams read in one round), would still hold the single SIP thread for
// seconds: OPTIONS probes, calls and other filters would wait behind them.
//
// A token bucket of thread time (a call's time beyond its first millisecond:
// the attack is calls that run long; a policy's ordinary calls take
// microseconds and are not counted, and cost no clock read): it refills at
// `share` of wall-clock time
// and holds at most half a deadline's worth (so the longest run of script
// time, the bucket plus one call that goes to its deadline, stays near one
// and a half deadlines). A call may start only while the
// bucket is not empty, and takes out what it used. When it is empty, calls
// are shed (the plugin's fail mode applies, counted as `shed`) until it
// refills, so scripts never occupy more than `share` of the thread for long,
// and other traffic waits at most about one deadline. A typical policy uses
// a few percent of the thread at thousands of messages a second and never
// meets the limit. Called on the SIP thread only.

#include <algorithm>
#include <chrono>

namespace sipwarden::plugins::lua_policy {

class TimeShare {
 public:
  using Clock = std::chrono::steady_clock;
  // share in (0, 1]; 1 turns shedding off.
  // `freeCallTime`: what a call may take without drawing on the bucket, at
  // least the resolution of the clock its length is read from.
  TimeShare(double share, std::chrono::nanoseconds capacity, std::chrono::nanoseconds freeCallTime)
      : share_(share), capacity_(capacity), tokens_(capacity), freeCallTime_(freeCallTime) {}

  // Whether a call may start now. Reads the clock only when the bucket is
  // empty (never for a policy whose calls stay short).
  bool admit() { return share_ >= 1.0 || tokens_.count() > 0 || admitAt(Clock::now()); }
  // The same at a given time (for tests of the arithmetic).
  bool admitAt(Clock::time_point now) {
    if (share_ >= 1.0) return true;
    refill(now);
    return tokens_.count() > 0;
  }
  // A call ran for `took`, as of `at`. Only its time beyond the free time
  // is taken out: ordinary calls (microseconds) never drain the bucket
  // however many there are, calls that run long do.
  void spent(std::chrono::nanoseconds took, Clock::time_point at) {
    if (share_ >= 1.0 || took <= freeCallTime_) return;
    refill(at);
    tokens_ -= took - freeCallTime_;
  }

 private:
  // Readings come from the precise and the coarse clock (the same clock at
  // two resolutions), so time may seem to step back a little: ignored.
  void refill(Clock::time_point now) {
    if (last_ != Clock::time_point{} && now <= last_) return;
    if (last_ != Clock::time_point{}) {
      const auto earned = std::chrono::duration_cast<std::chrono::nanoseconds>((now - last_) * share_);
      tokens_ = std::min(capacity_, tokens_ + earned);
    }
    last_ = now;
  }

  double share_;
  std::chrono::nanoseconds capacity_;
  std::chrono::nanoseconds tokens_;
  Clock::time_point last_{};
  std::chrono::nanoseconds freeCallTime_;
};

}  // namespace sipwarden::plugins::lua_policy
