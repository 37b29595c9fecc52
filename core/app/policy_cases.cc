#include "app/policy_cases.h"

#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/policy_run.h"
#include "sip/message.h"

namespace sipwarden::app {
namespace {

struct Expectation {
  std::string key;
  std::string value;
  int line = 0;
};

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// Reads NAME.expect; input lines (time, source, direction) go to `options`.
std::vector<Expectation> readExpectations(const std::string& path, RunOptions& options, std::vector<std::string>& problems) {
  std::vector<Expectation> out;
  std::ifstream in(path);
  if (!in) {
    problems.push_back("no " + path + " beside the message");
    return out;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      problems.push_back(path + ":" + std::to_string(number) + ": expected 'key: value'");
      continue;
    }
    Expectation expectation{trim(line.substr(0, colon)), trim(line.substr(colon + 1)), number};
    if (expectation.key == "time") {
      try {
        int zone = 0;
        const Poco::DateTime when = Poco::DateTimeParser::parse(expectation.value, zone);
        options.now = std::chrono::system_clock::from_time_t(when.timestamp().epochTime() - zone);
      } catch (const Poco::Exception&) {
        problems.push_back(path + ":" + std::to_string(number) + ": time: expected an ISO 8601 date and time");
      }
    } else if (expectation.key == "source") {
      options.sourceIp = expectation.value;
    } else if (expectation.key == "direction") {
      options.fromUpstream = expectation.value == "from_upstream";
    } else {
      out.push_back(std::move(expectation));
    }
  }
  return out;
}

// The differences between what happened and what was expected.
std::vector<std::string> compare(const Outcome& outcome, const std::vector<Expectation>& expectations) {
  std::vector<std::string> problems;
  sip::ParseFailure failure;
  const auto leaving = outcome.result == "forward"
                           ? sip::Message::parse(outcome.wire, sip::Framing::Stream, failure)
                           : std::unique_ptr<sip::Message>();
  const std::string actualVerdict = outcome.result + (outcome.code ? " " + std::to_string(outcome.code) : "");
  for (const auto& expected : expectations) {
    const std::string where = "line " + std::to_string(expected.line) + ": ";
    if (expected.key == "verdict") {
      if (actualVerdict != expected.value) problems.push_back(where + "verdict is " + actualVerdict + " (" + outcome.reason + "), expected " + expected.value);
    } else if (expected.key == "reason") {
      if (outcome.reason != expected.value) problems.push_back(where + "reason is '" + outcome.reason + "', expected '" + expected.value + "'");
    } else if (expected.key == "warning") {
      const bool found = std::any_of(outcome.replyHeaders.begin(), outcome.replyHeaders.end(), [&](const auto& header) {
        return header.first == "Warning" && header.second.find(expected.value) != std::string::npos;
      });
      if (!found) problems.push_back(where + "no Warning containing '" + expected.value + "'");
    } else if (expected.key == "header" || expected.key == "no-header" || expected.key == "body-contains") {
      if (!leaving) {
        problems.push_back(where + expected.key + " needs a forwarded message; the verdict is " + actualVerdict);
        continue;
      }
      if (expected.key == "body-contains") {
        if (leaving->body().find(expected.value) == std::string_view::npos) problems.push_back(where + "the body does not contain '" + expected.value + "'");
        continue;
      }
      const auto colon = expected.value.find(':');
      const std::string name = trim(expected.value.substr(0, colon));
      const auto actual = leaving->header(name);
      if (expected.key == "no-header") {
        if (actual) problems.push_back(where + name + " is present: " + std::string(*actual));
      } else {
        const std::string value = colon == std::string::npos ? "" : trim(expected.value.substr(colon + 1));
        if (!actual) {
          problems.push_back(where + "no " + name + " header");
        } else if (*actual != value) {
          problems.push_back(where + name + " is '" + std::string(*actual) + "', expected '" + value + "'");
        }
      }
    } else if (expected.key == "tag") {
      const auto equals = expected.value.find('=');
      const std::pair<std::string, std::string> tag{trim(expected.value.substr(0, equals)),
                                                    equals == std::string::npos ? "" : trim(expected.value.substr(equals + 1))};
      if (std::find(outcome.tags.begin(), outcome.tags.end(), tag) == outcome.tags.end()) {
        std::string present;
        for (const auto& [key, value] : outcome.tags) present += (present.empty() ? "" : ", ") + key + "=" + value;
        problems.push_back(where + "no tag " + expected.value + " (tags: " + (present.empty() ? "none" : present) + ")");
      }
    } else {
      problems.push_back(where + "unknown expectation '" + expected.key + "'");
    }
  }
  return problems;
}

}  // namespace

int runPolicyCases(const pipeline::FilterChain& chain, const std::string& dir) {
  std::vector<std::filesystem::path> messages;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".sip") messages.push_back(entry.path());
  }
  if (error || messages.empty()) {
    std::cerr << "sipwarden: no NAME.sip cases in " << dir << "\n";
    return 2;
  }
  std::sort(messages.begin(), messages.end());
  int failed = 0;
  for (const auto& message : messages) {
    RunOptions options;
    std::vector<std::string> problems;
    auto expectPath = message;
    expectPath.replace_extension(".expect");
    const auto expectations = readExpectations(expectPath.string(), options, problems);
    const Outcome outcome = runMessage(chain, message.string(), options);
    for (auto& problem : compare(outcome, expectations)) problems.push_back(std::move(problem));
    std::cout << (problems.empty() ? "PASS " : "FAIL ") << message.filename().string() << "\n";
    for (const auto& problem : problems) std::cout << "     " << problem << "\n";
    failed += problems.empty() ? 0 : 1;
  }
  std::cout << messages.size() - static_cast<std::size_t>(failed) << " of " << messages.size() << " cases passed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace sipwarden::app
