// Link and file-name detection on arbitrary text, through the real chain
// (url_filter defanging, file_filter, keyword redaction): the input is the
// text of a MESSAGE (plain or HTML, by the first byte) or the file name of
// an RFC 5547 offer. What leaves must parse again with a right
// Content-Length.
#include <Poco/JSON/Parser.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pipeline/message_path.h"
#include "pipeline/loader.h"
#include "sip/edit_list.h"
#include "sip/message.h"

namespace sipwarden::plugins {
namespace url_filter { const PluginDescriptor* descriptor(); }
namespace file_filter { const PluginDescriptor* descriptor(); }
namespace keyword { const PluginDescriptor* descriptor(); }
}  // namespace sipwarden::plugins

namespace {

using namespace sipwarden;

const pipeline::FilterChain& chain() {
  static const auto built = [] {
    for (auto* plugin : {plugins::url_filter::descriptor(), plugins::file_filter::descriptor(), plugins::keyword::descriptor()}) {
      pipeline::registerBuiltinPlugin(plugin);
    }
    return pipeline::buildChain(Poco::JSON::Parser()
                                    .parse(R"([{"plugin": "file_filter"},
        {"plugin": "url_filter", "action": "defang", "allow_intranet": ["example.com", "10.0.0.0/8"], "notice": "[x] "},
        {"plugin": "keyword", "name": "cards", "action": "redact", "template": "payment_card"}])")
                                    .extract<Poco::JSON::Array::Ptr>(),
                                {});
  }();
  return *built;
}

std::string request(const std::string& method, const std::string& type, const std::string& body) {
  return method + " sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfz\r\n"
         "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
         "Call-ID: fuzz\r\nCSeq: 1 " + method + "\r\nContent-Type: " + type + "\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string wire;
  switch (data[0] % 3) {
    case 0: wire = request("MESSAGE", "text/plain;charset=UTF-8", text); break;
    case 1: wire = request("MESSAGE", "text/html", "<p>" + text + "</p>"); break;
    default: {
      std::string name = text.substr(0, 200);
      for (char& c : name) {
        if (c == '"' || c == '\r' || c == '\n') c = '_';
      }
      wire = request("INVITE", "application/sdp",
                     "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                     "m=message 7654 TCP/MSRP *\r\na=sendonly\r\na=file-selector:name:\"" + name +
                         "\" type:application/octet-stream size:1000\r\n");
    }
  }
  sip::ParseFailure failure;
  auto message = sip::Message::parse(wire, sip::Framing::Datagram, failure);
  if (!message) return 0;
  static const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.1", 5060), 0};
  pipeline::MessagePath path(chain(), *message, origin, Direction::FromClient);
  if (!path.run().isContinue()) return 0;
  const std::string out = path.serialize();
  auto leaving = sip::Message::parse(out, sip::Framing::Stream, failure);
  if (!leaving || leaving->header("Content-Length") != std::to_string(leaving->body().size())) std::abort();
  return 0;
}
