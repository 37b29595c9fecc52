// lua_policy's cost per message through the chain, exchange included: an
// empty chain (the baseline to subtract), a script that reads one header
// and returns, and the ethical-wall example with two walled groups. The
// issue's targets: under 2 us and under 5 us per message.
//   build/release/bench/lua_policy_bench
#include <benchmark/benchmark.h>

#include <Poco/JSON/Parser.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pipeline/loader.h"
#include "pipeline/message_path.h"

namespace sipwarden::plugins {
namespace lua_policy { const PluginDescriptor* descriptor(); }
}

namespace {

using namespace sipwarden;

const std::string kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK0msg1a2b3c\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@research.example.com>;tag=49583\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: a84b4c76e66711@192.0.2.10\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "User-Agent: bench\r\n"
    "Content-Type: text/plain;charset=UTF-8\r\n"
    "Content-Length: 5\r\n\r\nhello";

std::string scriptFile(const std::string& name, const std::string& source) {
  const auto path = std::filesystem::temp_directory_path() / ("lua_bench." + std::to_string(getpid()) + "." + name);
  std::ofstream(path) << source;
  return path.string();
}

std::shared_ptr<const pipeline::FilterChain> chainOf(const std::string& json) {
  pipeline::registerBuiltinPlugin(plugins::lua_policy::descriptor());
  return pipeline::buildChain(Poco::JSON::Parser().parse(json).extract<Poco::JSON::Array::Ptr>(), {});
}

void run(benchmark::State& state, const pipeline::FilterChain& chain) {
  sip::ParseFailure failure;
  auto message = sip::Message::parse(kMessage, sip::Framing::Datagram, failure);
  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  for (auto _ : state) {
    pipeline::MessagePath path(chain, *message, origin, Direction::FromClient);
    Verdict verdict = path.run();
    if (!verdict.isContinue()) state.SkipWithError("the policy refused the benchmark message");
    benchmark::DoNotOptimize(verdict);
  }
  state.SetItemsProcessed(state.iterations());
}

void emptyChain(benchmark::State& state) { run(state, *chainOf("[]")); }

void readOneHeader(benchmark::State& state) {
  const std::string script = scriptFile("one_header.lua", R"(
    function on_request(msg)
      if msg:header("User-Agent") == "blocked-client" then msg:reject(403, "client not allowed") end
    end)");
  run(state, *chainOf(R"([{"plugin": "lua_policy", "scripts": [{"file": ")" + script + R"("}]}])"));
  std::filesystem::remove(script);
}

void ethicalWall(benchmark::State& state) {
  run(state, *chainOf(R"([{"plugin": "lua_policy",
      "groups": {"research": ["@research.example.com", "sip:rita@example.com"],
                 "trading": ["@trading.example.com", "sip:tom@example.com"]},
      "scripts": [{"file": ")" SIPWARDEN_SOURCE_DIR R"(/examples/policies/ethical_wall.lua",
                   "config": {"walls": [["research", "trading"]]}}]}])"));
}

// The trim idiom msg.text:match("^%s*(.-)%s*$") on a 2 KB message, and on
// the text of issue 16 ("x", 60 KB of spaces, "y"; 21 s per message before
// library calls paid for their work). The padded case ends at the default
// budget, and the chain's fail mode (open) passes the message: what is
// measured is how long an attacker's message can hold the thread.
void trimIdiom(benchmark::State& state, const std::string& text) {
  const std::string script = scriptFile("trim.lua", R"(
    function on_request(msg)
      local trimmed = msg.text:match("^%s*(.-)%s*$")
      if trimmed == "blocked" then msg:reject(403, "blocked") end
    end)");
  // time_share_percent 100: no shedding, so that every message runs the script.
  const auto chain = chainOf(R"([{"plugin": "lua_policy", "time_share_percent": 100, "scripts": [{"file": ")" + script +
                             R"("}]}])");
  const std::string wire = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                           "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK0trim\r\n"
                           "Max-Forwards: 70\r\n"
                           "From: <sip:alice@example.com>;tag=49583\r\n"
                           "To: <sip:bob@example.com>\r\n"
                           "Call-ID: trim@192.0.2.10\r\n"
                           "CSeq: 1 MESSAGE\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Length: " + std::to_string(text.size()) + "\r\n\r\n" + text;
  sip::ParseFailure failure;
  auto message = sip::Message::parse(wire, sip::Framing::Stream, failure);
  if (!message) {
    state.SkipWithError("the benchmark message does not parse");
    return;
  }
  const transport::Origin origin{transport::Protocol::Tcp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  for (auto _ : state) {
    pipeline::MessagePath path(*chain, *message, origin, Direction::FromClient);
    benchmark::DoNotOptimize(path.run());
  }
  state.SetItemsProcessed(state.iterations());
  // Which messages failed, and how: the padded case should show every one
  // as budget_exceeded.
  for (const auto& [name, count] : chain->entries()[0].counters->named) {
    state.counters[name] = static_cast<double>(count) / static_cast<double>(state.iterations());
  }
  std::filesystem::remove(script);
}

std::string ordinaryText() {
  std::string text;
  while (text.size() < 2000) text += "Please call me at 555-123-4567 about the merger, ok? ";
  return text;
}

BENCHMARK(emptyChain);
BENCHMARK(readOneHeader);
BENCHMARK(ethicalWall);
BENCHMARK_CAPTURE(trimIdiom, ordinary2KB, ordinaryText());
BENCHMARK_CAPTURE(trimIdiom, padded60KB, "x" + std::string(60 * 1024, ' ') + "y")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
