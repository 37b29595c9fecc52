#pragma once
// The `sw` module scripts see: sw.log, sw.re (RE2), sw.now, sw.groups,
// sw.state, sw.shared and sw.uri. Also turns JSON settings into Lua tables.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <re2/re2.h>

#include <cstdint>

struct lua_State;

namespace sipwarden::plugins::lua_policy {

// Compiled RE2 patterns by their text, per script state. RE2 keeps its
// memory (program and lazily built DFA) outside the script's memory cap, so
// all of it is bounded here: patterns of at most kPatternBytes, each RE2 at
// most kMemoryPerPattern, and at most kCapacity of them (when full it starts
// over, so a script building patterns from message text cannot grow it).
// Worst case per script: kCapacity x kMemoryPerPattern = 64 MiB.
class PatternCache {
 public:
  static constexpr std::size_t kPatternBytes = 4096;
  static constexpr std::int64_t kMemoryPerPattern = 512 * 1024;
  static constexpr std::size_t kCapacity = 128;

  // The compiled pattern, or nullptr with `error` set.
  const RE2* get(std::string_view pattern, std::string& error);

 private:
  std::unordered_map<std::string, std::unique_ptr<RE2>> patterns_;
};

// Sets the global `sw`; once per state, after the Script owns the sandbox.
void registerSwModule(lua_State* state);
// Pushes the JSON value as a Lua value (objects and arrays as tables; ""
// as an empty table). False with `error` when the text is not JSON.
bool pushJsonAsLua(lua_State* state, std::string_view json, std::string& error);

}  // namespace sipwarden::plugins::lua_policy
