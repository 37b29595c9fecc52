// Stream framing (core/sip/framing.h) on any bytes: never a crash, a frame
// never longer than the bytes or the limit, the same messages whether the
// stream arrives at once or split at the points the input's first byte
// chooses (the framer must not depend on read boundaries), and the framer
// and the parser agree on where every message ends: a message the parser
// accepts from a frame spans exactly that frame, with exactly the body the
// framer counted. A difference in either is a smuggling gap.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "sip/framing.h"
#include "sip/message.h"

namespace {

using sipwarden::sip::StreamFrame;

constexpr std::size_t kLimit = 4096;

struct Result {
  std::vector<std::string> frames;
  bool error = false;
};

Result run(const std::string& stream, std::size_t step) {
  Result out;
  std::string buffer;
  for (std::size_t at = 0; at < stream.size() && !out.error; at += step) {
    buffer.append(stream, at, step);
    for (;;) {
      const auto frame = sipwarden::sip::nextStreamFrame(buffer, kLimit);
      if (frame.kind == StreamFrame::Kind::Incomplete) break;
      if (frame.kind == StreamFrame::Kind::Error) {
        out.error = true;
        break;
      }
      if (frame.length == 0 || frame.length > buffer.size() || frame.length > kLimit) std::abort();
      if (frame.kind == StreamFrame::Kind::Message) out.frames.push_back(buffer.substr(0, frame.length));
      buffer.erase(0, frame.length);
    }
  }
  return out;
}

// The parser reads a framed message as the transport hands it over.
void checkParserAgrees(const std::string& frame) {
  sipwarden::sip::ParseFailure failure;
  auto message = sipwarden::sip::Message::parse(frame, sipwarden::sip::Framing::Stream, failure);
  if (!message || !failure.reason.empty()) return;  // refused: answered 400 or dropped, never forwarded
  if (message->wireSize() != frame.size()) std::abort();
  const std::size_t headerEnd = sipwarden::sip::findHeaderEnd(frame);
  std::size_t declared = 0;
  if (!sipwarden::sip::streamContentLength(std::string_view(frame).substr(0, headerEnd), declared)) std::abort();
  if (message->body().size() != declared) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = 1 + data[0] % 64;
  const std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const Result whole = run(stream, stream.size() == 0 ? 1 : stream.size());
  const Result split = run(stream, step);
  // Both read the same frames up to where either stopped; an error on one
  // side only can come from the other's waiting for bytes that never came.
  const std::size_t common = std::min(whole.frames.size(), split.frames.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (whole.frames[i] != split.frames[i]) std::abort();
  }
  if (!whole.error && !split.error && whole.frames != split.frames) std::abort();
  for (const std::string& frame : whole.frames) checkParserAgrees(frame);
  return 0;
}
