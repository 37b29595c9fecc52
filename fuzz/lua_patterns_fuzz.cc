// The budgeted Lua pattern functions (plugins/lua_policy/patterns.cc) against
// Lua 5.4's own: find, match, gmatch or gsub on a fuzzed pattern and subject,
// run in a policy sandbox and in a plain Lua state. Whenever the sandboxed
// call finishes inside its budget, both must answer the same, results and
// error messages alike; a call that meets the budget is not replayed on the
// plain state (Lua's own matcher could take exponential time there, which
// is the reason the budgeted one exists).
//
// Input: byte 0 picks the function, byte 1 the init argument, byte 2 the
// pattern's length; then the pattern, then the subject.
#include <lua.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lua_policy/sandbox.h"

namespace {

using sipwarden::plugins::lua_policy::Limits;
using sipwarden::plugins::lua_policy::Sandbox;

// probe(name, subject, pattern, init) sets the global `answer` to a
// description of what the call returned or raised.
const char* const kProbe = R"lua(
  local function describe(ok, ...)
    local parts = {ok and "ok" or "error"}
    for i = 1, select("#", ...) do
      local value = select(i, ...)
      parts[#parts + 1] = (math.type(value) or type(value)) .. ":" ..
                          (type(value) == "string" and string.format("%q", value) or tostring(value))
    end
    return table.concat(parts, " ")
  end
  local function iterate(s, p, init)
    local results = {}
    local nextMatch = string.gmatch(s, p, init)
    for _ = 1, 50 do
      local captures = table.pack(nextMatch())
      if captures.n == 0 then break end
      results[#results + 1] = describe(true, table.unpack(captures, 1, captures.n))
    end
    return table.concat(results, "; ")
  end
  local function replace(...)
    local first = ...
    if first == "b" then return false end
    return "<" .. table.concat({...}, ",") .. ">"
  end
  function probe(name, s, p, init)
    if name == "gmatch" then
      answer = describe(pcall(iterate, s, p, init))
    elseif name == "gsub" then
      answer = describe(pcall(string.gsub, s, p, "[%0]", init % 5)) .. " | " ..
               describe(pcall(string.gsub, s, p, replace)) .. " | " ..
               describe(pcall(string.gsub, s, p, {a = "A", b = false}))
    else
      answer = describe(pcall(string[name], s, p, init, name == "find" and init % 3 == 0))
    end
  end
)lua";

constexpr const char* kNames[] = {"find", "match", "gmatch", "gsub"};

void load(lua_State* state) {
  if (luaL_loadbuffer(state, kProbe, std::strlen(kProbe), "probe") != LUA_OK || lua_pcall(state, 0, 0, 0) != LUA_OK) {
    std::fprintf(stderr, "probe did not load: %s\n", lua_tostring(state, -1));
    std::abort();
  }
}

void pushCall(lua_State* state, const char* name, const std::string& subject, const std::string& pattern,
              lua_Integer init) {
  lua_getglobal(state, "probe");
  lua_pushstring(state, name);
  lua_pushlstring(state, subject.data(), subject.size());
  lua_pushlstring(state, pattern.data(), pattern.size());
  lua_pushinteger(state, init);
}

std::string answer(lua_State* state) {
  lua_getglobal(state, "answer");
  std::size_t size = 0;
  const char* text = lua_tolstring(state, -1, &size);
  std::string out = text != nullptr ? std::string(text, size) : "<no answer>";
  lua_pop(state, 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static Sandbox* sandbox = [] {
    Limits limits;
    limits.instructions = 2'000'000;
    limits.deadline = std::chrono::milliseconds(10'000);
    auto* made = new Sandbox(limits);
    load(made->state());
    return made;
  }();
  static lua_State* reference = [] {
    lua_State* state = luaL_newstate();
    luaL_openlibs(state);
    load(state);
    return state;
  }();

  const char* name = kNames[data[0] % 4];
  const lua_Integer init = static_cast<std::int8_t>(data[1]) / 4;
  const std::size_t patternSize = std::min<std::size_t>(data[2] % 33, size - 3);
  const std::string pattern(reinterpret_cast<const char*>(data + 3), patternSize);
  const std::string subject(reinterpret_cast<const char*>(data + 3 + patternSize),
                            std::min<std::size_t>(size - 3 - patternSize, 512));

  pushCall(sandbox->state(), name, subject, pattern, init);
  const Sandbox::Outcome outcome = sandbox->call(4);
  if (outcome.failure == Sandbox::Failure::Budget || outcome.failure == Sandbox::Failure::Deadline) return 0;
  if (outcome.failure != Sandbox::Failure::None) {
    std::fprintf(stderr, "the sandboxed probe failed: %s\n", outcome.message.c_str());
    std::abort();
  }
  const std::string budgeted = answer(sandbox->state());

  pushCall(reference, name, subject, pattern, init);
  if (lua_pcall(reference, 4, 0, 0) != LUA_OK) {
    std::fprintf(stderr, "the plain probe failed: %s\n", lua_tostring(reference, -1));
    std::abort();
  }
  const std::string plain = answer(reference);
  if (budgeted != plain) {
    std::fprintf(stderr, "%s differs\n  budgeted: %s\n  Lua 5.4:  %s\n", name, budgeted.c_str(), plain.c_str());
    std::abort();
  }
  return 0;
}
