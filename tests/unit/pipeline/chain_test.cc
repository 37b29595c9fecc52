// The filter chain and plugin loader: modules loaded from disk, the probe
// plugin linked in statically, verdicts, order, fail modes, edits.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>
#include <dlfcn.h>

#include "pipeline/loader.h"
#include "pipeline/message_path.h"
#include "proxy/proxy.h"
#include "sip/edit_list.h"

namespace sipwarden::plugins {
namespace probe { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::pipeline {
namespace {

Poco::JSON::Array::Ptr pluginsFrom(const std::string& json) {
  Poco::JSON::Parser parser;
  return parser.parse(json).extract<Poco::JSON::Array::Ptr>();
}

std::shared_ptr<const FilterChain> chainFrom(const std::string& json) {
  registerBuiltinPlugin(plugins::probe::descriptor());
  return buildChain(pluginsFrom(json), ChainSettings{{SIPWARDEN_TEST_PLUGIN_DIR}, ""});
}

std::string buildError(const std::string& json) {
  try {
    chainFrom(json);
  } catch (const PluginError& error) {
    return error.what();
  }
  return "";
}

std::unique_ptr<sip::Message> parse(const std::string& text) {
  sip::ParseFailure failure;
  return sip::Message::parse(text, sip::Framing::Datagram, failure);
}

const std::string kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc1\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@Example.COM>;tag=a\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n\r\nhello";

struct ChainRun {
  Verdict verdict = Verdict::proceed();
  std::vector<TraceStep> trace;
  std::string wire;
};

ChainRun run(const FilterChain& chain, const std::string& text = kMessage) {
  auto message = parse(text);
  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  MessagePath path(chain, *message, origin, Direction::FromClient);
  ChainRun result;
  result.verdict = path.run(&result.trace);
  result.wire = path.serialize();
  return result;
}

TEST(Loader, LoadsAModuleFromThePluginDirectory) {
  auto chain = chainFrom(R"([{"plugin": "bad_abi_free", "module": ")" SIPWARDEN_TEST_PLUGIN_DIR
                         R"(/sipwarden_probe.so", "add_header": "X-Module: yes"}])");
  ASSERT_EQ(chain->entries().size(), 1u);
  EXPECT_NE(chain->entries()[0].library, nullptr);
  EXPECT_NE(run(*chain).wire.find("X-Module: yes\r\n"), std::string::npos);
}

TEST(Loader, RefusesAModuleBuiltForAnotherAbiAndSaysWhich) {
  const std::string error = buildError(R"([{"plugin": "bad_abi"}])");
  EXPECT_NE(error.find("plugins[0].module"), std::string::npos) << error;
  EXPECT_NE(error.find("(bad_abi) was built with plugin ABI 99, this sipwarden with plugin ABI " +
                       std::to_string(kPluginAbiVersion)),
            std::string::npos)
      << error;
}

TEST(Loader, RefusesAModuleOfAnotherStandardLibraryNamingTheFieldAndBothValues) {
  const std::string error = buildError(R"([{"plugin": "wrong_stamp"}])");
  EXPECT_NE(error.find("plugins[0].module: " SIPWARDEN_TEST_PLUGIN_DIR "/sipwarden_wrong_stamp.so"), std::string::npos)
      << error;
  EXPECT_NE(error.find("(wrong_stamp) was built with standard library libstdc++ 0, this sipwarden with standard "
                       "library " +
                       std::string(kPluginAbiStamp.standardLibrary)),
            std::string::npos)
      << error;
}

TEST(Loader, AReloadReusesTheLoadedModuleAndNeverUnloadsIt) {
  const std::string path = SIPWARDEN_TEST_PLUGIN_DIR "/sipwarden_probe.so";
  const std::string config = R"([{"plugin": "probe", "module": ")" + path + R"("}])";
  const Poco::SharedLibrary* first = chainFrom(config)->entries()[0].library;  // that chain is gone
  void* stillLoaded = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(stillLoaded, nullptr);
  if (stillLoaded != nullptr) dlclose(stillLoaded);
  EXPECT_EQ(chainFrom(config)->entries()[0].library, first);
  const std::string otherSpelling = R"([{"plugin": "probe", "module": ")" SIPWARDEN_TEST_PLUGIN_DIR
                                    R"(/./sipwarden_probe.so"}])";
  EXPECT_EQ(chainFrom(otherSpelling)->entries()[0].library, first);
}

