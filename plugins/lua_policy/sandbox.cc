#include "lua_policy/sandbox.h"

#include <lua.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <string_view>
#include <new>
#include <stdexcept>

#include "lua_policy/bounded_libs.h"

namespace sipwarden::plugins::lua_policy {
namespace {

// CLOCK_MONOTONIC at the kernel tick's resolution: the same clock as
// steady_clock (so the two compare), read from the vDSO without the
// hardware counter, a few nanoseconds.
Sandbox::Clock::time_point coarseNow() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return Sandbox::Clock::time_point(std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec));
}

constexpr std::int64_t kAllocationBytesPerCheck = 256 * 1024;
// The longest string a script may make or be handed (a message is at most
// 1 MiB, max_message_size).
constexpr std::size_t kMaxStringBytes = 2 * 1024 * 1024;

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
  memory_.state = state_;
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
  // For a new block Lua passes the object's type in oldSize. A string is
  // capped on its own: comparing two long strings is one VM instruction,
  // and the hook sees only every kSlice instructions.
  if (block == nullptr && (oldSize & 0x0F) == LUA_TSTRING && newSize > kMaxStringBytes) {
    budget.refused = true;
    budget.stringTooLong = true;
    return nullptr;
  }
  void* resized = std::realloc(block, newSize);
  if (resized != nullptr) {
    budget.used = budget.used - previous + newSize;
    if (budget.inCall && newSize > previous) {
      budget.allocatedSinceCheck += static_cast<std::int64_t>(newSize - previous);
      if (budget.allocatedSinceCheck >= kAllocationBytesPerCheck) {
        lua_sethook(budget.state, &Sandbox::budgetHook, LUA_MASKCOUNT, 1);  // look at the next instruction
      }
    }
  }
  return resized;
}

namespace {

// Where the script is: "policy.lua:12: " for the Lua function `level`
// frames up (0 is the running function inside a hook, 1 the caller of a C
// function), or "" when that is not a Lua function.
std::string whereInScript(lua_State* state, int level) {
  lua_Debug where;
  if (lua_getstack(state, level, &where) != 0 && lua_getinfo(state, "Sl", &where) != 0 && where.currentline > 0) {
    return std::string(where.short_src) + ":" + std::to_string(where.currentline) + ": ";
  }
  return {};
}

// How many instructions run between two looks at the budget and the clock:
// often enough that instructions which do work the hook cannot see (two
// strings of up to kMaxStringBytes compared) overrun the deadline by tens of
// milliseconds at most, rare enough to cost little (a hook call every 500
// instructions, about 1.7 us of plain VM work).
constexpr std::int64_t kSlice = 500;
// The hook tells the watchdog the running line every this many slices: a
// call worth reporting runs for hundreds of milliseconds, and building the
// note costs more than the rest of the hook.
constexpr unsigned kSlicesPerActivityNote = 64;
// Allocation is charged at one unit per 16 bytes; after this many bytes the
// hook looks at the next instruction instead of the end of its slice.
constexpr std::int64_t kAllocationBytesPerUnit = 16;
// charge() reads the clock for a charge of this many units (some
// microseconds of work), or once every kChargesPerLook smaller ones.
constexpr std::int64_t kUnitsWorthALook = 1024;
constexpr unsigned kChargesPerLook = 16;

}  // namespace

void Sandbox::look() { lookedAt_ = Clock::now(); }

std::chrono::nanoseconds Sandbox::callClockResolution() {
  timespec resolution{};
  clock_getres(CLOCK_MONOTONIC_COARSE, &resolution);
  return std::chrono::seconds(resolution.tv_sec) + std::chrono::nanoseconds(resolution.tv_nsec);
}

void Sandbox::abort(lua_State* state, Failure failure, std::string message) {
  aborted_ = failure;
  abortMessage_ = std::move(message);
  // From now on every instruction raises again: code that catches the error
  // (pcall in a script, a message handler, a __close) cannot run on.
  lua_sethook(state, &Sandbox::budgetHook, LUA_MASKCOUNT, 1);
  raiseAbort(state);
}

void Sandbox::abortAtLimit(lua_State* state, int level) {
  const std::string where = whereInScript(state, level);
  if (spent_ >= limits_.instructions) {
    abort(state, Failure::Budget, where + "instruction budget of " + std::to_string(limits_.instructions) + " exceeded");
  }
  abort(state, Failure::Deadline, where + "deadline of " + std::to_string(limits_.deadline.count()) + " ms exceeded");
}

