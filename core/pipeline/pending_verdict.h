#pragma once
// The core's PendingVerdict: one per pending plugin call, shared by the
// plugin's worker (which claims and resumes it) and the transaction (which
// gives up on it at 64 x T1). One atomic state decides who won, so a
// transaction never answers 503 for work that was claimed, and claimed work
// is never dropped.

#include <atomic>
#include <functional>

#include "sipwarden/filter.h"

namespace sipwarden::pipeline {

class PendingResume final : public PendingVerdict {
 public:
  // `deliver` hands the verdict to the transaction (the proxy's mailbox);
  // it is called at most once, on the thread that resumes.
  explicit PendingResume(std::function<void(Verdict)> deliver) : deliver_(std::move(deliver)) {}

  bool claim() override {
    State expected = State::Waiting;
    return state_.compare_exchange_strong(expected, State::Claimed, std::memory_order_acq_rel) ||
           expected == State::Claimed;
  }

  bool resume(Verdict verdict) override {
    State current = state_.load(std::memory_order_acquire);
    while (current == State::Waiting || current == State::Claimed) {
      if (state_.compare_exchange_weak(current, State::Resumed, std::memory_order_acq_rel)) {
        if (deliver_) deliver_(std::move(verdict));
        return true;
      }
    }
    return false;
  }

  bool abandoned() const override { return state_.load(std::memory_order_acquire) == State::Abandoned; }

  // The transaction's side. True when it gave up (now or earlier); false
  // when the work claimed it or has already resumed it: then the verdict is
  // on its way and the transaction must keep waiting for it.
  bool giveUp() {
    State expected = State::Waiting;
    return state_.compare_exchange_strong(expected, State::Abandoned, std::memory_order_acq_rel) ||
           expected == State::Abandoned;
  }

 private:
  enum class State { Waiting, Claimed, Resumed, Abandoned };
  std::atomic<State> state_{State::Waiting};
  std::function<void(Verdict)> deliver_;
};

}  // namespace sipwarden::pipeline
