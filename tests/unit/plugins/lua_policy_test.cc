// lua_policy through the real chain: every msg field and method, the sw
// module, the sandbox (escapes tried), budgets, fail modes and config errors.
// Scripts are written to a temporary directory per test.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "lua_policy/uri.h"
#include "pipeline/loader.h"
#include "plugin_harness.h"
#include "sip/edit_list.h"
#include "sip/message.h"

namespace sipwarden::plugins {
namespace lua_policy { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::pipeline {
namespace {

std::string message(const std::string& body = "hello", const std::string& contentType = "text/plain",
                    const std::string& extra = "") {
  return "MESSAGE sip:bob@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKlua1\r\n"
         "Max-Forwards: 70\r\n"
         "From: \"Alice Liddell\" <sip:alice@Example.COM>;tag=f1\r\n"
         "To: <sip:bob@example.com>\r\n"
         "Call-ID: lua-call-1\r\n"
         "CSeq: 7 MESSAGE\r\n"
         "Supported: path, outbound\r\n" + extra +
         "Content-Type: " + contentType + "\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kResponse =
    "SIP/2.0 486 Busy Here\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKlua1\r\n"
    "From: <sip:alice@example.com>;tag=f1\r\n"
    "To: <sip:bob@example.com>;tag=t9\r\n"
    "Call-ID: lua-call-1\r\n"
    "CSeq: 7 MESSAGE\r\n"
    "Content-Length: 0\r\n\r\n";

using test_support::Outcome;

class LuaPolicyTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) { return files_.write(name, text); }
  // The plugin block for one script, plus extra keys (",\"groups\": ...").
  std::string block(const std::string& source, const std::string& extra = "", const std::string& scriptKeys = "") {
    const std::string path = write("policy.lua", source);
    return R"([{"plugin": "lua_policy", "scripts": [{"file": ")" + path + "\"" + scriptKeys + "}]" + extra + "}]";
  }
  std::shared_ptr<const FilterChain> chain(const std::string& source, const std::string& extra = "",
                                           const std::string& scriptKeys = "") {
    return test_support::chainWith(plugins::lua_policy::descriptor(), block(source, extra, scriptKeys));
  }
  std::string error(const std::string& source, const std::string& extra = "", const std::string& scriptKeys = "") {
    return test_support::chainError(plugins::lua_policy::descriptor(), block(source, extra, scriptKeys));
  }

  Outcome run(const FilterChain& filters, const std::string& text = message(),
              Direction direction = Direction::FromClient) {
    return test_support::run(filters, text, {.protocol = transport::Protocol::Tcp, .port = 5070, .direction = direction});
  }

  // The request, then a 486 through on_response; what the response became.
  Outcome runResponse(const FilterChain& filters) { return test_support::runResponse(filters, message(), kResponse); }

  static std::uint64_t counter(const FilterChain& filters, const std::string& name) {
    return test_support::counter(filters, name);
  }

