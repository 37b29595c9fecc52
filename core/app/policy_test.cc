#include "app/policy_test.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/SocketAddress.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "app/config.h"
#include "pipeline/exchange.h"
#include "proxy/replies.h"
#include "proxy/sanity.h"
#include "sip/edit_list.h"

namespace sipwarden::app {
namespace {

struct Outcome {
  std::string file;
  std::vector<pipeline::TraceStep> steps;
  std::string result;  // forward, reply, drop, invalid
  int code = 0;
  std::string reason;
  std::string wire;  // the message as it leaves, or the reply
  bool edited = false;
};

Outcome runOne(const pipeline::FilterChain& chain, const std::string& file, bool fromUpstream) {
  Outcome outcome;
  outcome.file = file;
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in) {
    outcome.result = "invalid";
    outcome.reason = "cannot read the file";
    return outcome;
  }
  sip::ParseFailure failure;
  auto message = sip::Message::parse(bytes.str(), sip::Framing::Datagram, failure);
  if (!message || !message->isRequest()) {
    outcome.result = "invalid";
    outcome.reason = message ? "not a request" : "not a SIP message: " + failure.reason;
    return outcome;
  }
  const Verdict sane = proxy::checkRequest(*message, failure, proxy::SanityLimits{});
  if (!sane.isContinue()) {
    outcome.result = "reply";
    outcome.code = sane.code();
    outcome.reason = "the hop itself rejects it: " + sane.reason();
    outcome.wire = proxy::buildReply(*message, sane.code(), sane.reason(), "policytest", sane.headers());
    return outcome;
  }
  transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("127.0.0.1", 5060), 0};
  pipeline::CoreExchange exchange(origin, fromUpstream ? Direction::FromUpstream : Direction::FromClient);
  exchange.bind(*message);
  const Verdict verdict = chain.runRequest(exchange, &outcome.steps);
  switch (verdict.kind()) {
    case Verdict::Kind::Continue: {
      outcome.result = "forward";
      outcome.edited = exchange.edited();
      sip::EditList edits;
      exchange.applyTo(edits);
      outcome.wire = sip::serialize(*message, edits);
      break;
    }
    case Verdict::Kind::Reply:
      outcome.result = "reply";
      outcome.code = verdict.code();
      outcome.reason = verdict.reason();
      outcome.wire = proxy::buildReply(*message, verdict.code(), verdict.reason(), "policytest", verdict.headers());
      break;
    case Verdict::Kind::Drop:
    case Verdict::Kind::Error:
      outcome.result = "drop";
      outcome.reason = verdict.reason();
      break;
    case Verdict::Kind::Pending:
      outcome.result = "pending";
      outcome.reason = "a plugin waits for an asynchronous answer (the archive in reject mode); offline it stops here";
      break;
  }
  if (!exchange.tags().empty()) {
    for (const auto& [key, value] : exchange.tags()) outcome.steps.push_back({"tag", key + "=" + value, 0, ""});
  }
  return outcome;
}

void printText(const Outcome& outcome) {
  std::cout << "== " << outcome.file << "\n";
  for (const auto& step : outcome.steps) {
    std::cout << "  " << step.plugin << ": " << step.verdict;
    if (step.code) std::cout << " " << step.code;
    if (!step.reason.empty()) std::cout << " (" << step.reason << ")";
    std::cout << "\n";
  }
  std::cout << "  result: " << outcome.result;
  if (outcome.code) std::cout << " " << outcome.code;
  if (!outcome.reason.empty()) std::cout << " " << outcome.reason;
  if (outcome.result == "forward") std::cout << (outcome.edited ? " (edited by the filters)" : " (unchanged)");
  std::cout << "\n";
  if (!outcome.wire.empty()) {
    std::cout << "  ---- " << (outcome.result == "forward" ? "as it leaves the filters" : "reply") << " ----\n";
    std::istringstream lines(outcome.wire);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::cout << "  | " << line << "\n";
    }
  }
}

Poco::JSON::Object::Ptr toJson(const Outcome& outcome) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  object->set("file", outcome.file);
  Poco::JSON::Array::Ptr steps = new Poco::JSON::Array;
  for (const auto& step : outcome.steps) {
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object;
    item->set("plugin", step.plugin);
    item->set("verdict", step.verdict);
    if (step.code) item->set("code", step.code);
    item->set("reason", step.reason);
    steps->add(item);
  }
  object->set("steps", steps);
  object->set("result", outcome.result);
  if (outcome.code) object->set("code", outcome.code);
  object->set("reason", outcome.reason);
  object->set("edited", outcome.edited);
  object->set("message", outcome.wire);
  return object;
}

}  // namespace

int policyTestCommand(const std::vector<std::string>& args) {
  std::string configPath;
  bool json = false;
  bool fromUpstream = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      configPath = args[++i];
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--from-upstream") {
      fromUpstream = true;
    } else if (args[i].starts_with("--")) {
      throw ConfigError(args[i] + ": unknown option");
    } else {
      files.push_back(args[i]);
    }
  }
  if (configPath.empty() || files.empty()) {
    std::cerr << "usage: sipwarden policy test --config FILE [--json] [--from-upstream] MESSAGE.sip...\n";
    return 2;
  }
  AppConfig config = loadConfigFile(configPath);
  const auto chain = buildChain(config);
  Poco::JSON::Array results;
  bool allReadable = true;
  for (const auto& file : files) {
    const Outcome outcome = runOne(*chain, file, fromUpstream);
    allReadable = allReadable && outcome.result != "invalid";
    if (json) {
      results.add(toJson(outcome));
    } else {
      printText(outcome);
    }
  }
  if (json) {
    results.stringify(std::cout, 2);
    std::cout << "\n";
  }
  return allReadable ? 0 : 1;
}

}  // namespace sipwarden::app
