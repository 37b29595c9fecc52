// `policy test --cases DIR`: NAME.sip messages checked against NAME.expect,
// in name order, each difference reported with its line.
#include "app/policy_cases.h"

#include <gtest/gtest.h>

#include "app/app_test_support.h"
#include "app/policy_test_support.h"

namespace sipwarden::app {
namespace {

using testing::probeChain;
using testing::sampleMessage;
using testing::ScratchDir;

struct Cases {
  int status;
  std::string output;
};

Cases runCases(const std::string& blocks, const std::string& dir) {
  const auto chain = probeChain(blocks);
  ::testing::internal::CaptureStdout();
  const int status = runPolicyCases(*chain, dir);
  return {status, ::testing::internal::GetCapturedStdout()};
}

constexpr const char* kEditing =
    R"([{"plugin": "probe", "add_header": "X-Policy: checked", "append_body": " [checked]", "tag": "policy=wall"}])";

TEST(PolicyCases, ExpectationsThatHoldPass) {
  ScratchDir dir;
  dir.write("01-edited.sip", sampleMessage());
  dir.write("01-edited.expect",
            "# what the probe does to every message\n"
            "verdict: forward\n"
            "header: X-Policy: checked\n"
            "no-header: X-Debug\n"
            "body-contains: [checked]\n"
            "tag: policy=wall\n"
            "source: 203.0.113.7\n"
            "direction: from_client\n"
            "time: 2026-11-24T22:30:00Z\n");
  const Cases run = runCases(kEditing, dir.path());
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output, "PASS 01-edited.sip\n1 of 1 cases passed\n");
}

TEST(PolicyCases, EachDifferenceIsReportedWithItsLine) {
  ScratchDir dir;
  dir.write("a.sip", sampleMessage());
  dir.write("a.expect",
            "verdict: reply 403\n"
            "header: X-Policy: other\n"
            "header: X-Missing: x\n"
            "no-header: X-Policy\n"
            "body-contains: absent\n"
            "tag: policy=none\n"
            "colour: blue\n"
            "no colon here\n"
            "time: yesterday\n");
  const Cases run = runCases(kEditing, dir.path());
  EXPECT_EQ(run.status, 1);
  const std::string path = dir.path() + "/a.expect";
  EXPECT_EQ(run.output,
            "FAIL a.sip\n"
            "     " + path + ":8: expected 'key: value'\n"
            "     " + path + ":9: time: expected an ISO 8601 date and time\n"
            "     line 1: verdict is forward (), expected reply 403\n"
            "     line 2: X-Policy is 'checked', expected 'other'\n"
            "     line 3: no X-Missing header\n"
            "     line 4: X-Policy is present: checked\n"
            "     line 5: the body does not contain 'absent'\n"
            "     line 6: no tag policy=none (tags: policy=wall)\n"
            "     line 7: unknown expectation 'colour'\n"
            "0 of 1 cases passed\n");
}

TEST(PolicyCases, RepliesAreCheckedByCodeReasonAndWarning) {
  ScratchDir dir;
  dir.write("a.sip", sampleMessage());
  dir.write("a.expect", "verdict: reply 403\nreason: Ethical wall\nwarning: probe\n");
  dir.write("b.sip", sampleMessage());
  dir.write("b.expect", "reason: Other\nwarning: keyword\nheader: X-Policy: checked\n");
  dir.write("c.sip", sampleMessage());  // no c.expect
  const Cases run = runCases(R"([{"plugin": "probe", "action": "reply", "code": 403, "reason": "Ethical wall"}])",
                           dir.path());
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output,
            "PASS a.sip\n"
            "FAIL b.sip\n"
            "     line 1: reason is 'Ethical wall', expected 'Other'\n"
            "     line 2: no Warning containing 'keyword'\n"
            "     line 3: header needs a forwarded message; the verdict is reply 403\n"
            "FAIL c.sip\n"
            "     no " + dir.path() + "/c.expect beside the message\n"
            "1 of 3 cases passed\n");
}

TEST(PolicyCases, ADirectoryWithoutCasesIsAnError) {
  ScratchDir dir;
  dir.write("notes.txt", "no cases here");
  const auto chain = probeChain(R"([{"plugin": "probe"}])");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(runPolicyCases(*chain, dir.path()), 2);
  EXPECT_EQ(runPolicyCases(*chain, dir.path() + "/missing"), 2);
  const std::string errors = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("sipwarden: no NAME.sip cases in " + dir.path() + "\n"), std::string::npos) << errors;
}

}  // namespace
}  // namespace sipwarden::app
