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
//
// The adversarial cases (issue 16) send the same chain bodies built to find
// superlinear work, each at 64 KiB and at 512 KiB: a filter that is linear in
// the body takes 8 times as long on the larger one, a quadratic one 64 times.
//   build/release/bench/im_filters_bench --benchmark_filter=adversarial
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include <benchmark/benchmark.h>

#include <Poco/JSON/Parser.h>

#include "im/decoding.h"
#include "pipeline/loader.h"
#include "pipeline/message_path.h"
#include "sip/edit_list.h"

namespace sipwarden::plugins {
namespace url_filter { const PluginDescriptor* descriptor(); }
namespace file_filter { const PluginDescriptor* descriptor(); }
namespace banner { const PluginDescriptor* descriptor(); }
namespace keyword { const PluginDescriptor* descriptor(); }
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
  for (auto* descriptor : {plugins::url_filter::descriptor(), plugins::file_filter::descriptor(), plugins::banner::descriptor(), plugins::keyword::descriptor()}) {
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
    pipeline::MessagePath path(*chain, *message, origin, Direction::FromClient);
    Verdict verdict = path.run();
    if (path.exchange().edited()) bytes += path.serialize().size();
    benchmark::DoNotOptimize(verdict);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["edited_bytes"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}

// A MESSAGE (or an INVITE) with `contentType` and `body` as they are.
std::string requestWith(std::string_view method, std::string_view contentType, const std::string& body) {
  std::string head = std::string(method) + " sip:bob@example.com SIP/2.0\r\n" +
                     "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK0adv1a2b3c\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:alice@example.com>;tag=49583\r\n"
                     "To: <sip:bob@fabrikam.com>\r\n"
                     "Call-ID: a84b4c76e66711@192.0.2.10\r\n"
                     "CSeq: 1 " + std::string(method) + "\r\n"
                     "Content-Type: " + std::string(contentType) + "\r\n";
  return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string repeated(std::string_view unit, std::size_t bytes) {
  std::string out;
  out.reserve(bytes + unit.size());
  while (out.size() < bytes) out += unit;
  return out;
}

void runRaw(benchmark::State& state, const std::string& wire) {
  const auto chain = imChain();
  sip::ParseFailure failure;
  auto message = sip::Message::parse(wire, sip::Framing::Datagram, failure);
  if (!message) {
    state.SkipWithError("the adversarial message does not parse");
    return;
  }
  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  for (auto _ : state) {
    pipeline::MessagePath path(*chain, *message, origin, Direction::FromClient);
    Verdict verdict = path.run();
    if (path.exchange().edited()) benchmark::DoNotOptimize(path.serialize().size());
    benchmark::DoNotOptimize(verdict);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(wire.size()));
}

// The body size of an adversarial case, from its argument (KiB).
std::size_t bodyBytes(const benchmark::State& state) { return static_cast<std::size_t>(state.range(0)) * 1024; }

// One link as long as the body: "http://a.http://a.http://a...".
void adversarialLongLink(benchmark::State& state) {
  runRaw(state, requestWith("MESSAGE", "text/plain", repeated("http://a.", bodyBytes(state))));
}
// As many short links as fit.
void adversarialManyLinks(benchmark::State& state) {
  runRaw(state, requestWith("MESSAGE", "text/plain", repeated("a.co/x ", bodyBytes(state))));
}
// HTML of '&' without ';': each one was a search for ';' to the end.
void adversarialAmpersands(benchmark::State& state) {
  runRaw(state,
         requestWith("MESSAGE", "text/html", "<a href=\"http://b.co/\">x</a>" + repeated("&", bodyBytes(state))));
}
// Digit groups that keep the payment-card template looking.
void adversarialDigits(benchmark::State& state) {
  runRaw(state, requestWith("MESSAGE", "text/plain", repeated("4111 1111 1111 1112 ", bodyBytes(state))));
}
// A file name of ':'-separated pieces, each with its own extension.
void adversarialFileName(benchmark::State& state) {
  std::string name;
  for (std::size_t i = 0; name.size() < bodyBytes(state); ++i) name += "a.x" + std::to_string(i) + ":";
  runRaw(state, requestWith("MESSAGE", "application/sdp",
                            "v=0\r\na=file-selector:name:\"" + name + "\" type:text/plain size:10\r\n"));
}
// A 4 KiB multipart boundary of '-' (then "x") over a body of '-': a
// delimiter search that compares the whole delimiter at every '-' costs the
// body's length times 4 KiB.
void adversarialBoundary(benchmark::State& state) {
  const std::string boundary = std::string(4095, '-') + "x";
  runRaw(state, requestWith("MESSAGE", "multipart/mixed; boundary=" + boundary,
                            "--" + boundary + "\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
                                repeated("-", bodyBytes(state)) + "\r\n--" + boundary + "--\r\n"));
}

// The same with a boundary as long as half the body: the delimiter search
// is then quadratic in the message unless it is linear in both.
void adversarialLongBoundary(benchmark::State& state) {
  const std::string boundary = std::string(bodyBytes(state) / 2, '-') + "x";
  runRaw(state, requestWith("MESSAGE", "multipart/mixed; boundary=" + boundary,
                            "--" + boundary + "\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
                                repeated("-", bodyBytes(state) / 2) + "\r\n--" + boundary + "--\r\n"));
}

void noLinks(benchmark::State& state) { run(state, "Hi Bob, the stand-up moved to 10:30 today. Same room as last week"); }
void twoLinks(benchmark::State& state) {
  run(state, "Notes: http://docs.fabrikam.com/release/4.2/notes.html and https://tracker.fabrikam.org/issues?x=1");
}
// ---- the body reader's decodings (issue 17): the twoLinks text in each form

const std::string kDecodedText =
    "Notes: http://docs.fabrikam.com/release/4.2/notes.html and https://tracker.fabrikam.org/issues?x=1 "
    "and more words and more words and more words";

std::string withHeaders(std::string_view contentType, std::string_view extraHeaders, const std::string& body) {
  std::string wire = requestWith("MESSAGE", contentType, body);
  const std::size_t at = wire.find("Content-Length:");
  return wire.insert(at, extraHeaders);
}

std::string base64Of(std::string_view bytes) {
  std::string out = im::encodeTransfer(im::TransferEncoding::Base64, bytes);
  out.erase(std::remove_if(out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }), out.end());
  return out;
}

void decodedPlain(benchmark::State& state) { runRaw(state, requestWith("MESSAGE", "text/plain;charset=UTF-8", kDecodedText)); }
void decodedGzip(benchmark::State& state) {
  runRaw(state, withHeaders("text/plain;charset=UTF-8", "Content-Encoding: gzip\r\n",
                            im::encodeContent(im::ContentEncoding::Gzip, kDecodedText)));
}
void decodedBase64Part(benchmark::State& state) {
  runRaw(state, requestWith("MESSAGE", "multipart/mixed; boundary=b",
                            "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                                base64Of(kDecodedText) + "\r\n--b--\r\n"));
}
void decodedUtf16(benchmark::State& state) {
  std::string utf16 = "\xff\xfe";
  for (char c : kDecodedText) utf16 += std::string(1, c) + std::string(1, '\0');
  runRaw(state, requestWith("MESSAGE", "text/plain; charset=utf-16", utf16));
}
void decodedLatin1(benchmark::State& state) {
  runRaw(state, requestWith("MESSAGE", "text/plain; charset=iso-8859-1", kDecodedText + " caf\xe9"));
}
void decodedRtf(benchmark::State& state) {
  runRaw(state, requestWith("MESSAGE", "text/rtf",
                            "{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Segoe UI;}}\\f0 " + kDecodedText + "\\par}"));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* fixed = std::getenv("IM_BENCH_ITERATIONS");
  const long iterations = fixed != nullptr ? std::atol(fixed) : 0;
  for (auto [name, function] : {std::pair{"noLinks", &noLinks}, std::pair{"twoLinks", &twoLinks},
                                 std::pair{"decoded/plain", &decodedPlain}, std::pair{"decoded/gzip", &decodedGzip},
                                 std::pair{"decoded/base64Part", &decodedBase64Part},
                                 std::pair{"decoded/utf16", &decodedUtf16}, std::pair{"decoded/latin1", &decodedLatin1},
                                 std::pair{"decoded/rtf", &decodedRtf}}) {
    auto* benchmark = benchmark::RegisterBenchmark(name, function);
    if (iterations > 0) benchmark->Iterations(iterations)->Repetitions(1);
  }
  const std::pair<const char*, void (*)(benchmark::State&)> adversarial[] = {
      {"adversarialLongLink", &adversarialLongLink},         {"adversarialManyLinks", &adversarialManyLinks},
      {"adversarialAmpersands", &adversarialAmpersands},     {"adversarialDigits", &adversarialDigits},
      {"adversarialFileName", &adversarialFileName},         {"adversarialBoundary", &adversarialBoundary},
      {"adversarialLongBoundary", &adversarialLongBoundary}};
  for (auto [name, function] : adversarial) {
    auto* benchmark = benchmark::RegisterBenchmark(name, function)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond);
    if (iterations > 0) benchmark->Iterations(1)->Repetitions(1);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
