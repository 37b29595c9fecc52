// The four IM content filters together (url_filter, file_filter, banner,
// keyword) on a 400-byte MESSAGE, without links and with two links: what
// each new request costs in the chain, edits rendered into the outgoing
// bytes included. The issue's targets: 500,000 messages/s on one core
// without links, 200,000/s with two links.
//   build/release/bench/im_filters_bench
// With IM_BENCH_ITERATIONS=N each case runs exactly N messages, once, for
// instruction counts that do not depend on timing:
//   IM_BENCH_ITERATIONS=2000 valgrind --tool=callgrind build/release/bench/im_filters_bench
// and the same with 4000: (Ir(4000) - Ir(2000)) / 2000 is the cost of one
// message, set-up (RE2 compilation) cancelled out.
#include <cstdlib>
#include <utility>

#include <benchmark/benchmark.h>

#include <Poco/JSON/Parser.h>

#include "pipeline/loader.h"
#include "sip/edit_list.h"

namespace sipwarden::plugins {
const PluginDescriptor* url_filter();
const PluginDescriptor* file_filter();
const PluginDescriptor* banner();
const PluginDescriptor* keyword();
}  // namespace sipwarden::plugins

namespace {

using namespace sipwarden;

std::string message400(const std::string& text) {
  std::string head =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK0msg1a2b3c\r\n"
      "Max-Forwards: 70\r\n"
      "From: <sip:alice@example.com>;tag=49583\r\n"
      "To: <sip:bob@example.com>\r\n"
      "Call-ID: a84b4c76e66711@192.0.2.10\r\n"
      "CSeq: 1 MESSAGE\r\n"
      "Content-Type: text/plain;charset=UTF-8\r\n";
  std::string body = text;
  while (head.size() + body.size() + 25 < 400) body += " and more words";
  return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::shared_ptr<const pipeline::FilterChain> imChain() {
  for (auto* descriptor : {plugins::url_filter(), plugins::file_filter(), plugins::banner(), plugins::keyword()}) {
    pipeline::registerBuiltinPlugin(descriptor);
  }
  Poco::JSON::Parser parser;
  auto plugins = parser
                     .parse(R"([
      {"plugin": "file_filter"},
      {"plugin": "url_filter", "action": "defang", "allow_intranet": ["example.com"]},
      {"plugin": "keyword", "name": "cards", "action": "flag", "template": "payment_card"},
      {"plugin": "banner", "text": "Messages are archived.", "scope": "external_recipient",
       "internal_domains": ["example.com"]}])")
                     .extract<Poco::JSON::Array::Ptr>();
  return pipeline::buildChain(plugins, {});
}

void run(benchmark::State& state, const std::string& text) {
  const auto chain = imChain();
  sip::ParseFailure failure;
  auto message = sip::Message::parse(message400(text), sip::Framing::Datagram, failure);
  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  std::size_t bytes = 0;
  for (auto _ : state) {
    pipeline::CoreExchange exchange(origin, Direction::FromClient);
    exchange.bind(*message);
    Verdict verdict = chain->runRequest(exchange);
    sip::EditList edits;
    exchange.applyTo(edits);
    if (exchange.edited()) bytes += sip::serialize(*message, edits).size();
    benchmark::DoNotOptimize(verdict);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["edited_bytes"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}

void noLinks(benchmark::State& state) { run(state, "Hi Bob, the stand-up moved to 10:30 today. Same room as last week"); }
void twoLinks(benchmark::State& state) {
  run(state, "Notes: http://docs.fabrikam.com/release/4.2/notes.html and https://tracker.fabrikam.org/issues?x=1");
}
}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* fixed = std::getenv("IM_BENCH_ITERATIONS");
  const long iterations = fixed != nullptr ? std::atol(fixed) : 0;
  for (auto [name, function] : {std::pair{"noLinks", &noLinks}, std::pair{"twoLinks", &twoLinks}}) {
    auto* benchmark = benchmark::RegisterBenchmark(name, function);
    if (iterations > 0) benchmark->Iterations(iterations)->Repetitions(1);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
