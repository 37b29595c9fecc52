// lua_policy's containment (issue 16): a limit, once hit, cannot be caught,
// postponed or escaped by the script (pcall, xpcall and its handler, __gc,
// __close, error objects), the wall-clock deadline holds, and what a script
// keeps outside its state (sw.shared, sw.log, headers, tags) is capped.
// Each case would hang, or succeed where it must fail, without the fix.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lua_policy/script.h"
#include "lua_policy/shared_store.h"
#include "lua_policy/time_share.h"
#include "pipeline/exchange.h"
#include "pipeline/loader.h"
#include "plugin_harness.h"
#include "sip/message.h"

namespace sipwarden::plugins {
namespace lua_policy { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::pipeline {
namespace {

const std::string kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKcontain\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=f1\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: contain-1\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n\r\nhello";

class LuaContainmentTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) { return files_.write(name, text); }

  std::shared_ptr<const FilterChain> chain(const std::string& source, const std::string& extra = "") {
    const std::string path = write("policy.lua", source);
    return test_support::chainWith(plugins::lua_policy::descriptor(),
                                   R"([{"plugin": "lua_policy", "fail_mode": "closed", "fail_code": 503, "scripts": [{"file": ")" +
                                       path + "\"}]" + extra + "}]");
  }

  std::string loadError(const std::string& source) {
    const std::string path = write("policy.lua", source);
    return test_support::chainError(plugins::lua_policy::descriptor(),
                                    R"([{"plugin": "lua_policy", "scripts": [{"file": ")" + path + "\"}]}]");
  }

  // Runs the request; the verdict, and how long the run took.
  Verdict run(const FilterChain& filters, std::chrono::milliseconds& took) {
    const auto started = std::chrono::steady_clock::now();
    test_support::Outcome outcome = test_support::run(filters, kMessage);
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    tags_ = std::move(outcome.tags);
    return outcome.verdict;
  }

  static std::uint64_t counter(const FilterChain& filters, const std::string& name) {
    return test_support::counter(filters, name);
  }

  // The script fails its call with the fail mode's 503, counted under `counterName`.
  // A deadline far off, so that the budget (not a slow sanitizer build)
  // decides unless a test says otherwise.
  void expectStopped(const std::string& source, const std::string& counterName,
                     const std::string& extra = R"(, "deadline_ms": 10000)") {
    auto filters = chain(source, extra);
    std::chrono::milliseconds took{};
    const Verdict verdict = run(*filters, took);
    ASSERT_EQ(verdict.kind(), Verdict::Kind::Reply) << source;
    EXPECT_EQ(verdict.code(), 503) << source;
    std::string counted;
    for (const auto& [name, count] : filters->entries()[0].counters->named) counted += name + "=" + std::to_string(count) + " ";
    EXPECT_EQ(counter(*filters, counterName), 1u) << source << "\ncounted: " << counted << "\nreason: " << verdict.reason();
  }

  test_support::ScratchDirectory files_{"lua_containment_test"};
  std::vector<std::pair<std::string, std::string>> tags_;
};

TEST_F(LuaContainmentTest, PcallCannotSwallowTheBudget) {
  expectStopped("function on_request(msg) while true do pcall(function() while true do end end) end end",
                "budget_exceeded");
}

TEST_F(LuaContainmentTest, XpcallAndItsHandlerCannotSwallowTheBudget) {
  expectStopped("function on_request(msg)\n"
                "  while true do xpcall(function() while true do end end, function(e) while true do end end) end\n"
                "end",
                "budget_exceeded");
  // A handler that returns normally still does not turn the abort into a value.
  expectStopped("function on_request(msg)\n"
                "  local ok = xpcall(function() while true do end end, function(e) return 'fine' end)\n"
                "  msg:tag('ok', tostring(ok))\n"
                "end",
                "budget_exceeded");
}

TEST_F(LuaContainmentTest, ErrorObjectsAndNestedPcallsDoNotHelp) {
  expectStopped("function on_request(msg)\n"
                "  for i = 1, 1e9 do\n"
                "    pcall(pcall, pcall, function() error(setmetatable({}, {__index = function() end})) end)\n"
                "    pcall(error, {})\n"
                "  end\n"
                "end",
                "budget_exceeded");
}

TEST_F(LuaContainmentTest, CloseHandlersRunUnderTheAbort) {
  expectStopped("function on_request(msg)\n"
                "  local guard <close> = setmetatable({}, {__close = function() while true do end end})\n"
                "  while true do end\n"
                "end",
                "budget_exceeded");
}

