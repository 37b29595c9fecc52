#include "app/policy_test.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <fstream>

#include <iostream>
#include <sstream>

#include "app/config.h"
#include "app/policy_cases.h"
#include "app/policy_run.h"
#include "query/json.h"

namespace sipwarden::app {
namespace {

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

// One outcome as JSON through the query code's writer (query/json.h), the
// one place that makes any bytes valid UTF-8: the wire message may hold any
// bytes a client sent (a gzip body, UTF-16), so "message" is its text with
// what is not UTF-8 shown as U+FFFD, and "message_base64" its exact bytes.
std::string toJson(const Outcome& outcome) {
  using query::jsonString;
  std::string steps;
  for (const auto& step : outcome.steps) {
    steps += steps.empty() ? "\n      {" : ",\n      {";
    steps += "\"plugin\": " + jsonString(step.plugin) + ", \"verdict\": " + jsonString(step.verdict);
    if (step.code) steps += ", \"code\": " + std::to_string(step.code);
    steps += ", \"reason\": " + jsonString(step.reason) + "}";
  }
  std::string out = "  {\n    \"file\": " + jsonString(outcome.file) + ",\n";
  out += "    \"steps\": [" + steps + (steps.empty() ? "],\n" : "\n    ],\n");
  out += "    \"result\": " + jsonString(outcome.result) + ",\n";
  if (outcome.code) out += "    \"code\": " + std::to_string(outcome.code) + ",\n";
  out += "    \"reason\": " + jsonString(outcome.reason) + ",\n";
  out += std::string("    \"edited\": ") + (outcome.edited ? "true" : "false") + ",\n";
  out += "    \"message\": " + jsonString(outcome.wire) + ",\n";
  out += "    \"message_base64\": " + jsonString(query::base64(outcome.wire)) + "\n  }";
  return out;
}

// The chain for --script: one lua_policy block running the script, with the
// other keys (groups, budgets, and `config` for the script) from `settings`.
AppConfig scriptConfig(const std::string& script, const std::string& settingsPath) {
  Poco::JSON::Object::Ptr block = new Poco::JSON::Object;
  Poco::JSON::Object::Ptr entry = new Poco::JSON::Object;
  entry->set("file", script);
  if (!settingsPath.empty()) {
    std::ifstream in(settingsPath);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw ConfigError(settingsPath + ": cannot read");
    Poco::JSON::Object::Ptr settings;
    try {
      settings = Poco::JSON::Parser().parse(text.str()).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& error) {
      throw ConfigError(settingsPath + ": " + error.displayText());
    }
    for (const auto& [key, value] : *settings) {
      if (key == "config") {
        entry->set(key, value);
      } else {
        block->set(key, value);
      }
    }
  }
  block->set("plugin", "lua_policy");
  Poco::JSON::Array::Ptr scripts = new Poco::JSON::Array;
  scripts->add(entry);
  block->set("scripts", scripts);
  AppConfig config;
  config.plugins = new Poco::JSON::Array;
  config.plugins->add(block);
  return config;
}

}  // namespace

int policyTestCommand(const std::vector<std::string>& args) {
  constexpr const char* kUsage =
      "usage: sipwarden policy test (--config FILE | --script FILE.lua [--settings FILE.json])\n"
      "                             [--json] [--from-upstream] (--cases DIR | MESSAGE.sip...)\n";
  std::string configPath, script, settings, cases;
  bool json = false;
  RunOptions options;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw ConfigError(args[i] + ": missing value\n" + kUsage);
      return args[++i];
    };
    if (args[i] == "--config") {
      configPath = value();
    } else if (args[i] == "--script") {
      script = value();
    } else if (args[i] == "--settings") {
      settings = value();
    } else if (args[i] == "--cases") {
      cases = value();
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--from-upstream") {
      options.fromUpstream = true;
    } else if (args[i].starts_with("--")) {
      throw ConfigError(args[i] + ": unknown option\n" + kUsage);
    } else {
      files.push_back(args[i]);
    }
  }
  if (configPath.empty() == script.empty() || files.empty() == cases.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  if (settings.empty() && !script.empty() && !cases.empty() && std::filesystem::exists(cases + "/policy.json")) {
    settings = cases + "/policy.json";
  }
  const AppConfig config = script.empty() ? loadConfigFile(configPath) : scriptConfig(script, settings);
  const auto chain = buildChain(config);
  if (!cases.empty()) return runPolicyCases(*chain, cases);
  std::string results;
  bool allReadable = true;
  for (const auto& file : files) {
    const Outcome outcome = runMessage(*chain, file, options);
    allReadable = allReadable && outcome.result != "invalid";
    if (json) {
      results += (results.empty() ? "" : ",\n") + toJson(outcome);
    } else {
      printText(outcome);
    }
  }
  if (json) std::cout << "[\n" << results << (results.empty() ? "]\n" : "\n]\n");
  return allReadable ? 0 : 1;
}

}  // namespace sipwarden::app