void Sandbox::raiseAbort(lua_State* state) {
  lua_pushlstring(state, abortMessage_.data(), abortMessage_.size());
  lua_error(state);
  std::abort();  // lua_error does not return
}

void Sandbox::budgetHook(lua_State* state, lua_Debug*) {
  Sandbox& sandbox = of(state);
  if (!sandbox.inCall_) return;
  if (sandbox.aborted_ != Failure::None) sandbox.raiseAbort(state);
  // A look forced by a large allocation comes before the slice is over: the
  // instructions of the slice so far go uncounted, the bytes are charged.
  const bool forced = sandbox.memory_.allocatedSinceCheck >= kAllocationBytesPerCheck;
  sandbox.spent_ += (forced ? 0 : sandbox.slice_) + sandbox.memory_.allocatedSinceCheck / kAllocationBytesPerUnit;
  sandbox.memory_.allocatedSinceCheck = 0;
  sandbox.look();
  // Inside a hook, level 0 is the Lua function that was running: name it,
  // so the operator sees which loop ran away.
  if (sandbox.spent_ >= sandbox.limits_.instructions || sandbox.lookedAt_ >= sandbox.deadlineAt_) {
    sandbox.abortAtLimit(state, 0);
  }
  if (sandbox.activitySink_ != nullptr && ++sandbox.slicesSinceNote_ >= kSlicesPerActivityNote) {
    sandbox.slicesSinceNote_ = 0;
    lua_Debug where;
    if (lua_getstack(state, 0, &where) != 0 && lua_getinfo(state, "Sl", &where) != 0) {
      char note[128];
      std::snprintf(note, sizeof note, "lua_policy %s:%d", where.short_src, where.currentline);
      sandbox.activitySink_->noteActivity(note);
    }
  }
  sandbox.slice_ = static_cast<int>(std::min(kSlice, sandbox.limits_.instructions - sandbox.spent_));
  lua_sethook(state, &Sandbox::budgetHook, LUA_MASKCOUNT, sandbox.slice_);
}

void Sandbox::charge(lua_State* state, std::int64_t units) {
  Sandbox& sandbox = of(state);
  if (!sandbox.inCall_) return;
  if (sandbox.aborted_ != Failure::None) sandbox.raiseAbort(state);
  sandbox.spent_ += units < 0 ? 0 : units;
  // The clock is read for work worth it, or every 16th small charge: a
  // policy calling string.lower on a name should not pay a clock read each.
  bool late = false;
  if (units >= kUnitsWorthALook || ++sandbox.chargesSinceLook_ >= kChargesPerLook) {
    sandbox.chargesSinceLook_ = 0;
    sandbox.look();
    late = sandbox.lookedAt_ >= sandbox.deadlineAt_;
  }
  // Level 1: the Lua function that called the C function charging.
  if (sandbox.spent_ >= sandbox.limits_.instructions || late) sandbox.abortAtLimit(state, 1);
}

// pcall and xpcall as the script sees them: the library's own, except that
// an aborted call is raised again instead of handed back as `false, err`.
// A memory error the script would catch is an abort too: the cap was hit.
int Sandbox::guardedProtectedCall(lua_State* state) {
  Sandbox& sandbox = of(state);
  const int base = lua_gettop(state);
  lua_pushvalue(state, lua_upvalueindex(1));
  lua_insert(state, 1);
  lua_call(state, base, LUA_MULTRET);
  if (sandbox.aborted_ != Failure::None) sandbox.raiseAbort(state);
  if (sandbox.inCall_ && sandbox.memory_.refused && lua_toboolean(state, 1) == 0 && lua_type(state, 2) == LUA_TSTRING &&
      std::string_view(lua_tostring(state, 2)) == "not enough memory") {
    sandbox.abort(state, Failure::Memory,
                  whereInScript(state, 1) + (sandbox.memory_.stringTooLong
                                                 ? std::string("a string longer than 2 MiB (not enough memory)")
                                                 : "memory limit of " + std::to_string(sandbox.limits_.memoryBytes / 1024) +
                                                       " KiB reached (not enough memory)"));
  }
  return lua_gettop(state);
}

// xpcall as the script sees it: the message handler is wrapped, because Lua
// calls it for an error raised inside the count hook while hooks are still
// off: a handler that loops there could never be stopped. After an abort the
// handler is skipped and the abort's message is the result; the call is
// then raised again by guardedProtectedCall.
int Sandbox::guardedMessageHandler(lua_State* state) {
  Sandbox& sandbox = of(state);
  if (sandbox.aborted_ != Failure::None) {
    lua_pushlstring(state, sandbox.abortMessage_.data(), sandbox.abortMessage_.size());
    return 1;
  }
  lua_pushvalue(state, lua_upvalueindex(1));
  lua_insert(state, 1);
  lua_call(state, lua_gettop(state) - 1, 1);
  return 1;
}

