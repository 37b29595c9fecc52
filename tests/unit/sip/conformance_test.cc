// Runs every RFC 4475 / RFC 5118 torture message through the parser and the
// proxy's request checks, and compares with tests/corpus/conformance/verdicts.tsv.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "proxy/sanity.h"
#include "sip/edit_list.h"
#include "sip/message.h"

namespace sipwarden {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string file;
  std::string unit;
};

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<Case> loadCases() {
  std::vector<Case> cases;
  std::ifstream in(fs::path(SIPWARDEN_CONFORMANCE_DIR) / "verdicts.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Case c;
    std::getline(fields, c.file, '\t');
    std::getline(fields, c.unit, '\t');
    cases.push_back(c);
  }
  return cases;
}

std::string verdictOf(const std::string& bytes) {
  sip::ParseFailure failure;
  auto message = sip::Message::parse(bytes, sip::Framing::Datagram, failure);
  if (!message) return "drop";
  if (message->isResponse()) {
    std::string reason;
    return proxy::checkResponse(*message, failure, reason) ? "relay" : "drop";
  }
  const Verdict verdict = proxy::checkRequest(*message, failure, proxy::SanityLimits{});
  switch (verdict.kind()) {
    case Verdict::Kind::Continue: return "forward";
    case Verdict::Kind::Reply: return std::to_string(verdict.code());
    case Verdict::Kind::Drop: return "drop";
    case Verdict::Kind::Error: return "error";
    case Verdict::Kind::Pending: return "pending";
  }
  return "?";
}

TEST(Conformance, EveryTortureMessageHasAVerdict) {
  std::set<std::string> listed;
  for (const auto& c : loadCases()) listed.insert(c.file);
  int messages = 0;
  for (const char* suite : {"rfc4475", "rfc5118"}) {
    for (const auto& entry : fs::directory_iterator(fs::path(SIPWARDEN_CONFORMANCE_DIR) / suite)) {
      if (entry.path().extension() != ".sip") continue;
      ++messages;
      EXPECT_TRUE(listed.count(std::string(suite) + "/" + entry.path().filename().string()))
          << entry.path() << " has no expected verdict";
    }
  }
  EXPECT_EQ(messages, 61);
}

TEST(Conformance, ParserAndSanityMatchExpectedVerdicts) {
  const auto cases = loadCases();
  ASSERT_GE(cases.size(), 61u);
  for (const auto& c : cases) {
    const std::string bytes = readFile(fs::path(SIPWARDEN_CONFORMANCE_DIR) / c.file);
    ASSERT_FALSE(bytes.empty()) << c.file;
    EXPECT_EQ(verdictOf(bytes), c.unit) << c.file;
  }
}

TEST(Conformance, ForwardableMessagesSurviveASerializeRoundTrip) {
  for (const auto& c : loadCases()) {
    if (c.unit != "forward") continue;
    sip::ParseFailure failure;
    auto message = sip::Message::parse(readFile(fs::path(SIPWARDEN_CONFORMANCE_DIR) / c.file),
                                       sip::Framing::Datagram, failure);
    ASSERT_TRUE(message) << c.file;
    const std::string wire = sip::serialize(*message, sip::EditList{});
    sip::ParseFailure again;
    auto reparsed = sip::Message::parse(wire, sip::Framing::Stream, again);
    ASSERT_TRUE(reparsed) << c.file;
    EXPECT_TRUE(again.reason.empty()) << c.file << ": " << again.reason;
    EXPECT_EQ(reparsed->headers().size(), message->headers().size() + (message->first(sip::HeaderId::ContentLength) ? 0 : 1))
        << c.file;
    EXPECT_EQ(reparsed->body(), message->body()) << c.file;
    EXPECT_EQ(reparsed->requestUri(), message->requestUri()) << c.file;
    EXPECT_EQ(verdictOf(wire), "forward") << c.file;
  }
}

}  // namespace
}  // namespace sipwarden
