#include "lua_policy/sandbox.h"

#include <lua.hpp>

#include <cstdlib>
#include <new>
#include <stdexcept>

namespace sipwarden::lua {
namespace {

// load() for text chunks only: bytecode can break the VM's invariants.
int loadText(lua_State* state) {
  const int given = lua_gettop(state);
  lua_pushvalue(state, lua_upvalueindex(1));
  lua_pushvalue(state, 1);
  if (given >= 2) {
    lua_pushvalue(state, 2);
  } else {
    lua_pushnil(state);
  }
  lua_pushliteral(state, "t");
  int args = 3;
  if (given >= 4) {  // an explicit env, even nil, is the caller's choice
    lua_pushvalue(state, 4);
    ++args;
  }
  lua_call(state, args, LUA_MULTRET);
  return lua_gettop(state) - given;
}

}  // namespace

Sandbox::Sandbox(Limits limits) : limits_(limits) {
  memory_.limit = limits.memoryBytes;
  state_ = lua_newstate(&Sandbox::allocate, &memory_);
  if (state_ == nullptr) throw std::runtime_error("cannot create a Lua state within the memory limit");
  *static_cast<Sandbox**>(lua_getextraspace(state_)) = this;
  // Each message leaves a little short-lived garbage (the msg, address
  // tables): the generational collector handles that pattern best.
  lua_gc(state_, LUA_GCGEN, 0, 0);
  openLibraries();
}

Sandbox::~Sandbox() {
  if (state_ != nullptr) lua_close(state_);
}

Sandbox& Sandbox::of(lua_State* state) { return **static_cast<Sandbox**>(lua_getextraspace(state)); }

void* Sandbox::allocate(void* memory, void* block, std::size_t oldSize, std::size_t newSize) {
  auto& budget = *static_cast<Memory*>(memory);
  // For a new block Lua passes the object's type in oldSize, not a size.
  const std::size_t previous = block != nullptr ? oldSize : 0;
  if (newSize == 0) {
    std::free(block);
    budget.used -= previous;
    return nullptr;
  }
  if (newSize > previous && budget.used - previous + newSize > budget.limit) {
    budget.refused = true;
    return nullptr;
  }
  void* resized = std::realloc(block, newSize);
  if (resized != nullptr) budget.used = budget.used - previous + newSize;
  return resized;
}

void Sandbox::budgetHook(lua_State* state, lua_Debug*) {
  Sandbox& sandbox = of(state);
  sandbox.budgetHit_ = true;
  // Inside a hook, level 0 is the Lua function that was running: name it,
  // so the operator sees which loop ran away.
  lua_Debug where;
  if (lua_getstack(state, 0, &where) != 0 && lua_getinfo(state, "Sl", &where) != 0 && where.currentline > 0) {
    lua_pushfstring(state, "%s:%d: ", where.short_src, where.currentline);
  } else {
    lua_pushliteral(state, "");
  }
  lua_pushfstring(state, "instruction budget of %I exceeded", static_cast<lua_Integer>(sandbox.limits_.instructions));
  lua_concat(state, 2);
  lua_error(state);
}

void Sandbox::openLibraries() {
  static const luaL_Reg libraries[] = {{LUA_GNAME, luaopen_base},   {LUA_STRLIBNAME, luaopen_string},
                                       {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                       {LUA_UTF8LIBNAME, luaopen_utf8}};
  for (const auto& library : libraries) {
    luaL_requiref(state_, library.name, library.func, 1);
    lua_pop(state_, 1);
  }
  lua_pushnil(state_);
  lua_setglobal(state_, "dofile");
  lua_pushnil(state_);
  lua_setglobal(state_, "loadfile");
  lua_pushnil(state_);
  lua_setglobal(state_, "print");  // sw.log says where the text goes
  lua_getglobal(state_, "load");
  lua_pushcclosure(state_, loadText, 1);
  lua_setglobal(state_, "load");
  lua_getglobal(state_, LUA_STRLIBNAME);
  lua_pushnil(state_);
  lua_setfield(state_, -2, "dump");
  lua_pop(state_, 1);
  // Strings share one metatable: keep scripts from replacing its methods
  // under another script's feet (getmetatable("") returns false).
  lua_pushliteral(state_, "");
  lua_getmetatable(state_, -1);
  lua_pushboolean(state_, 0);
  lua_setfield(state_, -2, "__metatable");
  lua_pop(state_, 2);
}

Sandbox::Outcome Sandbox::protectedCall(int args) {
  budgetHit_ = false;
  memory_.refused = false;
  lua_sethook(state_, &Sandbox::budgetHook, LUA_MASKCOUNT, static_cast<int>(limits_.instructions));
  const int status = lua_pcall(state_, args, 0, 0);
  lua_sethook(state_, nullptr, 0, 0);
  Outcome outcome;
  if (status == LUA_OK) return outcome;
  const char* text = lua_tostring(state_, -1);
  outcome.message = text != nullptr ? text : "a script error without a message";
  lua_pop(state_, 1);
  if (status == LUA_ERRMEM || memory_.refused) {
    outcome.failure = Failure::Memory;
    outcome.message = "memory limit of " + std::to_string(limits_.memoryBytes / 1024) + " KiB reached (" +
                      outcome.message + ")";
    lua_gc(state_, LUA_GCCOLLECT);
  } else if (budgetHit_) {
    outcome.failure = Failure::Budget;
  } else {
    outcome.failure = Failure::Error;
  }
  return outcome;
}

Sandbox::Outcome Sandbox::runFile(const std::string& file) {
  lua_setglobal(state_, "config");
  if (luaL_loadfilex(state_, file.c_str(), "t") != LUA_OK) {
    Outcome outcome{Failure::Error, lua_tostring(state_, -1)};
    lua_pop(state_, 1);
    return outcome;
  }
  return protectedCall(0);
}

Sandbox::Outcome Sandbox::call(int args) { return protectedCall(args); }

}  // namespace sipwarden::lua