int Sandbox::guardedXpcall(lua_State* state) {
  luaL_checkany(state, 2);
  lua_pushvalue(state, 2);
  lua_pushcclosure(state, &Sandbox::guardedMessageHandler, 1);
  lua_replace(state, 2);
  return guardedProtectedCall(state);
}

// setmetatable as the script sees it. Two things Lua does outside any hook
// are closed here:
// - Finalizers (__gc) run with hooks off, in collectgarbage, an emergency
//   collection or lua_close on reload, where no budget could stop them. Lua
//   5.4 marks an object for finalization only when its metatable has __gc at
//   this moment, so refusing here closes the door.
// - An __index (or __newindex) that is a table is followed by the VM itself,
//   up to 2,000 tables deep within one instruction, comparing the key in
//   each: with a long string key that is gigabytes compared in an
//   instruction the hook never sees. The table gets a copy of the metatable
//   (its metamethod fields) in which such a table is replaced by a Lua
//   function doing the same lookup, so every step of a chain is a call the
//   budget counts. The copy is hidden behind __metatable (getmetatable
//   still returns the script's table), so it cannot be changed back;
//   changing the script's table later does not change the object's
//   behaviour (docs/lua-api.md). A later setmetatable on the same table is
//   allowed unless the script's own metatable had __metatable.
namespace {
char kFrozenMarker;        // a private key (its address) in each copy: true when its __metatable is ours
char kIndexFactory;        // registry keys of the two wrapper factories
char kNewindexFactory;
}  // namespace

int Sandbox::guardedSetmetatable(lua_State* state) {
  luaL_checktype(state, 1, LUA_TTABLE);
  const int kind = lua_type(state, 2);
  luaL_argexpected(state, kind == LUA_TNIL || kind == LUA_TTABLE, 2, "nil or table");
  lua_settop(state, 2);
  if (lua_getmetatable(state, 1) != 0) {  // the copy it has now, if any
    lua_rawgetp(state, -1, &kFrozenMarker);
    const bool ours = lua_toboolean(state, -1) != 0;
    lua_pop(state, 1);
    lua_pushliteral(state, "__metatable");
    const bool protectedByScript = lua_rawget(state, -2) != LUA_TNIL && !ours;
    lua_pop(state, 2);
    if (protectedByScript) return luaL_error(state, "cannot change a protected metatable");
  }
  if (kind == LUA_TNIL) {
    lua_setmetatable(state, 1);
    return 1;
  }
  lua_pushliteral(state, "__gc");
  if (lua_rawget(state, 2) != LUA_TNIL) {
    return luaL_error(state, "setmetatable: __gc is not allowed in policies (finalizers run outside the budget)");
  }
  lua_pop(state, 1);
  lua_createtable(state, 0, 4);  // 3: the copy
  std::int64_t fields = 0;
  lua_pushnil(state);
  while (lua_next(state, 2) != 0) {  // key at -2, value at -1
    ++fields;
    std::size_t size = 0;
    const char* name = lua_type(state, -2) == LUA_TSTRING ? lua_tolstring(state, -2, &size) : nullptr;
    if (name == nullptr || size < 2 || name[0] != '_' || name[1] != '_') {
      lua_pop(state, 1);
      continue;
    }
    const std::string_view field(name, size);
    if ((field == "__index" || field == "__newindex") && lua_type(state, -1) == LUA_TTABLE) {
      lua_rawgetp(state, LUA_REGISTRYINDEX, field == "__index" ? &kIndexFactory : &kNewindexFactory);
      lua_insert(state, -2);
      lua_call(state, 1, 1);  // the wrapper closure over the table
    }
    lua_pushvalue(state, -2);
    lua_insert(state, -2);
    lua_rawset(state, 3);
  }
  charge(state, 2 * fields);
  lua_pushliteral(state, "__metatable");
  const bool scriptProtects = lua_rawget(state, 3) != LUA_TNIL;
  lua_pop(state, 1);
  if (!scriptProtects) {
    lua_pushliteral(state, "__metatable");
    lua_pushvalue(state, 2);  // getmetatable answers with the script's own table
    lua_rawset(state, 3);
  }
  lua_pushboolean(state, scriptProtects ? 0 : 1);
  lua_rawsetp(state, 3, &kFrozenMarker);
  lua_setmetatable(state, 1);
  lua_settop(state, 1);
  return 1;
}