// The stamps compared field by field, the SDK version first.
TEST(AbiStamp, SameStampsAgree) { EXPECT_EQ(compareAbiStamps(kPluginAbiStamp, kPluginAbiStamp), std::nullopt); }

TEST(AbiStamp, EachFieldIsNamedWithBothValues) {
  const PluginAbiStamp core{6, "gcc 13", "libstdc++ 13", "cxx11"};
  const auto differenceIn = [&](PluginAbiStamp module) {
    const auto difference = compareAbiStamps(module, core);
    return difference ? difference->field + ": " + difference->moduleValue + " / " + difference->coreValue : "";
  };
  EXPECT_EQ(differenceIn({5, "gcc 13", "libstdc++ 13", "cxx11"}), "plugin ABI: 5 / 6");
  EXPECT_EQ(differenceIn({6, "clang 18", "libstdc++ 13", "cxx11"}), "compiler: clang 18 / gcc 13");
  EXPECT_EQ(differenceIn({6, "gcc 13", "libc++ 180100", "cxx11"}), "standard library: libc++ 180100 / libstdc++ 13");
  EXPECT_EQ(differenceIn({6, "gcc 13", "libstdc++ 13", "gcc4"}), "string ABI: gcc4 / cxx11");
}

TEST(AbiStamp, AnotherSdkVersionIsAllThatIsReadOfTheModule) {
  const PluginAbiStamp module{99, nullptr, nullptr, nullptr};
  const auto difference = compareAbiStamps(module, kPluginAbiStamp);
  ASSERT_TRUE(difference.has_value());
  EXPECT_EQ(difference->field, "plugin ABI");
  EXPECT_EQ(difference->moduleValue, "99");
}

TEST(AbiStamp, TheCoreStampNamesThisBuild) {
  EXPECT_EQ(kPluginAbiStamp.sdkVersion, kPluginAbiVersion);
#if defined(__clang__)
  EXPECT_EQ(std::string(kPluginAbiStamp.compiler), "clang " + std::to_string(__clang_major__));
#else
  EXPECT_EQ(std::string(kPluginAbiStamp.compiler), "gcc " + std::to_string(__GNUC__));
#endif
#if defined(_GLIBCXX_RELEASE)
  EXPECT_EQ(std::string(kPluginAbiStamp.standardLibrary), "libstdc++ " + std::to_string(_GLIBCXX_RELEASE));
  EXPECT_EQ(std::string(kPluginAbiStamp.stringAbi), _GLIBCXX_USE_CXX11_ABI ? "cxx11" : "gcc4");
#endif
}

TEST(Loader, RefusesAModuleWithoutEntryPoint) {
  const std::string error = buildError(R"([{"plugin": "no_entry"}])");
  EXPECT_NE(error.find("has no sipwarden_plugin_v1 entry point"), std::string::npos) << error;
}

TEST(Loader, MissingPluginNamesWhereItLooked) {
  const std::string error = buildError(R"([{"plugin": "nonexistent"}])");
  EXPECT_NE(error.find("plugins[0].plugin: no plugin 'nonexistent'"), std::string::npos) << error;
}

TEST(Loader, BadConfigNamesTheKeyPath) {
  EXPECT_EQ(buildError(R"([{"plugin": "probe"}, {"plugin": "probe", "action": "explode"}])"),
            "plugins[1].action: expected continue|reply|drop|error|throw");
  EXPECT_EQ(buildError(R"([{"plugin": "probe", "colour": "blue"}])"), "plugins[0].colour: unknown key");
  EXPECT_EQ(buildError(R"([{"plugin": "probe", "fail_mode": "sideways"}])"), "plugins[0].fail_mode: expected open|closed");
  EXPECT_EQ(buildError(R"([{"action": "drop"}])"), "plugins[0].plugin: the plugin's name is required");
  EXPECT_EQ(buildError(R"([{"plugin": "probe", "add_header": "nocolon"}])"),
            "plugins[0].add_header: expected \"Name: value\"");
}