TEST_F(LuaContainmentTest, FinalizersAreRefused) {
  expectStopped("function on_request(msg) setmetatable({}, {__gc = function() while true do end end}) end",
                "script_errors");
  // __gc = false first, a function later: Lua would finalize it; refused too.
  expectStopped("function on_request(msg)\n"
                "  local mt = {__gc = false}\n"
                "  setmetatable({}, mt)\n"
                "  mt.__gc = function() while true do end end\n"
                "end",
                "script_errors");
  // Adding __gc after setmetatable is allowed: Lua 5.4 never runs it.
  auto filters = chain("function on_request(msg)\n"
                       "  local mt = {}\n"
                       "  setmetatable({}, mt)\n"
                       "  mt.__gc = function() while true do end end\n"
                       "  for i = 1, 100000 do local garbage = {} end\n"
                       "  msg:tag('done', 'yes')\n"
                       "end",
                       R"(, "deadline_ms": 10000)");
  std::chrono::milliseconds took{};
  EXPECT_TRUE(run(*filters, took).isContinue());
}

TEST_F(LuaContainmentTest, MemoryErrorsCannotBeCaughtAndRetried) {
  expectStopped("function on_request(msg)\n"
                "  while true do\n"
                "    pcall(function() local t = {} while true do t[#t + 1] = {} end end)\n"
                "  end\n"
                "end",
                "memory_exceeded", R"(, "memory_limit_kb": 1024, "instruction_budget": 2000000000, "deadline_ms": 5000)");
}

TEST_F(LuaContainmentTest, CopiesInsideOneInstructionAreCharged) {
  // `..` copies 900 KB in one VM instruction: charged by what it allocates,
  // so the loop meets the budget after a few dozen copies, not the deadline.
  expectStopped("function on_request(msg)\n"
                "  local big = string.rep('x', 900000)\n"
                "  for i = 1, 1e9 do local copy = big .. 'a' end\n"
                "end",
                "budget_exceeded");
  expectStopped("function on_request(msg)\n"
                "  local big = string.rep('x', 100000)\n"
                "  for i = 1, 1e9 do local t = {big .. 'a', big .. 'b', big .. 'c'} end\n"
                "end",
                "budget_exceeded");
}

TEST_F(LuaContainmentTest, IndexChainsAreWalkedStepByStepUnderTheBudget) {
  // Each head[K] walked 1,990 __index tables comparing a 1 MiB key in each,
  // inside one VM instruction: 52 s on one message before.
  auto filters = chain("local K = string.rep('a', 1024 * 1024) .. 'a'\n"
                       "local K2 = string.rep('a', 1024 * 1024) .. 'b'\n"
                       "local t = {[K2] = true}\n"
                       "for i = 1, 1990 do t = setmetatable({[K2] = true}, {__index = t}) end\n"
                       "local head = t\n"
                       "function on_request(msg) local x while true do x = head[K] end end",
                       R"(, "deadline_ms": 10000)");
  std::chrono::milliseconds took{};
  const Verdict verdict = run(*filters, took);
  // Each step is now a Lua call: the chain ends in a "C stack overflow"
  // error (Lua's limit of 200 nested calls), or the budget if it is shorter.
  ASSERT_EQ(verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(counter(*filters, "budget_exceeded") + counter(*filters, "script_errors"), 1u);
  EXPECT_LT(took.count(), 5000);
  // A chain the C stack allows is a Lua call per step, so the hook looks
  // between steps: the deadline (the key comparisons are not counted as
  // instructions) ends the call close to it. 500 ms rather than the default
  // 50: the same deadline bounds the script's load, which builds two 1 MiB
  // keys, and under ASan on a loaded 2-core CI machine that took over 50.
  auto shorter = chain("local K = string.rep('a', 1024 * 1024) .. 'a'\n"
                       "local K2 = string.rep('a', 1024 * 1024) .. 'b'\n"
                       "local t = {[K2] = true}\n"
                       "for i = 1, 150 do t = setmetatable({[K2] = true}, {__index = t}) end\n"
                       "local head = t\n"
                       "function on_request(msg) local x while true do x = head[K] end end",
                       R"(, "deadline_ms": 500)");
  EXPECT_EQ(run(*shorter, took).kind(), Verdict::Kind::Reply);
  EXPECT_EQ(counter(*shorter, "deadline_exceeded") + counter(*shorter, "budget_exceeded"), 1u);
  EXPECT_LT(took.count(), 2000);
}

TEST_F(LuaContainmentTest, MetatableIdiomsStillWork) {
  auto filters = chain(R"(
    local Base = {}
    Base.__index = Base
    function Base.new(name) return setmetatable({name = name}, Base) end
    function Base:hello() return "hello " .. self.name end
    local Derived = setmetatable({}, {__index = Base})
    Derived.__index = Derived
    function Derived.new(name) return setmetatable(Base.new(name), Derived) end
    function Derived:shout() return self:hello():upper() end
    local log = {}
    local proxy = setmetatable({}, {__newindex = log, __tostring = function() return "proxy" end})
    function on_request(msg)
      local d = Derived.new("bob")
      proxy.seen = true
      local sealed = setmetatable({}, {__metatable = "sealed"})
      local resealed = pcall(setmetatable, sealed, {})
      local late = {}
      local object = setmetatable({}, late)
      late.__index = function() return "changed" end  -- a change after setmetatable is not seen
      msg:tag("result", table.concat({d:shout(), tostring(getmetatable(d) == Derived), tostring(rawget(log, "seen")),
        tostring(proxy), getmetatable(sealed), tostring(resealed), tostring(object.anything),
        tostring(getmetatable(setmetatable(d, Base)) == Base)}, ","))
    end)",
                       R"(, "deadline_ms": 10000)");
  std::chrono::milliseconds took{};
  EXPECT_TRUE(run(*filters, took).isContinue());
  ASSERT_EQ(tags_.size(), 1u);
  EXPECT_EQ(tags_[0].second, "HELLO BOB,true,true,proxy,sealed,false,nil,true");
}

