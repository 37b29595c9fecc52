// The SIP parser on arbitrary bytes, as a datagram and as a stream, with
// every structured header read: nothing may crash, hang or leak, whatever
// arrives on a listening socket.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sip/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (auto framing : {sipwarden::sip::Framing::Datagram, sipwarden::sip::Framing::Stream}) {
    sipwarden::sip::ParseFailure failure;
    auto message = sipwarden::sip::Message::parse(bytes, framing, failure);
    if (!message) continue;  // structured reads must be safe even after a parse failure
    (void)message->vias();
    (void)message->topVia();
    (void)message->routes();
    (void)message->recordRoutes();
    (void)message->from();
    (void)message->to();
    (void)message->cseq();
    (void)message->parsedRequestUri();
    (void)message->callId();
    std::optional<unsigned> maxForwards;
    (void)message->readMaxForwards(maxForwards);
    for (const char* name : {"Contact", "Supported", "Content-Type", "X-Unknown"}) (void)message->values(name);
  }
  sipwarden::sip::findHeaderEnd(bytes);
  return 0;
}