TEST(Chain, RunsPluginsInConfiguredOrderAndLaterOnesSeeEarlierEdits) {
  auto chain = chainFrom(R"([
    {"plugin": "probe", "add_header": "X-Order: first", "append_body": " one"},
    {"plugin": "probe", "add_header": "X-Order: second", "append_body": " two"}])");
  const ChainRun result = run(*chain);
  EXPECT_TRUE(result.verdict.isContinue());
  EXPECT_NE(result.wire.find("X-Order: first\r\nX-Order: second\r\n"), std::string::npos) << result.wire;
  EXPECT_NE(result.wire.find("Content-Length: 13\r\n\r\nhello one two"), std::string::npos) << result.wire;
}

TEST(Chain, ReplyStopsTheChain) {
  auto chain = chainFrom(R"([{"plugin": "probe", "action": "reply", "code": 488, "reason": "Not Here"},
                             {"plugin": "probe"}])");
  const ChainRun result = run(*chain);
  EXPECT_EQ(result.verdict.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(result.verdict.code(), 488);
  EXPECT_EQ(chain->entries()[1].counters->invocations.load(), 0u);
  EXPECT_EQ(chain->entries()[0].counters->replied.load(), 1u);
}

TEST(Chain, FailOpenPassesTheMessage) {
  for (const char* action : {"error", "throw"}) {
    auto chain = chainFrom(std::string(R"([{"plugin": "probe", "fail_mode": "open", "action": ")") + action +
                           R"("}, {"plugin": "probe", "add_header": "X-After: yes"}])");
    const ChainRun result = run(*chain);
    EXPECT_TRUE(result.verdict.isContinue()) << action;
    EXPECT_NE(result.wire.find("X-After: yes"), std::string::npos) << action;
    EXPECT_EQ(chain->entries()[0].counters->errors.load(), 1u) << action;
    EXPECT_EQ(result.trace[0].verdict, "error (open)");
  }
}

TEST(Chain, FailClosedRepliesWithTheConfiguredCode) {
  for (const char* action : {"error", "throw"}) {
    auto chain = chainFrom(std::string(R"([{"plugin": "probe", "fail_mode": "closed", "fail_code": 500, "action": ")") +
                           action + R"("}])");
    const ChainRun result = run(*chain);
    EXPECT_EQ(result.verdict.kind(), Verdict::Kind::Reply) << action;
    EXPECT_EQ(result.verdict.code(), 500);
    EXPECT_EQ(result.verdict.reason(), "Server Internal Error") << "the phrase follows the configured code";
    ASSERT_EQ(result.verdict.headers().size(), 1u);
    EXPECT_EQ(result.verdict.headers()[0].second, "399 sipwarden \"probe failed\"");
  }
}

TEST(Chain, PluginsAreSkippedForMethodsTheyDoNotWant) {
  auto chain = chainFrom(R"([{"plugin": "probe", "methods": ["INVITE"], "action": "drop"}])");
  const ChainRun result = run(*chain);
  EXPECT_TRUE(result.verdict.isContinue());
  EXPECT_EQ(chain->entries()[0].counters->invocations.load(), 0u);
  EXPECT_EQ(result.trace[0].verdict, "skipped");
}

