#pragma once
// A Lua 5.4 state restricted to what a policy may use: base (without
// dofile, loadfile, print, and with load for text chunks only), string
// (without dump), table, math and utf8. No io, os, debug, package or
// coroutine. Every allocation counts against a memory cap, and each call
// runs under an instruction budget and a wall-clock deadline, so a script
// that loops or hoards memory fails that call only.
//
// A limit, once hit, holds for the rest of the call: the call is "aborted",
// the count hook then fires on every instruction and raises again, pcall and
// xpcall re-raise instead of returning, and setmetatable refuses __gc (a
// finalizer runs with hooks off, so it could never be stopped). Nothing the
// script does can swallow or postpone the abort; docs/lua-api.md says why
// each door is closed.
//
// Errors raised inside Lua are C++ exceptions (Debian's liblua5.4-c++), so
// C++ functions called from scripts may hold objects with destructors; they
// must not let their own exceptions escape into Lua.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sipwarden/filter.h"

struct lua_State;
struct lua_Debug;

namespace sipwarden::plugins::lua_policy {

struct Limits {
  std::int64_t instructions = 1'000'000;     // per call, VM instructions plus library work (charge)
  std::size_t memoryBytes = 32 * 1024 * 1024;  // per state
  std::chrono::milliseconds deadline{50};      // wall clock per call
};

class Sandbox {
 public:
  enum class Failure { None, Error, Budget, Memory, Deadline };
  using Clock = std::chrono::steady_clock;
  struct Outcome {
    Failure failure = Failure::None;
    std::string message;  // "policy.lua:12: attempt to index a nil value"
    // How long the call ran, and when it ended, on the coarse monotonic
    // clock (a resolution of a few milliseconds: enough for the time share,
    // which counts calls longer than one).
    std::chrono::nanoseconds took{0};
    Clock::time_point lookedAt{};
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

  // Called by every C function a script can reach, before (or while) it
  // does work proportional to its input: `units` is that work in the
  // currency of one VM instruction (a pattern-matching step, a table slot
  // moved, 16 bytes scanned...). Adds it to the call's budget and checks the
  // wall-clock deadline; when either is spent it aborts the call: raises an
  // error that no pcall, xpcall, __close or message handler can swallow, and
  // does not return. Outside a call (loading the libraries) it does nothing.
  static void charge(lua_State* state, std::int64_t units);

  // The resolution of the clock Outcome::took is read from (the coarse
  // monotonic clock: a kernel tick, typically 4 ms): a call's length is
  // known to within it.
  static std::chrono::nanoseconds callClockResolution();

  // Where the hook reports the running line ("policy.lua:12") for the
  // watchdog, each slice of the budget; nullptr (no report) between calls.
  void setActivitySink(Exchange* sink) { activitySink_ = sink; }

  // Something the C++ functions the script calls need to find (the Script).
  void setOwner(void* owner) { owner_ = owner; }
  static Sandbox& of(lua_State* state);
  void* owner() const { return owner_; }

 private:
  struct Memory {
    std::size_t used = 0;
    std::size_t limit = 0;
    bool refused = false;
    // Bytes allocated during the call since the hook last looked: one VM
    // instruction (`big .. "a"`, a table constructor) can copy megabytes,
    // so allocations are charged too, and a large one makes the hook look
    // at the very next instruction.
    std::int64_t allocatedSinceCheck = 0;
    lua_State* state = nullptr;  // set once the state exists
    bool inCall = false;
    bool stringTooLong = false;  // a refusal was a string over the cap
  };
  // Reads the precise clock for the deadline.
  void look();
  [[noreturn]] void abort(lua_State* state, Failure failure, std::string message);
  // The budget or the deadline is spent: aborts, naming the script's line
  // `level` frames up (0 inside the hook, 1 from a charging C function).
  [[noreturn]] void abortAtLimit(lua_State* state, int level);
  [[noreturn]] void raiseAbort(lua_State* state);
  static int guardedProtectedCall(lua_State* state);
  static int guardedSetmetatable(lua_State* state);
  static int guardedXpcall(lua_State* state);
  static int guardedMessageHandler(lua_State* state);
  static void* allocate(void* memory, void* block, std::size_t oldSize, std::size_t newSize);
  static void budgetHook(lua_State* state, lua_Debug* debug);
  void openLibraries();
  Outcome protectedCall(int args);

  Limits limits_;
  Memory memory_;
  lua_State* state_ = nullptr;
  void* owner_ = nullptr;
  Exchange* activitySink_ = nullptr;
  // The call in progress (protectedCall): what it has spent and when it
  // must end. Outside a call inCall_ is false and charge() does nothing.
  bool inCall_ = false;
  std::int64_t spent_ = 0;        // instructions of finished hook slices plus charged units
  int slice_ = 0;                 // the hook's current count
  Clock::time_point startedAt_;
  Clock::time_point deadlineAt_;
  Clock::time_point lookedAt_;    // the last clock reading of the call
  unsigned chargesSinceLook_ = 0;
  unsigned slicesSinceNote_ = 0;
  Failure aborted_ = Failure::None;
  std::string abortMessage_;
};

}  // namespace sipwarden::plugins::lua_policy