  test_support::ScratchDirectory files_{"lua_policy_test"};
};

// ---- msg fields -------------------------------------------------------------

TEST_F(LuaPolicyTest, RequestFieldsReadTheMessage) {
  auto filters = chain(R"(
    function on_request(msg)
      msg:tag("method", msg.method)
      msg:tag("ruri", msg.ruri)
      msg:tag("from", msg.from.uri .. "|" .. msg.from.user .. "|" .. msg.from.host .. "|" .. msg.from.display
              .. "|" .. msg.from.tag .. "|" .. msg.from.aor)
      msg:tag("to", msg.to.aor .. "|" .. msg.to.tag)
      msg:tag("call", msg.call_id .. "/" .. msg.cseq)
      msg:tag("status", tostring(msg.status))
      msg:tag("body", msg.body)
      msg:tag("type", msg.content_type)
      msg:tag("text", msg.text)
      msg:tag("source", msg.source.ip .. ":" .. msg.source.port .. "/" .. msg.source.transport)
      msg:tag("direction", msg.direction)
      msg:tag("is_request", tostring(msg.is_request))
    end)");
  const Outcome outcome = run(*filters, message("hi <b>there</b>", "text/html"));
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.tag("method"), "MESSAGE");
  EXPECT_EQ(outcome.tag("ruri"), "sip:bob@example.com");
  EXPECT_EQ(outcome.tag("from"), "sip:alice@Example.COM|alice|example.com|Alice Liddell|f1|alice@example.com");
  EXPECT_EQ(outcome.tag("to"), "bob@example.com|");
  EXPECT_EQ(outcome.tag("call"), "lua-call-1/7");
  EXPECT_EQ(outcome.tag("status"), "nil");
  EXPECT_EQ(outcome.tag("body"), "hi <b>there</b>");
  EXPECT_EQ(outcome.tag("type"), "text/html");
  EXPECT_EQ(outcome.tag("text"), "hi there");
  EXPECT_EQ(outcome.tag("source"), "192.0.2.10:5070/tcp");
  EXPECT_EQ(outcome.tag("direction"), "from_client");
  EXPECT_EQ(outcome.tag("is_request"), "true");
}

TEST_F(LuaPolicyTest, TextIsNilWithoutAnInstantMessage) {
  auto filters = chain(R"(function on_request(msg) msg:tag("text", tostring(msg.text)) end)");
  EXPECT_EQ(run(*filters, message("<x/>", "application/im-iscomposing+xml")).tag("text"), "nil");
}

TEST_F(LuaPolicyTest, DirectionFromUpstream) {
  auto filters = chain(R"(function on_request(msg) msg:tag("d", msg.direction) end)");
  EXPECT_EQ(run(*filters, message(), Direction::FromUpstream).tag("d"), "from_upstream");
}

TEST_F(LuaPolicyTest, UnknownFieldIsAnErrorNotNil) {
  auto filters = chain(R"(function on_request(msg) local x = msg.methd end)");
  const Outcome outcome = run(*filters);
  EXPECT_TRUE(outcome.verdict.isContinue());  // fail open by default
  EXPECT_EQ(counter(*filters, "script_errors"), 1u);
}

TEST_F(LuaPolicyTest, HeaderAndHeaders) {
  auto filters = chain(R"(
    function on_request(msg)
      msg:tag("supported", msg:header("supported"))
      msg:tag("count", #msg:headers("Supported"))
      msg:tag("second", msg:headers("Supported")[2])
      msg:tag("absent", tostring(msg:header("X-Nothing")))
      msg:tag("compact", msg:header("i"))
    end)");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.tag("supported"), "path, outbound");
  EXPECT_EQ(outcome.tag("count"), "2");
  EXPECT_EQ(outcome.tag("second"), "outbound");
  EXPECT_EQ(outcome.tag("absent"), "nil");
  EXPECT_EQ(outcome.tag("compact"), "lua-call-1");
}

// ---- edits ------------------------------------------------------------------

TEST_F(LuaPolicyTest, HeaderEditsReachTheWire) {
  auto filters = chain(R"(
    function on_request(msg)
      msg:set_header("X-Policy", "checked")
      msg:add_header("X-Trace", "one")
      msg:add_header("X-Trace", "two")
      msg:remove_header("Supported")
    end)");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.out->header("X-Policy"), "checked");
  EXPECT_EQ(outcome.out->values("X-Trace").size(), 2u);
  EXPECT_FALSE(outcome.out->header("Supported"));
}

TEST_F(LuaPolicyTest, HeadersTheHopOwnsAndInjectionAreRefused) {
  for (const std::string call : {R"(msg:set_header("Via", "x"))", R"(msg:remove_header("CSeq"))",
                                 R"(msg:set_header("l", "0"))", R"(msg:add_header("X-A", "a\r\nVia: evil"))",
                                 R"(msg:add_header("Bad Name", "a"))"}) {
    auto filters = chain("function on_request(msg) " + call + " end");
    const Outcome outcome = run(*filters);
    EXPECT_EQ(counter(*filters, "script_errors"), 1u) << call;
    EXPECT_EQ(outcome.out->values("Via").size(), 1u) << call;
    EXPECT_EQ(outcome.out->header("CSeq"), "7 MESSAGE") << call;
  }
}

TEST_F(LuaPolicyTest, SetBodyFixesContentLengthAndType) {
  auto filters = chain(R"(function on_request(msg) msg:set_body("<p>new</p>", "text/html") end)");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.out->body(), "<p>new</p>");
  EXPECT_EQ(outcome.out->header("Content-Type"), "text/html");
  EXPECT_EQ(outcome.out->header("Content-Length"), "10");
}

TEST_F(LuaPolicyTest, SetTextRewritesEveryTextPartInItsForm) {
  const std::string boundary = "b0undary";
  const std::string body = "--" + boundary + "\r\nContent-Type: text/plain\r\n\r\nold\r\n--" + boundary +
                           "\r\nContent-Type: text/html\r\n\r\n<b>old</b>\r\n--" + boundary + "--\r\n";
  auto filters = chain(R"(function on_request(msg) msg:set_text("a < b") end)");
  const Outcome outcome = run(*filters, message(body, "multipart/alternative;boundary=" + boundary));
  const std::string out(outcome.out->body());
  EXPECT_NE(out.find("\r\n\r\na < b\r\n--b0undary"), std::string::npos) << out;
  EXPECT_NE(out.find("a &lt; b"), std::string::npos) << out;
  EXPECT_EQ(outcome.out->header("Content-Length"), std::to_string(out.size()));
}

TEST_F(LuaPolicyTest, SetTextWithoutTextIsAnError) {
  auto filters = chain(R"(function on_request(msg) msg:set_text("x") end)");
  run(*filters, message("<x/>", "application/im-iscomposing+xml"));
  EXPECT_EQ(counter(*filters, "script_errors"), 1u);
}

// ---- verdicts ---------------------------------------------------------------

TEST_F(LuaPolicyTest, ReplyWithHeaders) {
  auto filters = chain(R"(
    function on_request(msg)
      msg:reply(488, "Not Here", {["X-Why"] = "policy"})
    end)");
  const Outcome outcome = run(*filters);
  ASSERT_EQ(outcome.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(outcome.verdict.code(), 488);
  EXPECT_EQ(outcome.verdict.reason(), "Not Here");
  ASSERT_EQ(outcome.verdict.headers().size(), 1u);
  EXPECT_EQ(outcome.verdict.headers()[0], (std::pair<std::string, std::string>{"X-Why", "policy"}));
}

TEST_F(LuaPolicyTest, ReplyHeadersAsOrderedPairs) {
  auto filters = chain(R"(function on_request(msg) msg:reply(403, "No", {{"Warning", "a"}, {"Warning", "b"}}) end)");
  const Outcome outcome = run(*filters);
  ASSERT_EQ(outcome.verdict.headers().size(), 2u);
  EXPECT_EQ(outcome.verdict.headers()[1].second, "b");
}

TEST_F(LuaPolicyTest, RejectNamesTheScriptInAWarning) {
  auto filters = chain(R"(function on_request(msg) msg:reject(403, "Ethical \"wall\"") end)");
  const Outcome outcome = run(*filters);
  ASSERT_EQ(outcome.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(outcome.verdict.code(), 403);
  ASSERT_EQ(outcome.verdict.headers().size(), 1u);
  EXPECT_EQ(outcome.verdict.headers()[0].second, "399 sipwarden \"policy.lua: Ethical 'wall'\"");
}

TEST_F(LuaPolicyTest, Drop) {
  auto filters = chain(R"(function on_request(msg) msg:drop() end)");
  EXPECT_EQ(run(*filters).verdict.kind(), Verdict::Kind::Drop);
}

TEST_F(LuaPolicyTest, ASecondVerdictIsAnError) {
  auto filters = chain(R"(function on_request(msg) msg:reply(403, "a") msg:drop() end)");
  const Outcome outcome = run(*filters);
  EXPECT_TRUE(outcome.verdict.isContinue());  // the script failed: fail open
  EXPECT_EQ(counter(*filters, "script_errors"), 1u);
}

TEST_F(LuaPolicyTest, BadReplyCodesAreRefused) {
  for (const std::string call : {"msg:reply(100, 'x')", "msg:reply(700, 'x')", "msg:reject(200, 'x')",
                                 "msg:reply('abc', 'x')"}) {
    auto filters = chain("function on_request(msg) " + call + " end");
    EXPECT_TRUE(run(*filters).verdict.isContinue()) << call;
    EXPECT_EQ(counter(*filters, "script_errors"), 1u) << call;
  }
}

TEST_F(LuaPolicyTest, FailClosedTurnsAScriptErrorIntoTheFailCode) {
  auto filters = chain(R"(function on_request(msg) error("broken") end)", R"(, "fail_mode": "closed", "fail_code": 500)");
  const Outcome outcome = run(*filters);
  ASSERT_EQ(outcome.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(outcome.verdict.code(), 500);
}

// ---- responses --------------------------------------------------------------

TEST_F(LuaPolicyTest, OnResponseReadsStatusAndEditsTheResponse) {
  auto filters = chain(R"(
    function on_response(msg)
      msg:tag("status", msg.status .. " " .. msg.reason)
      msg:tag("method", msg.method)
      msg:set_header("X-Seen", "yes")
    end)");
  const Outcome outcome = runResponse(*filters);
  EXPECT_TRUE(outcome.verdict.isContinue());
  EXPECT_EQ(outcome.tag("status"), "486 Busy Here");
  EXPECT_EQ(outcome.tag("method"), "MESSAGE");
  EXPECT_NE(outcome.wire.find("X-Seen: yes\r\n"), std::string::npos) << outcome.wire;
}

TEST_F(LuaPolicyTest, ResponsesCannotBeAnswered) {
  auto filters = chain(R"(function on_response(msg) msg:reply(500, "no") end)");
  runResponse(*filters);
  EXPECT_EQ(counter(*filters, "script_errors"), 1u);
}

// ---- msg misuse -------------------------------------------------------------

TEST_F(LuaPolicyTest, AMsgKeptAfterItsCallIsRefused) {
  auto filters = chain(R"(
    local kept
    function on_request(msg)
      if kept then msg:tag("old", pcall(function() return kept.method end) and "readable" or "refused") end
      kept = msg
    end)");
  run(*filters);
  EXPECT_EQ(run(*filters).tag("old"), "refused");
}

TEST_F(LuaPolicyTest, AddressViewsAreBoundToTheirCall) {
  auto filters = chain(R"(
    local kept
    function on_request(msg)
      msg:tag("string", tostring(msg.to))
      msg:tag("typo", tostring(pcall(function() return msg.from.hots end)))
      msg:tag("assign", tostring(pcall(function() msg.from.user = "x" end)))
      msg:tag("mt", tostring(getmetatable(msg.from)))
      if kept then msg:tag("old", tostring(pcall(function() return kept.uri end))) end
      kept = msg.from
    end)");
  run(*filters);
  const Outcome second = run(*filters);
  EXPECT_EQ(second.tag("string"), "sip:bob@example.com");
  EXPECT_EQ(second.tag("typo"), "false");
  EXPECT_EQ(second.tag("assign"), "false");
  EXPECT_EQ(second.tag("mt"), "address");
  EXPECT_EQ(second.tag("old"), "false");
}

TEST_F(LuaPolicyTest, MetatableTricksOnMsgFail) {
  auto filters = chain(R"(
    function on_request(msg)
      msg:tag("mt", tostring(getmetatable(msg)))
      msg:tag("set", tostring(pcall(setmetatable, msg, {})))
      msg:tag("assign", tostring(pcall(function() msg.method = "INVITE" end)))
      msg:tag("rawset", tostring(pcall(rawset, msg, "method", "X")))
      msg:tag("method", msg.method)
    end)");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.tag("mt"), "msg");
  EXPECT_EQ(outcome.tag("set"), "false");
  EXPECT_EQ(outcome.tag("assign"), "false");
  EXPECT_EQ(outcome.tag("rawset"), "false");
  EXPECT_EQ(outcome.tag("method"), "MESSAGE");
}

// ---- sandbox ----------------------------------------------------------------

TEST_F(LuaPolicyTest, NoWayOutOfTheSandbox) {
  // Each probe would succeed if the function were there.
  const std::string harmless = write("harmless.lua", "return 42");
  auto filters = chain(R"(
    function on_request(msg)
      local probes = {
        os = function() return os.execute("true") end,
        io = function() return io.open("/etc/hostname") end,
        require = function() return require("string") end,
        dofile = function() return dofile(config.harmless) end,
        loadfile = function() return loadfile(config.harmless)() end,
        debug = function() return debug.getinfo(1) end,
        package = function() return package.loaded end,
        dump = function() return string.dump(on_request) end,
        string_mt = function() getmetatable("").__index = {} end,
        collect_env = function() return _ENV.os.exit end,
      }
      for name, probe in pairs(probes) do msg:tag(name, tostring((pcall(probe)))) end
      local chunk, loadError = load("\27Lua\84\0\25\147\r\n\26\n", "x", "b")
      msg:tag("bytecode", tostring(chunk) .. " " .. tostring(loadError))
      chunk, loadError = load("\27Lua\84\0\25\147\r\n\26\n")
      msg:tag("bytecode_default_mode", tostring(chunk) .. " " .. tostring(loadError))
      msg:tag("text_load", tostring(load("return 1 + 1")()))
    end)", "", R"(, "config": {"harmless": ")" + harmless + "\"}");
  const Outcome outcome = run(*filters);
  for (const char* name : {"os", "io", "require", "dofile", "loadfile", "debug", "package", "dump", "string_mt",
                           "collect_env"}) {
    EXPECT_EQ(outcome.tag(name), "false") << name;
  }
  EXPECT_NE(outcome.tag("bytecode").find("attempt to load a binary chunk"), std::string::npos) << outcome.tag("bytecode");
  EXPECT_NE(outcome.tag("bytecode_default_mode").find("attempt to load a binary chunk"), std::string::npos);
  EXPECT_EQ(outcome.tag("text_load"), "2");
}

TEST_F(LuaPolicyTest, AnEndlessLoopHitsTheBudgetAndOnlyThatMessageFails) {
  auto filters = chain(R"(
    function on_request(msg)
      if msg:header("X-Loop") then while true do end end
      msg:tag("ran", "yes")
    end)",
                       R"(, "instruction_budget": 100000, "fail_mode": "closed", "fail_code": 503)");
  const Outcome looping = run(*filters, message("hello", "text/plain", "X-Loop: 1\r\n"));
  ASSERT_EQ(looping.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(looping.verdict.code(), 503);
  EXPECT_EQ(counter(*filters, "budget_exceeded"), 1u);
  const Outcome next = run(*filters);
  EXPECT_TRUE(next.verdict.isContinue());
  EXPECT_EQ(next.tag("ran"), "yes");
}

TEST_F(LuaPolicyTest, MemoryBombsHitTheCapAndTheStateRecovers) {
  auto filters = chain(R"(
    function on_request(msg)
      local kind = msg:header("X-Bomb")
      if kind == "rep" then local s = string.rep("x", 1 << 30) end
      if kind == "table" then local t = {} for i = 1, 1e9 do t[i] = i end end
      if kind == "concat" then local s = "x" while true do s = s .. s end end
      msg:tag("ran", "yes")
    end)",
                       R"(, "memory_limit_kb": 4096, "instruction_budget": 100000000, "deadline_ms": 10000)");
  for (const char* kind : {"rep", "table", "concat"}) {
    const Outcome bomb = run(*filters, message("hello", "text/plain", std::string("X-Bomb: ") + kind + "\r\n"));
    EXPECT_TRUE(bomb.verdict.isContinue()) << kind;
    EXPECT_EQ(bomb.tag("ran"), "<none>") << kind;
  }
  EXPECT_EQ(counter(*filters, "memory_exceeded"), 3u);
  EXPECT_EQ(run(*filters).tag("ran"), "yes");
}

// ---- the sw module -------------------------------------------------------------

TEST_F(LuaPolicyTest, RegularExpressions) {
  auto filters = chain(R"(
    function on_request(msg)
      msg:tag("match", sw.re.match("order 12345 shipped", "[0-9]+"))
      local user, host = sw.re.match("alice@example.com", "^([^@]+)@(.+)$")
      msg:tag("groups", user .. "," .. host)
      msg:tag("nomatch", tostring(sw.re.match("abc", "[0-9]")))
      local s, e = sw.re.find("say hello", "hel+o")
      msg:tag("find", s .. "-" .. e)
      msg:tag("find_init", tostring(sw.re.find("aXbX", "X", 3)))
      local out, n = sw.re.gsub("a1b22c", "[0-9]+", "<\\0>")
      msg:tag("gsub", out .. "/" .. n)
      msg:tag("case", tostring(sw.re.match("SECRET", "(?i)secret") ~= nil))
      msg:tag("bad", tostring(pcall(sw.re.match, "x", "(")))
    end)");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.tag("match"), "12345");
  EXPECT_EQ(outcome.tag("groups"), "alice,example.com");
  EXPECT_EQ(outcome.tag("nomatch"), "nil");
  EXPECT_EQ(outcome.tag("find"), "5-9");
  EXPECT_EQ(outcome.tag("find_init"), "4");
  EXPECT_EQ(outcome.tag("gsub"), "a<1>b<22>c/2");
  EXPECT_EQ(outcome.tag("case"), "true");
  EXPECT_EQ(outcome.tag("bad"), "false");
}

TEST_F(LuaPolicyTest, GroupsFromConfigAndFile) {
  const std::string file = write("groups.json", R"({"research": ["@research.example.com"]})");
  auto filters = chain(R"(
    function on_request(msg)
      msg:tag("alice", tostring(sw.groups.member(msg.from.uri, "legal")))
      msg:tag("named", tostring(sw.groups.member('"Carol" <sip:carol@EXAMPLE.com;transport=tcp>', "legal")))
      msg:tag("sub", tostring(sw.groups.member("sip:dan@lab.research.example.com", "research")))
      msg:tag("other", tostring(sw.groups.member("sip:eve@example.org", "research")))
      msg:tag("unknown", tostring(pcall(sw.groups.member, "sip:a@b", "nope")))
    end)",
                       R"(, "groups": {"legal": ["sip:alice@example.com", "carol@example.com"]}, "groups_file": ")" +
                           file + "\"");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.tag("alice"), "true");
  EXPECT_EQ(outcome.tag("named"), "true");
  EXPECT_EQ(outcome.tag("sub"), "true");
  EXPECT_EQ(outcome.tag("other"), "false");
  EXPECT_EQ(outcome.tag("unknown"), "false");
}

