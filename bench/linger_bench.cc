// What a lingering transaction costs, without sockets or SIPp: MESSAGE
// transactions driven straight through Proxy (a sender that keeps only the
// last message, a manual clock at 5,000 transactions/s, default 5 s linger),
// each answered 200 at once. Prints the proxy's CPU per transaction (thread
// CPU time inside onMessage and runTimers) and, at the end, the heap in use
// (glibc mallinfo2: small chunks plus mmapped ones such as the timer queue's
// vector) divided by the transactions alive: nearly all of them are
// lingering, and the heap holds little else.
//
//   build/release/bench/linger_bench [TRANSACTIONS]   (default 500000)
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "proxy/proxy.h"

namespace {

using namespace sipwarden;
using namespace sipwarden::proxy;

class LastOnly final : public transport::Sender {
 public:
  void send(const transport::Target&, std::string_view bytes) override { last.assign(bytes); }
  std::string last;
};

double threadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::atol(argv[1]) : 500000;
  LastOnly sender;
  ManualClock clock;
  ProxyConfig config;
  config.upstreams = {{"127.0.0.1", 5080, transport::Protocol::Udp}};
  Proxy proxy(config, sender, clock);
  const transport::Origin caller{transport::Protocol::Udp, Poco::Net::SocketAddress("127.0.0.1", 5070), 0};
  const transport::Origin upstream{transport::Protocol::Udp, Poco::Net::SocketAddress("127.0.0.1", 5080), 0};
  double spent = 0;
  std::size_t peak = 0;
  for (long i = 0; i < count; ++i) {
    const std::string n = std::to_string(i);
    const std::string ids = "From: <sip:alice@example.com>;tag=a" + n + "\r\nTo: <sip:bob@example.com>";
    const std::string tail = "\r\nCall-ID: call-" + n + "@example.com\r\nCSeq: 1 MESSAGE\r\n";
    const std::string request = "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-" +
                                n + ";rport\r\nMax-Forwards: 70\r\n" + ids + tail +
                                "Content-Type: text/plain\r\nContent-Length: 20\r\n\r\nhello hello hello!!!";
    double start = threadCpuSeconds();
    proxy.onMessage(request, caller);
    spent += threadCpuSeconds() - start;

    const std::string& forwarded = sender.last;
    const std::size_t via = forwarded.find("Via: ");
    const std::string ourVia = forwarded.substr(via, forwarded.find("\r\n", via) - via);
    const std::string response = "SIP/2.0 200 OK\r\n" + ourVia + "\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-" + n +
                                 ";rport=5070;received=127.0.0.1\r\n" + ids + ";tag=b" + tail + "Content-Length: 0\r\n\r\n";
    start = threadCpuSeconds();
    proxy.onMessage(response, upstream);
    if (i % 5 == 4) {
      clock.advance(Millis(1));
      proxy.runTimers();
    }
    spent += threadCpuSeconds() - start;
    peak = std::max(peak, proxy.transactionCount());
  }
  const struct mallinfo2 info = mallinfo2();
  const double inUse = static_cast<double>(info.uordblks + info.hblkhd);
  std::printf("transactions: %ld; proxy CPU per transaction: %.2f us\n", count, spent / static_cast<double>(count) * 1e6);
  std::printf("alive at the end: %zu (peak %zu); heap in use: %.1f MB, %.0f bytes per transaction alive\n",
              proxy.transactionCount(), peak, inUse / 1e6,
              inUse / static_cast<double>(std::max<std::size_t>(1, proxy.transactionCount())));
  return 0;
}
