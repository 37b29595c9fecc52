// Parser micro-benchmarks: framing plus header index of a realistic INVITE
// and MESSAGE, then the structured headers a proxy reads, then the proxy's
// forward path (prepend a Via, replace Max-Forwards, serialize).
//
// Each iteration parses a fresh std::string copy, as the transport would hand
// over a received datagram. Run:
//   build/<dir>/bench/parser_bench --benchmark_min_time=1s

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sip/edit_list.h"
#include "sip/message.h"

namespace {

using namespace sipwarden::sip;
using namespace std::string_view_literals;

// 600 bytes: 425 bytes of headers and a 175-byte SDP body.
constexpr std::string_view kInvite =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.10:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE\r\n"
    "User-Agent: bench-ua/1.0\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 175\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"sv;
static_assert(kInvite.size() == 600);

// 400 bytes: 298 bytes of headers and a 102-byte text/plain body.
constexpr std::string_view kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK0msg1a2b3c\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=49583\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: a84b4c76e66711@192.0.2.10\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Type: text/plain;charset=UTF-8\r\n"
    "Content-Length: 102\r\n"
    "\r\n"
    "hello Bob, the build is done. The release notes are on the wiki; "
    "ping me if the deploy window moves.\r\n"sv;
static_assert(kMessage.size() == 400);

std::unique_ptr<Message> parseOrDie(std::string_view wire, benchmark::State& state) {
  ParseFailure failure;
  auto message = Message::parse(std::string(wire), Framing::Datagram, failure);
  if (!message || !failure.reason.empty()) {
    state.SkipWithError("sample message did not parse");
    return nullptr;
  }
  return message;
}

// Framing and header index only.
void parseIndex(benchmark::State& state, std::string_view wire) {
  for (auto _ : state) {
    auto message = parseOrDie(wire, state);
    if (!message) break;
    benchmark::DoNotOptimize(message.get());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

// Plus the structured headers the proxy reads on every request.
void parseStructured(benchmark::State& state, std::string_view wire) {
  for (auto _ : state) {
    auto message = parseOrDie(wire, state);
    if (!message) break;
    std::optional<unsigned> maxForwards;
    const bool ok = message->topVia() && message->from() && message->to() && message->cseq() &&
                    message->parsedRequestUri() && message->readMaxForwards(maxForwards);
    if (!ok) {
      state.SkipWithError(message->structureError().c_str());
      break;
    }
    benchmark::DoNotOptimize(maxForwards);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

// The forward path: parse, read what routing needs, prepend our Via,
// decrement Max-Forwards and write the message out.
// Returns the forwarded bytes, or an empty string when the message lacks
// what the proxy needs.
std::string forward(const Message& message) {
  std::optional<unsigned> maxForwards;
  if (!message.topVia() || !message.parsedRequestUri() || !message.readMaxForwards(maxForwards) ||
      !maxForwards) {
    return {};
  }
  EditList edits;
  edits.prepend("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-sw-0123456789abcdef");
  const auto& headers = message.headers();
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (headers[i].id == HeaderId::MaxForwards) {
      edits.replaceValue(i, std::to_string(*maxForwards - 1));
      break;
    }
  }
  return serialize(message, edits);
}

void parseForward(benchmark::State& state, std::string_view wire) {
  // Check once, outside the timed loop, that the edits land where expected.
  if (auto message = parseOrDie(wire, state)) {
    const std::string out = forward(*message);
    if (out.find("\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;") == std::string::npos ||
        out.find("\r\nMax-Forwards: 69\r\n") == std::string::npos) {
      state.SkipWithError("forwarded message lacks the new Via or Max-Forwards");
    }
  }
  for (auto _ : state) {
    auto message = parseOrDie(wire, state);
    if (!message) break;
    std::string out = forward(*message);
    if (out.empty()) {
      state.SkipWithError("structured headers missing");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

BENCHMARK_CAPTURE(parseIndex, invite_600B, kInvite);
BENCHMARK_CAPTURE(parseIndex, message_400B, kMessage);
BENCHMARK_CAPTURE(parseStructured, invite_600B, kInvite);
BENCHMARK_CAPTURE(parseStructured, message_400B, kMessage);
BENCHMARK_CAPTURE(parseForward, invite_600B, kInvite);
BENCHMARK_CAPTURE(parseForward, message_400B, kMessage);

}  // namespace

BENCHMARK_MAIN();