TEST_F(LuaContainmentTest, StringsAreCapped) {
  expectStopped("function on_request(msg) local s = string.rep('x', 1024 * 1024) .. string.rep('y', 1024 * 1024) .. 'z' end",
                "memory_exceeded", R"(, "deadline_ms": 10000, "instruction_budget": 100000000)");
}

TEST_F(LuaContainmentTest, TheDeadlineStopsACallTheBudgetAllows) {
  auto filters = chain("function on_request(msg) while true do end end",
                       R"(, "instruction_budget": 2000000000, "deadline_ms": 30)");
  std::chrono::milliseconds took{};
  const Verdict verdict = run(*filters, took);
  ASSERT_EQ(verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(verdict.code(), 503);
  EXPECT_EQ(counter(*filters, "deadline_exceeded"), 1u);
  EXPECT_LT(took.count(), 2000);  // not the seconds the budget allows
}

TEST_F(LuaContainmentTest, AStoppedCallLeavesTheStateUsable) {
  auto filters = chain("function on_request(msg)\n"
                       "  if msg:header('X-Never') == nil and not sw.state.ran then\n"
                       "    sw.state.ran = true\n"
                       "    while true do pcall(function() while true do end end) end\n"
                       "  end\n"
                       "  msg:tag('second', 'ran')\n"
                       "end");
  std::chrono::milliseconds took{};
  EXPECT_EQ(run(*filters, took).code(), 503);
  EXPECT_TRUE(run(*filters, took).isContinue());
  ASSERT_EQ(tags_.size(), 1u);
  EXPECT_EQ(tags_[0].second, "ran");
}

TEST_F(LuaContainmentTest, TopLevelRunawaysFailTheLoad) {
  EXPECT_NE(loadError("while true do pcall(function() while true do end end) end\nfunction on_request(msg) end")
                .find("policy.lua:1: instruction budget of 1000000 exceeded"),
            std::string::npos);
  EXPECT_NE(loadError("setmetatable({}, {__gc = tostring})\nfunction on_request(msg) end").find("__gc is not allowed"),
            std::string::npos);
}

TEST_F(LuaContainmentTest, HeadersTagsAndBodiesAreCappedPerCall) {
  expectStopped("function on_request(msg) for i = 1, 65 do msg:add_header('X-A', 'b') end end", "script_errors");
  expectStopped("function on_request(msg) for i = 1, 65 do msg:tag('t' .. i, 'v') end end", "script_errors");
  expectStopped("function on_request(msg) msg:add_header('X-A', string.rep('b', 8193)) end", "script_errors");
  expectStopped("function on_request(msg) msg:tag('t', string.rep('v', 4097)) end", "script_errors");
  expectStopped("function on_request(msg) msg:set_body(string.rep('v', 1024 * 1024 + 1)) end", "script_errors",
                R"(, "deadline_ms": 10000, "instruction_budget": 100000000)");
  auto filters = chain("function on_request(msg)\n"
                       "  for i = 1, 64 do msg:tag('t' .. i, 'v') end\n"
                       "  for i = 1, 64 do msg:add_header('X-A', string.rep('b', 8000)) end\n"
                       "end",
                       // The caps are the question here, not the clock: a loaded
                       // sanitizer build must not turn this into a deadline test.
                       R"(, "deadline_ms": 10000)");
  std::chrono::milliseconds took{};
  EXPECT_TRUE(run(*filters, took).isContinue());
}

}  // namespace
}  // namespace sipwarden::pipeline

