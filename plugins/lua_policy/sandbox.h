#pragma once
// A Lua 5.4 state restricted to what a policy may use: base (without
// dofile, loadfile, print, and with load for text chunks only), string
// (without dump), table, math and utf8. No io, os, debug or package.
// Every allocation counts against a memory cap, and each call runs under an
// instruction budget, so a script that loops or hoards memory fails that
// call only.
//
// Errors raised inside Lua are C++ exceptions (Debian's liblua5.4-c++), so
// C++ functions called from scripts may hold objects with destructors; they
// must not let their own exceptions escape into Lua.

#include <cstddef>
#include <cstdint>
#include <string>

struct lua_State;
struct lua_Debug;

namespace sipwarden::lua {

struct Limits {
  std::int64_t instructions = 1'000'000;     // per call
  std::size_t memoryBytes = 32 * 1024 * 1024;  // per state
};

class Sandbox {
 public:
  enum class Failure { None, Error, Budget, Memory };
  struct Outcome {
    Failure failure = Failure::None;
    std::string message;  // "policy.lua:12: attempt to index a nil value"
  };

  explicit Sandbox(Limits limits);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  lua_State* state() const { return state_; }
  // Loads a text chunk from `file` (no bytecode) and runs it with its
  // global `config` set to the table on the stack top (popped).
  Outcome runFile(const std::string& file);
  // Calls the function below its `args` arguments on the stack, under the
  // budget; pops them and discards the results.
  Outcome call(int args);
  std::size_t memoryUsed() const { return memory_.used; }

  // Something the C++ functions the script calls need to find (the Script).
  void setOwner(void* owner) { owner_ = owner; }
  static Sandbox& of(lua_State* state);
  void* owner() const { return owner_; }

 private:
  struct Memory {
    std::size_t used = 0;
    std::size_t limit = 0;
    bool refused = false;
  };
  static void* allocate(void* memory, void* block, std::size_t oldSize, std::size_t newSize);
  static void budgetHook(lua_State* state, lua_Debug* debug);
  void openLibraries();
  Outcome protectedCall(int args);

  Limits limits_;
  Memory memory_;
  lua_State* state_ = nullptr;
  void* owner_ = nullptr;
  bool budgetHit_ = false;
};

}  // namespace sipwarden::lua
