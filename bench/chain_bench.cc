// Filter chain overhead: what the chain itself costs per message with N
// plugins that do nothing (the budget: 8 no-op plugins under 200 ns
// per message). The message is parsed once; each iteration binds a fresh
// exchange to it and runs the chain, as the proxy does per transaction.
//   build/release/bench/chain_bench
#include <benchmark/benchmark.h>

#include <Poco/Net/SocketAddress.h>

#include "pipeline/message_path.h"

namespace {

using namespace sipwarden;

class NoOp final : public Filter {
 public:
  Verdict onRequest(Exchange&) override { return Verdict::proceed(); }
};

const std::string kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK0msg1a2b3c\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=49583\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: a84b4c76e66711@192.0.2.10\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n\r\nhello";

std::shared_ptr<const pipeline::FilterChain> noOpChain(int plugins) {
  std::vector<pipeline::ChainEntry> entries;
  for (int i = 0; i < plugins; ++i) {
    pipeline::ChainEntry entry;
    entry.name = "noop" + std::to_string(i);
    entry.label = entry.name;
    entry.filter = std::make_unique<NoOp>();
    entry.methods = MethodSet::all().bits();
    entries.push_back(std::move(entry));
  }
  return std::make_shared<const pipeline::FilterChain>(std::move(entries));
}

void chainOverhead(benchmark::State& state) {
  const auto chain = noOpChain(static_cast<int>(state.range(0)));
  sip::ParseFailure failure;
  auto message = sip::Message::parse(kMessage, sip::Framing::Datagram, failure);
  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  for (auto _ : state) {
    pipeline::MessagePath path(*chain, *message, origin, Direction::FromClient);
    Verdict verdict = path.run();
    benchmark::DoNotOptimize(verdict);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(chainOverhead)->Arg(0)->Arg(1)->Arg(8);

}  // namespace

BENCHMARK_MAIN();
