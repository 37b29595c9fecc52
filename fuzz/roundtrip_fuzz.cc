// parse -> serialize -> parse: what the hop forwards must parse again with
// the same headers and body, with and without edits (a header added, one
// removed, the body replaced), and Content-Length must match the body.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sip/edit_list.h"
#include "sip/message.h"

namespace {

using namespace sipwarden::sip;

// Names the broken promise before aborting, so a crash report says which.
void check(bool condition, const char* promise) {
  if (!condition) {
    std::fprintf(stderr, "roundtrip_fuzz: broken: %s\n", promise);
    std::abort();
  }
}

// Headers other than Content-Length, which the serializer adds when a
// datagram came without one (RFC 2543 style) and always sets right.
std::size_t headersBesideLength(const Message& message) {
  std::size_t count = 0;
  for (const auto& field : message.headers()) count += field.id == HeaderId::ContentLength ? 0 : 1;
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  ParseFailure failure;
  auto message = Message::parse(bytes, Framing::Datagram, failure);
  // A message with a parse failure is answered 400 or dropped, never forwarded.
  if (!message || !failure.reason.empty()) return 0;

  const std::string same = serialize(*message, EditList{});
  ParseFailure again;
  auto reparsed = Message::parse(same, Framing::Stream, again);
  check(reparsed != nullptr && again.reason.empty(), "the unedited message parses again");
  check(headersBesideLength(*reparsed) == headersBesideLength(*message), "same headers");
  check(reparsed->body() == message->body(), "same body");

  EditList edits;
  edits.append("X-Sipwarden", "fuzz");
  if (!message->headers().empty()) edits.remove(0);
  edits.replaceBody(std::string(bytes.substr(0, bytes.size() / 3)), std::string("text/plain"));
  const std::string edited = serialize(*message, edits);
  auto editedMessage = Message::parse(edited, Framing::Stream, again);
  check(editedMessage != nullptr && again.reason.empty(), "the edited message parses again");
  check(editedMessage->header("X-Sipwarden") == std::optional<std::string_view>("fuzz"), "the added header is there");
  check(editedMessage->body() == bytes.substr(0, bytes.size() / 3), "the new body is there");
  check(editedMessage->header("Content-Length") == std::to_string(editedMessage->body().size()),
        "Content-Length matches the body");
  return 0;
}