namespace sipwarden::plugins::lua_policy {
namespace {

TEST(LuaSharedStore, RefusesWhatPassesItsCapsAndNeverEvicts) {
  SharedStore::Caps caps;
  caps.keys = 3;
  caps.keyBytes = 8;
  caps.valueBytes = 100;
  caps.totalBytes = 300;  // one 100-byte value and two numbers (165 + 65 + 65), not two 100-byte values
  SharedStore store(caps);
  EXPECT_EQ(store.set("123456789", 1.0, {}), SharedStore::Refusal::KeyTooLong);
  EXPECT_EQ(store.set("k", std::string(101, 'x'), {}), SharedStore::Refusal::ValueTooLong);
  EXPECT_EQ(store.set("a", std::string(100, 'x'), {}), SharedStore::Refusal::None);
  EXPECT_EQ(store.set("b", std::string(100, 'x'), {}), SharedStore::Refusal::Full);  // bytes
  EXPECT_EQ(store.set("b", 2.0, {}), SharedStore::Refusal::None);
  EXPECT_EQ(store.set("c", 3.0, {}), SharedStore::Refusal::None);
  EXPECT_EQ(store.set("d", 4.0, {}), SharedStore::Refusal::Full);  // keys
  EXPECT_FALSE(store.increment("e", 1, {}));
  // Replacing a value frees its old bytes first.
  EXPECT_EQ(store.set("a", std::string(40, 'y'), {}), SharedStore::Refusal::None);
  EXPECT_EQ(store.bytes(), 3 * (SharedStore::kEntryOverhead + 1) + 40);
  // Nothing was evicted to make room.
  EXPECT_TRUE(store.get("b"));
  EXPECT_TRUE(store.get("c"));
  store.erase("a");
  EXPECT_EQ(store.set("d", 4.0, {}), SharedStore::Refusal::None);
}

TEST(LuaSharedStore, ExpiredKeysMakeRoom) {
  SharedStore::Caps caps;
  caps.keys = 1;
  SharedStore store(caps);
  EXPECT_EQ(store.set("a", 1.0, std::chrono::milliseconds(1)), SharedStore::Refusal::None);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(store.set("b", 1.0, {}), SharedStore::Refusal::None);
  EXPECT_EQ(store.size(), 1u);
  // The purge walks the whole store, so it runs at most once a second: a
  // key that expired since waits for the next one.
  store.erase("b");
  EXPECT_EQ(store.set("c", 1.0, std::chrono::milliseconds(1)), SharedStore::Refusal::None);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(store.set("d", 1.0, {}), SharedStore::Refusal::Full);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(store.set("d", 1.0, {}), SharedStore::Refusal::None);
}

TEST(LuaTimeShare, ScriptsGetTheirShareOfTheThreadAndNoMore) {
  using namespace std::chrono_literals;
  TimeShare share(0.5, 25ms, 1ms);
  auto now = TimeShare::Clock::now();
  // A run of calls that each go to a 50 ms deadline, back to back: after the
  // first two, one call in every 100 ms is admitted (50 ms of script time).
  int admitted = 0;
  std::chrono::nanoseconds scriptTime{0};
  const auto start = now;
  while (now - start < 10s) {
    if (share.admitAt(now)) {
      ++admitted;
      share.spent(50ms, now + 50ms);
      now += 50ms;
      scriptTime += 50ms;
    } else {
      now += 1ms;  // a shed call costs next to nothing
    }
  }
  // Each call is charged 49 ms (its first millisecond is free).
  EXPECT_GE(admitted, 99);
  EXPECT_LE(admitted, 104);
  EXPECT_LE(scriptTime, 5s + 250ms);
  // Short calls back to back (all of the thread) never meet the limit.
  TimeShare typical(0.5, 25ms, 1ms);
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(typical.admitAt(now)) << i;
    typical.spent(900us, now + 900us);
    now += 900us;
  }
  // 100 percent turns shedding off.
  TimeShare off(1.0, 25ms, 1ms);
  off.spent(10s, now + 10s);
  EXPECT_TRUE(off.admit());
}

TEST(LuaLogAllowance, ABurstThenASteadyRateWithACountOfWhatWasDropped) {
  LogAllowance allowance(kLogBurst, kLogPerSecond);
  const auto start = LogAllowance::Clock::now();
  std::uint64_t suppressed = 0;
  int written = 0;
  for (int i = 0; i < 1000; ++i) written += allowance.take(start, suppressed) ? 1 : 0;
  EXPECT_EQ(written, static_cast<int>(kLogBurst));
  // A second later: kPerSecond more, the first one saying how many were dropped.
  ASSERT_TRUE(allowance.take(start + std::chrono::seconds(1), suppressed));
  EXPECT_EQ(suppressed, 1000u - static_cast<std::uint64_t>(kLogBurst));
  ASSERT_TRUE(allowance.take(start + std::chrono::seconds(1), suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace sipwarden::plugins::lua_policy