TEST_F(LuaPolicyTest, StatePersistsAndSharedCountsWithExpiry) {
  auto filters = chain(R"(
    function on_request(msg)
      sw.state.calls = (sw.state.calls or 0) + 1
      msg:tag("calls", sw.state.calls)
      msg:tag("incr", sw.shared.incr("lua-test-counter", 2, 60))
      sw.shared.set("lua-test-name", "x", 60)
      msg:tag("get", sw.shared.get("lua-test-name"))
      sw.shared.set("lua-test-gone", 1, 0.001)
      msg:tag("missing", tostring(sw.shared.get("lua-test-nothing")))
      msg:tag("string_incr", tostring(pcall(sw.shared.incr, "lua-test-name")))
    end)");
  run(*filters);
  const Outcome second = run(*filters);
  EXPECT_EQ(second.tag("calls"), "2");
  EXPECT_EQ(second.tag("incr"), "4.0");
  EXPECT_EQ(second.tag("get"), "x");
  EXPECT_EQ(second.tag("missing"), "nil");
  EXPECT_EQ(second.tag("string_incr"), "false");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // "lua-test-gone" lived 1 ms
  auto again = chain(R"(
    function on_request(msg)
      msg:tag("gone", tostring(sw.shared.get("lua-test-gone")))
      msg:tag("counter", sw.shared.get("lua-test-counter"))
      sw.shared.delete("lua-test-counter")
      msg:tag("deleted", tostring(sw.shared.get("lua-test-counter")))
    end)");
  const Outcome reloaded = run(*again);  // a new chain (a reload) sees the same store
  EXPECT_EQ(reloaded.tag("gone"), "nil");
  EXPECT_EQ(reloaded.tag("counter"), "4.0");
  EXPECT_EQ(reloaded.tag("deleted"), "nil");
}