void Sandbox::openLibraries() {
  static const luaL_Reg libraries[] = {{LUA_GNAME, luaopen_base},   {LUA_STRLIBNAME, luaopen_string},
                                       {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                       {LUA_UTF8LIBNAME, luaopen_utf8}};
  for (const auto& library : libraries) {
    luaL_requiref(state_, library.name, library.func, 1);
    lua_pop(state_, 1);
  }
  installBoundedLibraries(state_);  // library calls pay for their work (bounded_libs.h)
  lua_pushnil(state_);
  lua_setglobal(state_, "dofile");
  lua_pushnil(state_);
  lua_setglobal(state_, "loadfile");
  lua_pushnil(state_);
  lua_setglobal(state_, "print");  // sw.log says where the text goes
  lua_getglobal(state_, "load");
  lua_pushcclosure(state_, loadText, 1);
  lua_setglobal(state_, "load");
  lua_getglobal(state_, "pcall");
  lua_pushcclosure(state_, &Sandbox::guardedProtectedCall, 1);
  lua_setglobal(state_, "pcall");
  lua_getglobal(state_, "xpcall");
  lua_pushcclosure(state_, &Sandbox::guardedXpcall, 1);
  lua_setglobal(state_, "xpcall");
  lua_pushcfunction(state_, &Sandbox::guardedSetmetatable);
  lua_setglobal(state_, "setmetatable");
  // The wrappers guardedSetmetatable puts in place of table __index and
  // __newindex: plain Lua, so each step of a lookup chain is counted.
  static const char kFactories[] =
      "return function(target) return function(_, key) return target[key] end end,"
      "       function(target) return function(_, key, value) target[key] = value end end";
  if (luaL_loadstring(state_, kFactories) != LUA_OK) throw std::runtime_error(lua_tostring(state_, -1));
  lua_call(state_, 0, 2);
  lua_rawsetp(state_, LUA_REGISTRYINDEX, &kNewindexFactory);
  lua_rawsetp(state_, LUA_REGISTRYINDEX, &kIndexFactory);
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
  inCall_ = true;
  spent_ = 0;
  aborted_ = Failure::None;
  abortMessage_.clear();
  memory_.refused = false;
  memory_.allocatedSinceCheck = 0;
  memory_.stringTooLong = false;
  memory_.inCall = true;
  slicesSinceNote_ = 0;
  // Every call reads the coarse clock at its start and end (a few ns each,
  // a resolution of a few ms): its length for the time share, whatever it
  // did in between, and the start of its deadline. The precise clock is
  // read only at looks (each slice of instructions, large charges).
  startedAt_ = coarseNow();
  lookedAt_ = startedAt_;
  chargesSinceLook_ = 0;
  deadlineAt_ = startedAt_ + limits_.deadline;
  slice_ = static_cast<int>(std::min(kSlice, limits_.instructions));
  lua_sethook(state_, &Sandbox::budgetHook, LUA_MASKCOUNT, slice_);
  const int status = lua_pcall(state_, args, 0, 0);
  lua_sethook(state_, nullptr, 0, 0);
  inCall_ = false;
  memory_.inCall = false;
  Outcome outcome;
  outcome.lookedAt = coarseNow();
  outcome.took = outcome.lookedAt - startedAt_;
  if (status == LUA_OK && aborted_ == Failure::None) return outcome;
  const char* text = status != LUA_OK ? lua_tostring(state_, -1) : nullptr;
  outcome.message = text != nullptr ? text : "a script error without a message";
  if (status != LUA_OK) lua_pop(state_, 1);
  if (aborted_ == Failure::Memory || status == LUA_ERRMEM || (aborted_ == Failure::None && memory_.refused)) {
    outcome.failure = Failure::Memory;
    outcome.message = aborted_ == Failure::Memory ? abortMessage_
                                                  : "memory limit of " + std::to_string(limits_.memoryBytes / 1024) +
                                                        " KiB reached (" + outcome.message + ")";
    if (memory_.stringTooLong && aborted_ != Failure::Memory) outcome.message = "a string longer than 2 MiB";
    lua_gc(state_, LUA_GCCOLLECT);
  } else if (aborted_ != Failure::None) {
    outcome.failure = aborted_;
    outcome.message = abortMessage_;
  } else {
    outcome.failure = Failure::Error;
  }
  aborted_ = Failure::None;
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

}  // namespace sipwarden::plugins::lua_policy
