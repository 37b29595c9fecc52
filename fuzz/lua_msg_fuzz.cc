// The Lua msg API driven by random calls (fuzz/lua_msg_fuzz.lua turns the
// input into a program of API calls). Whatever a script does, the message
// that leaves must parse again, and the response path must survive too.
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
namespace lua_policy { const PluginDescriptor* descriptor(); }
}

namespace {

using namespace sipwarden;

const pipeline::FilterChain& chain() {
  static const auto built = [] {
    pipeline::registerBuiltinPlugin(plugins::lua_policy::descriptor());
    return pipeline::buildChain(
        Poco::JSON::Parser()
            .parse(R"([{"plugin": "lua_policy", "instruction_budget": 1000000, "memory_limit_kb": 65536,
                        "groups": {"g": ["@example.com"]},
                        "scripts": [{"file": ")" SIPWARDEN_SOURCE_DIR R"(/fuzz/lua_msg_fuzz.lua"}]}])")
            .extract<Poco::JSON::Array::Ptr>(),
        {});
  }();
  return *built;
}

void reparse(const std::string& out) {
  sip::ParseFailure failure;
  auto leaving = sip::Message::parse(out, sip::Framing::Stream, failure);
  if (!leaving || leaving->header("Content-Length") != std::to_string(leaving->body().size())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const std::string wire =
      "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfz\r\n"
      "Max-Forwards: 70\r\nFrom: \"A\" <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
      "Call-ID: fuzz\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  sip::ParseFailure failure;
  auto request = sip::Message::parse(wire, sip::Framing::Datagram, failure);
  if (!request) return 0;
  static const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.1", 5060), 0};
  pipeline::MessagePath path(chain(), *request, origin, Direction::FromClient);
  if (path.run().isContinue()) reparse(path.serialize());

  const std::string answer =
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfz\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
      "To: <sip:bob@example.com>;tag=2\r\nCall-ID: fuzz\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  auto response = sip::Message::parse(answer, sip::Framing::Datagram, failure);
  if (!response) return 0;
  sip::EditList edits;
  path.onResponse(*response, edits);
  reparse(sip::serialize(*response, edits));
  return 0;
}
