#include "lua_policy/script.h"

#include <lua.hpp>

#include <algorithm>

#include "lua_policy/msg_api.h"
#include "lua_policy/sw_module.h"

namespace sipwarden::plugins::lua_policy {
namespace {

// The hook as a registry reference, or -1 when the script does not define it.
int hookReference(lua_State* state, const char* name, std::string& error) {
  lua_getglobal(state, name);
  if (lua_isnil(state, -1)) {
    lua_pop(state, 1);
    return -1;
  }
  if (!lua_isfunction(state, -1)) {
    error = std::string(name) + " is a " + luaL_typename(state, -1) + ", not a function";
    lua_pop(state, 1);
    return -1;
  }
  return luaL_ref(state, LUA_REGISTRYINDEX);
}

}  // namespace

Script::Script(ScriptSettings settings)
    : settings_(std::move(settings)),
      sandbox_(settings_.limits),
      patterns_(std::make_unique<PatternCache>()) {
  sandbox_.setOwner(this);
}

Script::~Script() = default;

Script& Script::of(lua_State* state) { return *static_cast<Script*>(Sandbox::of(state).owner()); }

std::unique_ptr<Script> Script::load(ScriptSettings settings, std::string& error) {
  std::unique_ptr<Script> script;
  try {
    script.reset(new Script(std::move(settings)));
  } catch (const std::exception& failure) {
    error = failure.what();
    return nullptr;
  }
  lua_State* state = script->sandbox_.state();
  registerMsgApi(state);
  registerSwModule(state);
  if (!pushJsonAsLua(state, script->settings_.configJson, error)) return nullptr;
  const Sandbox::Outcome loaded = script->sandbox_.runFile(script->settings_.file);
  if (loaded.failure != Sandbox::Failure::None) {
    error = loaded.message;
    return nullptr;
  }
  script->onRequest_ = hookReference(state, "on_request", error);
  script->onResponse_ = hookReference(state, "on_response", error);
  if (!error.empty()) {
    error = script->settings_.file + ": " + error;
    return nullptr;
  }
  if (!script->hooksRequest() && !script->hooksResponse()) {
    error = script->settings_.file + ": defines neither on_request(msg) nor on_response(msg)";
    return nullptr;
  }
  return script;
}

Script::Result Script::run(int hook, Exchange& exchange, bool request) {
  Result result;
  if (hook < 0) return result;
  lua_State* state = sandbox_.state();
  call_.exchange = &exchange;
  call_.request = request;
  call_.decision.reset();
  call_.edits = 0;
  call_.tags = 0;
  call_.keptBytes = 0;
  ++call_.generation;
  // The chain has noted the plugin; the hook notes the script and line once
  // a call runs long enough to matter to the watchdog.
  sandbox_.setActivitySink(&exchange);
  lua_rawgeti(state, LUA_REGISTRYINDEX, hook);
  pushMsg(state, call_.generation);
  const Sandbox::Outcome outcome = sandbox_.call(1);
  sandbox_.setActivitySink(nullptr);
  call_.exchange = nullptr;
  result.failure = outcome.failure;
  result.error = outcome.message;
  result.took = outcome.took;
  result.lookedAt = outcome.lookedAt;
  if (outcome.failure == Sandbox::Failure::None) result.decision = std::move(call_.decision);
  call_.decision.reset();
  return result;
}

Script::Result Script::runRequest(Exchange& exchange) { return run(onRequest_, exchange, true); }

Script::Result Script::runResponse(Exchange& exchange) { return run(onResponse_, exchange, false); }

}  // namespace sipwarden::plugins::lua_policy
