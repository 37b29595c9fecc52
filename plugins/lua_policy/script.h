#pragma once
// One policy script in its own sandboxed Lua state: compiled and run once
// when the chain is built (a script that fails to load fails the build, so
// a reload keeps the old chain), then its on_request / on_response hooks
// called for each message. Called from the SIP worker thread only.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "lua_policy/groups.h"
#include "lua_policy/sandbox.h"
#include "lua_policy/shared_store.h"
#include "sipwarden/filter.h"
#include "sipwarden/log_allowance.h"

namespace sipwarden::plugins::lua_policy {

class PatternCache;

// What one call may leave on its message: header edits, tags and bodies are
// kept past the call (on the wire, in the archive, in logs), outside the
// script's memory cap, so each is capped per call. docs/lua-api.md lists them.
struct KeepLimits {
  static constexpr unsigned kEdits = 64;                    // set/add/remove_header, set_body, set_text
  static constexpr unsigned kTags = 64;
  static constexpr std::size_t kHeaderValueBytes = 8 * 1024;
  static constexpr std::size_t kTagKeyBytes = 128;
  static constexpr std::size_t kTagValueBytes = 4 * 1024;
  static constexpr std::size_t kBytes = 1024 * 1024;       // everything above together, bodies included
};

// What the message API needs while a hook runs.
struct CallContext {
  Exchange* exchange = nullptr;  // nullptr outside a hook call
  bool request = true;
  std::optional<Verdict> decision;  // set by msg:reply / reject / drop
  std::uint64_t generation = 0;     // a msg from an older call is stale
  const void* msgMetatable = nullptr;  // set by registerMsgApi
  int msgMetatableRef = 0;
  int addressMetatableRef = 0;
  // What this call has kept so far (KeepLimits); reset for each call.
  unsigned edits = 0;
  unsigned tags = 0;
  std::size_t keptBytes = 0;
};

// sw.log's allowance per script (sipwarden/log_allowance.h): a burst of 50
// lines, then 10 a second; each line cut at kLogLineBytes.
inline constexpr double kLogBurst = 50;
inline constexpr double kLogPerSecond = 10;
inline constexpr std::size_t kLogLineBytes = 4096;

struct ScriptSettings {
  std::string file;
  std::string name;        // the file's base name, for Warning headers and logs
  std::string configJson;  // the script's own `config` table ("" for none)
  Limits limits;
  std::shared_ptr<const Groups> groups;
  std::shared_ptr<SharedStore> shared;
};

class Script {
 public:
  // nullptr and `error` ("policy.lua:3: ...") when it does not compile or
  // its top level fails.
  static std::unique_ptr<Script> load(ScriptSettings settings, std::string& error);
  ~Script();

  bool hooksRequest() const { return onRequest_ >= 0; }
  bool hooksResponse() const { return onResponse_ >= 0; }

  struct Result {
    std::optional<Verdict> decision;
    Sandbox::Failure failure = Sandbox::Failure::None;
    std::string error;
    std::chrono::nanoseconds took{0};  // as Sandbox::Outcome
    Sandbox::Clock::time_point lookedAt{};
  };
  Result runRequest(Exchange& exchange);
  Result runResponse(Exchange& exchange);

  // For the functions scripts call.
  static Script& of(lua_State* state);
  CallContext& call() { return call_; }
  const ScriptSettings& settings() const { return settings_; }
  PatternCache& patterns() { return *patterns_; }
  std::size_t memoryUsed() const { return sandbox_.memoryUsed(); }
  LogAllowance& logAllowance() { return logAllowance_; }

 private:
  explicit Script(ScriptSettings settings);
  Result run(int hook, Exchange& exchange, bool request);

  ScriptSettings settings_;
  Sandbox sandbox_;
  std::unique_ptr<PatternCache> patterns_;
  CallContext call_;
  LogAllowance logAllowance_{kLogBurst, kLogPerSecond};
  int onRequest_ = -1;  // registry references, -1 when not defined
  int onResponse_ = -1;
};

}  // namespace sipwarden::plugins::lua_policy
