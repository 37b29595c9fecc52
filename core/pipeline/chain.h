#pragma once
// The filter chain: the configured plugins in order, each with its fail
// mode and counters. Built once from the config (and again on reload);
// immutable afterwards except for its counters, and shared by the
// transactions that started on it (shared_ptr<const FilterChain>).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/counters.h"
#include "pipeline/exchange.h"
#include "sipwarden/log_allowance.h"
#include "sipwarden/plugin.h"

namespace Poco {
class SharedLibrary;
}

namespace sipwarden::pipeline {

enum class FailMode { Open, Closed };

struct WatchedFile {
  std::string path;
  std::filesystem::file_time_type modified;  // min() when it could not be read
};

// The file's modification time now (min() when it cannot be read).
std::filesystem::file_time_type modificationTime(const std::string& path);

struct ChainEntry {
  std::string name;
  std::string label;  // "plugins[2] (url_filter)", for logs and errors
  std::unique_ptr<Filter> filter;
  std::uint32_t methods = 0;
  FailMode failMode = FailMode::Open;
  int failCode = 503;
  // The module the filter's code lives in (loaded for the process's life,
  // see loader.h); null for a plugin linked into the binary.
  const Poco::SharedLibrary* library = nullptr;
  std::unique_ptr<PluginCounters> counters = std::make_unique<PluginCounters>();
  // Failures logged: a burst of 20, then 5 a second (the rest are counted).
  std::unique_ptr<LogAllowance> failureLog = std::make_unique<LogAllowance>(20, 5);
  // Files the plugin read its behaviour from (PluginConfig::watchFile), with
  // their modification time when it read them.
  std::vector<WatchedFile> watchedFiles;

  ChainEntry() = default;
  ChainEntry(ChainEntry&&) = default;
  ChainEntry& operator=(ChainEntry&&) = default;
};

// One line of what the chain did with a message, for `policy test`.
struct TraceStep {
  std::string plugin;
  std::string verdict;  // continue, reply, drop, error (open), error (closed), skipped
  int code = 0;
  std::string reason;
};

class MessagePath;

// Messages go through a chain only along a MessagePath (message_path.h),
// the one named path; the chain's runs are private to it.
class FilterChain {
 public:
  explicit FilterChain(std::vector<ChainEntry> entries);

  bool empty() const { return entries_.empty(); }
  // The first watched file whose modification time differs from when the
  // chain was built ("" when none changed): the cue for a reload.
  std::string changedFile() const;
  const std::vector<ChainEntry>& entries() const { return entries_; }

 private:
  friend class MessagePath;
  // Runs onRequest through the chain. Stops at the first Reply or Drop, or at an Error of a
  // fail-closed plugin (which becomes a Reply with its fail code). `trace`
  // (optional) receives one step per plugin. A Pending verdict means plugin
  // exchange.pendingPlugin() will deliver the real one later: hand that to
  // resumeRequest().
  Verdict runRequest(CoreExchange& exchange, std::vector<TraceStep>* trace = nullptr) const;
  // With the verdict the pending plugin delivered: applies its fail mode and
  // goes on with the next plugin, as runRequest() would have.
  Verdict resumeRequest(CoreExchange& exchange, Verdict delivered, std::vector<TraceStep>* trace = nullptr) const;
  // Runs onResponse for the plugins that saw the request.
  void runResponse(CoreExchange& exchange) const;
  void runEnd(CoreExchange& exchange, int finalCode) const;

  Verdict runFrom(CoreExchange& exchange, std::vector<TraceStep>* trace, std::size_t from) const;
  // Calls `notify` for each filter that wants the message's method (a
  // response or the end: nothing to decide), each failure counted and
  // logged as `failedOn` + why.
  void notifyEach(CoreExchange& exchange, const char* failedOn, const std::function<void(Filter&)>& notify) const;
  // What the verdict of plugin `index` means for the chain: an Error becomes
  // Continue (fail open) or the fail-closed reply.
  Verdict resolve(std::size_t index, Verdict verdict, CoreExchange& exchange) const;
  static void traceStep(std::vector<TraceStep>* trace, const ChainEntry& entry, bool failed,
                        const std::string& failure, const Verdict& resolved);
  static void logFailure(const ChainEntry& entry, const std::string& what);
  std::vector<ChainEntry> entries_;
};

}  // namespace sipwarden::pipeline