TEST_F(LuaPolicyTest, UriParseNowAndLog) {
  auto filters = chain(R"(
    function on_request(msg)
      local u = sw.uri.parse('"Bob" <sips:bob@[2001:db8::1]:5061;transport=tls;lr>')
      msg:tag("uri", u.display .. "|" .. u.scheme .. "|" .. u.user .. "|" .. u.host .. "|" .. u.port .. "|"
              .. u.params.transport .. "|" .. tostring(u.params.lr) .. "|" .. u.aor)
      msg:tag("tel", sw.uri.parse("tel:+15551234").user)
      msg:tag("bad", tostring(sw.uri.parse("mailto:x@y")))
      msg:tag("now", tostring(sw.now() > 1.7e9))
      sw.log("info", "checked", 1, true)
      msg:tag("badlevel", tostring(pcall(sw.log, "loud", "x")))
    end)");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.tag("uri"), "Bob|sips|bob|[2001:db8::1]|5061|tls||bob@[2001:db8::1]");
  EXPECT_EQ(outcome.tag("tel"), "+15551234");
  EXPECT_EQ(outcome.tag("bad"), "nil");
  EXPECT_EQ(outcome.tag("now"), "true");
  EXPECT_EQ(outcome.tag("badlevel"), "false");
}

TEST(LuaUri, ParsesTheFormsPoliciesMeet) {
  auto plain = plugins::lua_policy::parseUri("sip:Alice@Example.COM");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->aor(), "Alice@example.com");
  auto hostOnly = plugins::lua_policy::parseUri("sip:proxy.example.com:5070;lr");
  ASSERT_TRUE(hostOnly);
  EXPECT_EQ(hostOnly->aor(), "proxy.example.com");
  EXPECT_EQ(hostOnly->port, 5070);
  auto token = plugins::lua_policy::parseUri("Bob Smith <sip:bob@example.com?Subject=x>;tag=1");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->display, "Bob Smith");
  EXPECT_EQ(token->aor(), "bob@example.com");
  auto escaped = plugins::lua_policy::parseUri(R"("Dr. \"Who\"" <sips:who@tardis.example>)");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(escaped->display, R"(Dr. "Who")");
  for (const char* bad : {"", "alice@example.com", "mailto:a@b", "sip:", "sip:a@", "sip:a@b:99999", "sip:a@b:5x",
                          "<sip:a@b", "\"unterminated <sip:a@b>", "sip:[::1"}) {
    EXPECT_FALSE(plugins::lua_policy::parseUri(bad)) << bad;
  }
}

