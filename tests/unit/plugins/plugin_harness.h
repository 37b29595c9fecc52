#pragma once
// The harness the plugin tests drive their plugin through: a chain built
// from JSON with the plugin linked in (or the error that build stops with),
// a request given as inline SIP text run through that chain as the proxy
// runs it, and what left: the verdict, the tags, the trace and the wire
// (parsed again). The request goes the core's one message path
// (pipeline::MessagePath), as in the proxy. No plugin test goes pending
// offline (archive_reject_test drives the real proxy for that);
// lua_bounded_libs_test runs one script on a bare exchange, no chain.

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "im/im_body.h"
#include "pipeline/message_path.h"
#include "pipeline/loader.h"
#include "sip/edit_list.h"
#include "sip/message.h"

namespace sipwarden::pipeline::test_support {

inline std::shared_ptr<const FilterChain> chainWith(const PluginDescriptor* plugin, const std::string& json,
                                                    const ChainSettings& settings = {}) {
  registerBuiltinPlugin(plugin);
  Poco::JSON::Parser parser;
  return buildChain(parser.parse(json).extract<Poco::JSON::Array::Ptr>(), settings);
}

// The config error building the chain stops with ("" when it builds).
inline std::string chainError(const PluginDescriptor* plugin, const std::string& json,
                              const ChainSettings& settings = {}) {
  try {
    chainWith(plugin, json, settings);
  } catch (const PluginError& error) {
    return error.what();
  }
  return "";
}

inline std::string readSample(const std::string& name) {
  std::ifstream in(std::string(SIPWARDEN_SAMPLES_DIR) + "/" + name, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// `unit` `count` times over: the long and adversarial inputs of the limit
// tests.
inline std::string repeated(std::string_view unit, std::size_t count) {
  std::string out;
  out.reserve(unit.size() * count);
  for (std::size_t i = 0; i < count; ++i) out += unit;
  return out;
}

// A directory of a test's own for the files a plugin reads (scripts,
// group lists), removed with what it holds when the test ends.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / (name + "." + std::to_string(getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDirectory() { std::filesystem::remove_all(path_); }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  // Writes `text` to the file `name` in the directory; its path.
  std::string write(const std::string& name, const std::string& text) const {
    const auto path = (path_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

 private:
  std::filesystem::path path_;
};

// A named counter of the chain's `entry`th plugin (0 when never counted).
inline std::uint64_t counter(const FilterChain& chain, const std::string& name, std::size_t entry = 0) {
  auto& counters = *chain.entries()[entry].counters;
  std::lock_guard<std::mutex> hold(counters.namedLock);
  const auto found = counters.named.find(name);
  return found == counters.named.end() ? 0 : found->second;
}

// Where a test's request comes from and what happens after the chain.
struct RunOptions {
  transport::Protocol protocol = transport::Protocol::Udp;
  std::uint16_t port = 5060;  // the sender's, at 192.0.2.10
  Direction direction = Direction::FromClient;
  // When not 0, the transaction then ends with this final code (as the
  // proxy ends it when the response comes), after the wire is taken.
  int finalCode = 0;
  // Whether the wire must parse again (a stream message) and be kept in
  // Outcome::out; false for tests whose input is kept as sent.
  bool parseWire = true;
};

// What one run left.
struct Outcome {
  Verdict verdict = Verdict::proceed();
  std::string wire;  // the message as it leaves, edits applied
  bool edited = false;
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<TraceStep> trace;
  std::unique_ptr<sip::Message> out;  // the wire parsed again (RunOptions::parseWire)

  std::string_view body() const { return out->body(); }
  std::optional<std::string_view> header(std::string_view name) const { return out->header(name); }
  bool contentLengthRight() const { return out->header("Content-Length") == std::to_string(out->body().size()); }
  // The text parts of the message as it leaves (header parts decoded).
  std::vector<std::string> parts() const {
    im::ImBody im(out->method(), out->header("Content-Type").value_or(""), std::string(out->body()),
                  [&](std::string_view name) { return out->header(name); });
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < im.partCount(); ++i) texts.emplace_back(im.partText(i));
    return texts;
  }
  // The verdict's Warning header ("" when none).
  std::string warning() const {
    for (const auto& [name, value] : verdict.headers()) {
      if (name == "Warning") return value;
    }
    return "";
  }
  // True when the plugin's fail_mode closed answered (503 with the
  // Warning naming `plugin`).
  bool failedClosed(const std::string& plugin) const {
    return verdict.kind() == Verdict::Kind::Reply && verdict.code() == 503 &&
           warning() == "399 sipwarden \"" + plugin + " failed\"";
  }
  std::vector<std::string> tagValues(const std::string& key) const {
    std::vector<std::string> values;
    for (const auto& [name, value] : tags) {
      if (name == key) values.push_back(value);
    }
    return values;
  }
  // The first value tagged `key`, or "<none>".
  std::string tag(const std::string& key) const {
    for (const auto& [name, value] : tags) {
      if (name == key) return value;
    }
    return "<none>";
  }
  bool tagged(const std::string& key, const std::string& value) const {
    return std::find(tags.begin(), tags.end(), std::make_pair(key, value)) != tags.end();
  }
};

namespace detail {

inline std::unique_ptr<sip::Message> parsed(const std::string& text) {
  sip::ParseFailure failure;
  auto message = sip::Message::parse(text, sip::Framing::Datagram, failure);
  EXPECT_TRUE(message && failure.reason.empty()) << failure.reason << "\n" << text;
  return message;
}

// What left: `wire` is the message as the path serialized it.
inline void takeWire(Outcome& outcome, const MessagePath& path, std::string wire, bool parseWire) {
  outcome.edited = path.exchange().edited();
  outcome.tags = path.exchange().tags();
  outcome.wire = std::move(wire);
  if (!parseWire) return;
  sip::ParseFailure again;
  outcome.out = sip::Message::parse(outcome.wire, sip::Framing::Stream, again);
  EXPECT_TRUE(outcome.out && again.reason.empty()) << again.reason << "\n" << outcome.wire;
}

}  // namespace detail

// Runs the request `text` through the chain as the proxy does.
inline Outcome run(const FilterChain& chain, const std::string& text, const RunOptions& options = {}) {
  auto message = detail::parsed(text);
  const transport::Origin origin{options.protocol, Poco::Net::SocketAddress("192.0.2.10", options.port), 0};
  MessagePath path(chain, *message, origin, options.direction);
  Outcome outcome;
  outcome.verdict = path.run(&outcome.trace);
  detail::takeWire(outcome, path, path.serialize(), options.parseWire);
  if (options.finalCode != 0) path.end(options.finalCode);
  return outcome;
}

// Runs the request, then the response `responseText` through the same
// exchange (on_response); the outcome is the response as it leaves, with
// the request's verdict.
inline Outcome runResponse(const FilterChain& chain, const std::string& requestText, const std::string& responseText) {
  auto request = detail::parsed(requestText);
  auto response = detail::parsed(responseText);
  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  MessagePath path(chain, *request, origin, Direction::FromClient);
  Outcome outcome;
  outcome.verdict = path.run(&outcome.trace);
  sip::EditList edits;
  path.onResponse(*response, edits);
  detail::takeWire(outcome, path, sip::serialize(*response, edits), false);
  return outcome;
}

}  // namespace sipwarden::pipeline::test_support
