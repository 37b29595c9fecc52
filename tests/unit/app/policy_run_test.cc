// `policy test` on one message: what it says about files that are not SIP
// requests, requests the hop itself refuses, and each verdict of the chain.
#include "app/policy_run.h"

#include <gtest/gtest.h>

#include "app/app_test_support.h"
#include "app/policy_test_support.h"

namespace sipwarden::app {
namespace {

using testing::probeChain;
using testing::sampleMessage;
using testing::ScratchDir;

TEST(PolicyRun, FilesThatAreNotRequestsAreInvalid) {
  ScratchDir dir;
  const auto chain = probeChain(R"([{"plugin": "probe"}])");
  const Outcome missing = runMessage(*chain, dir.path() + "/none.sip", {});
  EXPECT_EQ(missing.result, "invalid");
  EXPECT_EQ(missing.reason, "cannot read the file");
  const Outcome garbage = runMessage(*chain, dir.write("garbage.sip", ""), {});
  EXPECT_EQ(garbage.result, "invalid");
  EXPECT_EQ(garbage.reason.rfind("not a SIP message: ", 0), 0u) << garbage.reason;
  const Outcome response = runMessage(
      *chain,
      dir.write("response.sip", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n"
                                "To: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"),
      {});
  EXPECT_EQ(response.result, "invalid");
  EXPECT_EQ(response.reason, "not a request");
}

TEST(PolicyRun, TheHopsOwnChecksComeFirst) {
  ScratchDir dir;
  std::string message = sampleMessage();
  message.replace(message.find("Max-Forwards: 70"), 16, "Max-Forwards: 0");
  const Outcome outcome = runMessage(*probeChain(R"([{"plugin": "probe"}])"), dir.write("mf0.sip", message), {});
  EXPECT_EQ(outcome.result, "reply");
  EXPECT_EQ(outcome.code, 483);
  EXPECT_EQ(outcome.reason.rfind("the hop itself rejects it: ", 0), 0u) << outcome.reason;
  EXPECT_TRUE(outcome.steps.empty()) << "no plugin saw it";
  EXPECT_EQ(outcome.wire.rfind("SIP/2.0 483 ", 0), 0u);
}

TEST(PolicyRun, AReplyCarriesItsCodeReasonAndHeaders) {
  ScratchDir dir;
  const auto chain = probeChain(R"([{"plugin": "probe", "action": "reply", "code": 403, "reason": "Ethical wall"}])");
  const Outcome outcome = runMessage(*chain, dir.write("a.sip", sampleMessage()), {});
  EXPECT_EQ(outcome.result, "reply");
  EXPECT_EQ(outcome.code, 403);
  EXPECT_EQ(outcome.reason, "Ethical wall");
  ASSERT_EQ(outcome.replyHeaders.size(), 1u);
  EXPECT_EQ(outcome.replyHeaders[0].first, "Warning");
  EXPECT_EQ(outcome.wire.rfind("SIP/2.0 403 Ethical wall\r\n", 0), 0u) << outcome.wire;
  ASSERT_EQ(outcome.steps.size(), 1u);
  EXPECT_EQ(outcome.steps[0].plugin, "probe");
}

TEST(PolicyRun, AForwardedMessageShowsTheEditsAndTags) {
  ScratchDir dir;
  const auto chain = probeChain(
      R"([{"plugin": "probe", "add_header": "X-Policy: checked", "append_body": " [checked]", "tag": "policy=wall"}])");
  RunOptions options;
  options.sourceIp = "203.0.113.7";
  const Outcome outcome = runMessage(*chain, dir.write("a.sip", sampleMessage()), options);
  EXPECT_EQ(outcome.result, "forward");
  EXPECT_TRUE(outcome.edited);
  EXPECT_NE(outcome.wire.find("\r\nX-Policy: checked\r\n"), std::string::npos) << outcome.wire;
  EXPECT_NE(outcome.wire.find("Same room as last week. [checked]"), std::string::npos);
  EXPECT_EQ(outcome.tags, (std::vector<std::pair<std::string, std::string>>{{"policy", "wall"}}));
  EXPECT_EQ(outcome.steps.back().plugin, "tag") << "tags are listed as steps";

  const Outcome unchanged = runMessage(*probeChain(R"([{"plugin": "probe"}])"), dir.write("b.sip", sampleMessage()), {});
  EXPECT_EQ(unchanged.result, "forward");
  EXPECT_FALSE(unchanged.edited);
  EXPECT_EQ(unchanged.wire, sampleMessage());
}

TEST(PolicyRun, DropsAndErrorsBothStopTheMessage) {
  ScratchDir dir;
  const std::string file = dir.write("a.sip", sampleMessage());
  const Outcome dropped = runMessage(*probeChain(R"([{"plugin": "probe", "action": "drop"}])"), file, {});
  EXPECT_EQ(dropped.result, "drop");
  EXPECT_EQ(dropped.reason, "probe drops");
  const Outcome failed =
      runMessage(*probeChain(R"([{"plugin": "probe", "action": "error", "fail_mode": "closed"}])"), file, {});
  EXPECT_EQ(failed.result, "reply") << "a closed plugin that fails answers with its fail code";
  EXPECT_EQ(failed.code, 503);
}

}  // namespace
}  // namespace sipwarden::app