// ---- config and chaining -------------------------------------------------------

TEST_F(LuaPolicyTest, EachScriptGetsItsOwnConfigTable) {
  const std::string first = write("first.lua", R"(function on_request(msg) msg:tag("first", config.word) end)");
  const std::string second = write("second.lua", R"(
    function on_request(msg)
      if msg.text:find(config.words[2], 1, true) then msg:reject(403, config.reason) end
    end)");
  auto filters = test_support::chainWith(plugins::lua_policy::descriptor(), R"([{"plugin": "lua_policy", "scripts": [
      {"file": ")" + first + R"(", "config": {"word": "alpha"}},
      {"file": ")" + second + R"(", "config": {"words": ["x", "hello"], "reason": "No greetings"}}]}])");
  const Outcome outcome = run(*filters);
  EXPECT_EQ(outcome.tag("first"), "alpha");
  ASSERT_EQ(outcome.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(outcome.verdict.reason(), "No greetings");
  EXPECT_EQ(outcome.verdict.headers()[0].second, "399 sipwarden \"second.lua: No greetings\"");
}

TEST_F(LuaPolicyTest, MethodsLimitWhatTheScriptSees) {
  auto filters = chain(R"(function on_request(msg) msg:drop() end)", R"(, "methods": ["INVITE"])");
  EXPECT_TRUE(run(*filters).verdict.isContinue());
}

