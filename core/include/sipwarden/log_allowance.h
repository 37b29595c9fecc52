#pragma once
// How many log lines a source may write: a burst, then a steady rate. Lines
// beyond it are dropped and counted, and the next line let through says how
// many were suppressed. Used wherever a sender or a script decides how often
// a line is written (sw.log, the chain's "plugin failed" warnings), so that
// nobody can fill the disk through the log. Not thread-safe: one owner.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace sipwarden {

class LogAllowance {
 public:
  using Clock = std::chrono::steady_clock;

  LogAllowance(double burst, double perSecond) : burst_(burst), perSecond_(perSecond), tokens_(burst) {}

  // Whether a line may be written at `now`; when it may, `suppressed` is the
  // number of lines dropped since the last one written (then reset).
  bool take(Clock::time_point now, std::uint64_t& suppressed) {
    if (refilled_ == Clock::time_point{}) refilled_ = now;
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min(burst_, tokens_ + std::max(elapsed, 0.0) * perSecond_);
    refilled_ = std::max(refilled_, now);
    if (tokens_ < 1) {
      ++suppressed_;
      return false;
    }
    tokens_ -= 1;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  double burst_;
  double perSecond_;
  double tokens_;
  Clock::time_point refilled_{};
  std::uint64_t suppressed_ = 0;
};

}  // namespace sipwarden
