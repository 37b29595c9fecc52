#include "pipeline/chain.h"

#include <Poco/Logger.h>

#include <chrono>
#include <exception>

#include "pipeline/activity.h"
#include "sip/reason.h"

namespace sipwarden::pipeline {
namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.pipeline"); }

std::uint64_t nowNs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Calls a plugin hook, turning any exception into an error: nothing thrown
// by a plugin may unwind through the core.
template <typename Call>
Verdict guarded(const ChainEntry& entry, Call&& call) {
  try {
    return call();
  } catch (const std::exception& error) {
    return Verdict::error(std::string("exception: ") + error.what());
  } catch (...) {
    return Verdict::error("unknown exception");
  }
  (void)entry;
}

}  // namespace

FilterChain::FilterChain(std::vector<ChainEntry> entries) : entries_(std::move(entries)) {}

// A plugin's failures are logged through its allowance: a sender who makes
// every message fail (a script run to its limit, a body over a filter's
// limit) must not turn each one into log lines without end.
void FilterChain::logFailure(const ChainEntry& entry, const std::string& what) {
  std::uint64_t suppressed = 0;
  if (!entry.failureLog->take(LogAllowance::Clock::now(), suppressed)) return;
  if (suppressed > 0) {
    log().warning(entry.label + " " + what + " (and " + std::to_string(suppressed) +
                  " earlier failures not logged: rate limit)");
  } else {
    log().warning(entry.label + " " + what);
  }
}

Verdict FilterChain::runRequest(CoreExchange& exchange, std::vector<TraceStep>* trace) const {
  return runFrom(exchange, trace, 0);
}

Verdict FilterChain::resumeRequest(CoreExchange& exchange, Verdict delivered, std::vector<TraceStep>* trace) const {
  const std::size_t index = exchange.pendingPlugin();
  const bool failed = delivered.kind() == Verdict::Kind::Error;
  const std::string failure = failed ? delivered.reason() : std::string();
  const Verdict verdict = resolve(index, std::move(delivered), exchange);
  traceStep(trace, entries_.at(index), failed, failure, verdict);
  if (!verdict.isContinue()) return verdict;
  return runFrom(exchange, trace, index + 1);
}

void FilterChain::traceStep(std::vector<TraceStep>* trace, const ChainEntry& entry, bool failed,
                            const std::string& failure, const Verdict& resolved) {
  if (trace == nullptr) return;
  const char* name = failed ? (resolved.isContinue() ? "error (open)" : "error (closed)")
                     : resolved.kind() == Verdict::Kind::Continue ? "continue"
                     : resolved.kind() == Verdict::Kind::Reply    ? "reply"
                                                                  : "drop";
  trace->push_back({entry.name, name, resolved.code(), failed ? failure : resolved.reason()});
}

Verdict FilterChain::runFrom(CoreExchange& exchange, std::vector<TraceStep>* trace, std::size_t from) const {
  const std::uint32_t bit = MethodSet::bitFor(exchange.message().method());
  for (std::size_t i = from; i < entries_.size(); ++i) {
    const ChainEntry& entry = entries_[i];
    if ((entry.methods & bit) == 0) {
      if (trace) trace->push_back({entry.name, "skipped", 0, "method not wanted"});
      continue;
    }
    PluginCounters& counters = *entry.counters;
    exchange.setPlugin(i, &entry.name, &counters);
    noteActivity(entry.label);
    const std::uint64_t invocation = counters.invocations.load(std::memory_order_relaxed);
    bump(counters.invocations);
    const bool timed = invocation % PluginCounters::kTimingSample == 0;
    const std::uint64_t start = timed ? nowNs() : 0;
    Verdict verdict = guarded(entry, [&] { return entry.filter->onRequest(exchange); });
    if (timed) bump(counters.nanoseconds, (nowNs() - start) * PluginCounters::kTimingSample);
    if (verdict.kind() == Verdict::Kind::Pending) {
      if (trace) trace->push_back({entry.name, "pending", 0, ""});
      exchange.setPendingPlugin(i);
      return verdict;
    }
    const bool failed = verdict.kind() == Verdict::Kind::Error;
    const std::string failure = failed ? verdict.reason() : std::string();
    verdict = resolve(i, std::move(verdict), exchange);
    traceStep(trace, entry, failed, failure, verdict);
    if (!verdict.isContinue()) return verdict;
  }
  return Verdict::proceed();
}

Verdict FilterChain::resolve(std::size_t index, Verdict verdict, CoreExchange& exchange) const {
  const ChainEntry& entry = entries_.at(index);
  PluginCounters& counters = *entry.counters;
  switch (verdict.kind()) {
    case Verdict::Kind::Continue:
    case Verdict::Kind::Pending:
      bump(counters.continued);
      return Verdict::proceed();
    case Verdict::Kind::Reply:
      bump(counters.replied);
      exchange.setStoppedBy(entry.name);
      return verdict;
    case Verdict::Kind::Drop:
      bump(counters.dropped);
      exchange.setStoppedBy(entry.name);
      return verdict;
    case Verdict::Kind::Error:
      bump(counters.errors);
      logFailure(entry, "failed on " + std::string(exchange.message().method()) + " " +
                            std::string(exchange.message().callId()) + ": " + verdict.reason());
      if (entry.failMode == FailMode::Open) return Verdict::proceed();
      exchange.setStoppedBy(entry.name);
      return Verdict::reply(entry.failCode, std::string(sip::standardReason(entry.failCode)),
                            {{"Warning", "399 sipwarden \"" + entry.name + " failed\""}});
  }
  return Verdict::proceed();
}

void FilterChain::runResponse(CoreExchange& exchange) const {
  notifyEach(exchange, "failed on a response: ", [&](Filter& filter) { filter.onResponse(exchange); });
}

void FilterChain::runEnd(CoreExchange& exchange, int finalCode) const {
  notifyEach(exchange, "failed at the end of a transaction: ",
             [&](Filter& filter) { filter.onEnd(exchange, finalCode); });
}

void FilterChain::notifyEach(CoreExchange& exchange, const char* failedOn,
                             const std::function<void(Filter&)>& notify) const {
  const std::uint32_t bit = MethodSet::bitFor(exchange.message().method());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const ChainEntry& entry = entries_[i];
    if ((entry.methods & bit) == 0) continue;
    exchange.setPlugin(i, &entry.name, entry.counters.get());
    noteActivity(entry.label);
    const Verdict verdict = guarded(entry, [&] {
      notify(*entry.filter);
      return Verdict::proceed();
    });
    if (verdict.kind() == Verdict::Kind::Error) {
      bump(entry.counters->errors);
      logFailure(entry, failedOn + verdict.reason());
    }
  }
}

std::filesystem::file_time_type modificationTime(const std::string& path) {
  std::error_code error;
  const auto time = std::filesystem::last_write_time(path, error);
  return error ? std::filesystem::file_time_type::min() : time;
}

std::string FilterChain::changedFile() const {
  for (const auto& entry : entries_) {
    for (const auto& file : entry.watchedFiles) {
      if (modificationTime(file.path) != file.modified) return file.path;
    }
  }
  return {};
}

}  // namespace sipwarden::pipeline