TEST_F(LuaPolicyTest, ConfigErrorsNameTheKeyAndTheLine) {
  EXPECT_NE(error("function on_request(msg)\n  if then end\nend").find("plugins[0].scripts[0].file: "),
            std::string::npos);
  EXPECT_NE(error("function on_request(msg)\n  if then end\nend").find("policy.lua:2:"), std::string::npos);
  EXPECT_NE(error("local x = nil\nx.y = 1\nfunction on_request(msg) end").find("policy.lua:2:"), std::string::npos);
  EXPECT_NE(error("x = 1").find("defines neither on_request(msg) nor on_response(msg)"), std::string::npos);
  EXPECT_NE(error("on_request = 5").find("on_request is a number"), std::string::npos);
  EXPECT_NE(error("while true do end function on_request() end", R"(, "instruction_budget": 5000)")
                .find("policy.lua:1: instruction budget of 5000 exceeded"),
            std::string::npos);
  EXPECT_NE(error("function on_request() end", "", R"(, "bogus": 1)").find("plugins[0].scripts[0].bogus: unknown key"),
            std::string::npos);
  EXPECT_NE(error("function on_request() end", "", R"(, "config": 5)").find("plugins[0].scripts[0].config: expected an object"),
            std::string::npos);
  EXPECT_NE(error("function on_request() end", R"(, "groups": {"g": ["not an address"]})").find("plugins[0].groups: "),
            std::string::npos);
  EXPECT_NE(error("function on_request() end", R"(, "methods": ["FLY"])").find("plugins[0].methods: unknown method FLY"),
            std::string::npos);
  EXPECT_NE(test_support::chainError(plugins::lua_policy::descriptor(), R"([{"plugin": "lua_policy", "scripts": []}])")
                .find("plugins[0].scripts: at least one script"),
            std::string::npos);
  EXPECT_NE(test_support::chainError(plugins::lua_policy::descriptor(),
                                     R"([{"plugin": "lua_policy", "scripts": [{"file": "/nonexistent/p.lua"}]}])")
                .find("cannot open /nonexistent/p.lua"),
            std::string::npos);
}

TEST_F(LuaPolicyTest, ScriptFilesAreWatched) {
  auto filters = chain("function on_request(msg) end");
  ASSERT_EQ(filters->entries()[0].watchedFiles.size(), 1u);
  EXPECT_EQ(filters->changedFile(), "");
  const std::string path = filters->entries()[0].watchedFiles[0].path;
  std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) + std::chrono::seconds(5));
  EXPECT_EQ(filters->changedFile(), path);
}

}  // namespace
}  // namespace sipwarden::pipeline