TEST(Exchange, HeaderEditsAreVisibleAndAddressesNormalised) {
  auto message = parse(kMessage);
  const transport::Origin origin{transport::Protocol::Tcp, Poco::Net::SocketAddress("192.0.2.10", 5061), 7};
  CoreExchange exchange(origin, Direction::FromClient);
  exchange.bind(*message);
  EXPECT_EQ(exchange.message().from().aor(), "alice@example.com");
  EXPECT_EQ(exchange.message().from().display, "Alice");
  EXPECT_EQ(exchange.message().contentType(), "text/plain");
  EXPECT_EQ(exchange.sourcePort(), 5061);
  EXPECT_EQ(exchange.sourceIp(), "192.0.2.10");
  EXPECT_EQ(exchange.transport(), Transport::Tcp);
  exchange.edits().setHeader("Subject", "hi");
  exchange.edits().removeHeader("max-forwards");
  EXPECT_EQ(exchange.message().header("subject"), "hi");
  EXPECT_FALSE(exchange.message().header("Max-Forwards").has_value());
  sip::EditList edits;
  exchange.applyTo(edits);
  const std::string wire = sip::serialize(*message, edits);
  EXPECT_EQ(wire.find("Max-Forwards"), std::string::npos);
  EXPECT_NE(wire.find("Subject: hi\r\n"), std::string::npos);
}

// The chain inside the proxy: replies, edits on requests and responses, and
// the end-of-transaction hook.
class RecordingSender final : public transport::Sender {
 public:
  void send(const transport::Target&, std::string_view bytes) override { sent.emplace_back(bytes); }
  std::vector<std::string> sent;
};

// A proxy with one next hop (127.0.0.1:5080) running `chain`, and what it
// sent.
struct ChainedProxy {
  explicit ChainedProxy(const std::string& chain) : proxy(config(), sender, clock) { proxy.setChain(chainFrom(chain)); }
  static proxy::ProxyConfig config() {
    proxy::ProxyConfig settings;
    settings.upstreams = {{"127.0.0.1", 5080, transport::Protocol::Udp}};
    return settings;
  }
  // A datagram arriving from `host`:`port`.
  void receive(const std::string& text, const std::string& host, std::uint16_t port) {
    proxy.onMessage(text, transport::Origin{transport::Protocol::Udp, Poco::Net::SocketAddress(host, port), 0});
  }

  RecordingSender sender;
  proxy::ManualClock clock;
  proxy::Proxy proxy;
};

TEST(ProxyWithChain, ReplyFromAFilterIsSentAndNothingForwarded) {
  ChainedProxy hop(R"([{"plugin": "probe", "action": "reply", "code": 403, "reason": "Blocked"}])");
  hop.receive(kMessage, "192.0.2.10", 5060);
  const auto& sent = hop.sender.sent;
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].starts_with("SIP/2.0 403 Blocked\r\n"));
  EXPECT_NE(sent[0].find("Warning: 399 sipwarden \"probe\""), std::string::npos);
  EXPECT_EQ(hop.proxy.chain()->entries()[0].counters->named.at("ended.403"), 1u);
}

TEST(ProxyWithChain, EditsReachTheNextHopAndResponsesAreFiltered) {
  ChainedProxy hop(R"([{"plugin": "probe", "add_header": "X-Probe: on"}])");
  hop.receive(kMessage, "192.0.2.10", 5060);
  const auto& sent = hop.sender.sent;
  ASSERT_EQ(sent.size(), 1u);
  const std::string forwarded = sent[0];
  EXPECT_NE(forwarded.find("X-Probe: on\r\n"), std::string::npos);
  auto request = parse(forwarded);
  std::string response = "SIP/2.0 200 OK\r\n";
  for (const auto& field : request->headers()) {
    if (field.id == sip::HeaderId::Via || field.id == sip::HeaderId::From || field.id == sip::HeaderId::To ||
        field.id == sip::HeaderId::CallId || field.id == sip::HeaderId::CSeq) {
      response += std::string(field.raw) + "\r\n";
    }
  }
  response += "Content-Length: 0\r\n\r\n";
  hop.receive(response, "127.0.0.1", 5080);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[1].find("X-Probe-Response: on\r\n"), std::string::npos) << sent[1];
  EXPECT_EQ(hop.proxy.chain()->entries()[0].counters->named.at("ended.200"), 1u);
}

}  // namespace
}  // namespace sipwarden::pipeline
