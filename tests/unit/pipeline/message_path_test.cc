// The named message path: run -> pending -> resume -> apply -> serialize,
// with resumption right after the filter that went pending, its fail mode
// applied to what it delivered, and the owner's give-up.
#include <gtest/gtest.h>

#include <Poco/Net/SocketAddress.h>

#include "pipeline/message_path.h"

namespace sipwarden::pipeline {
namespace {

const std::string kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKmp1\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=a\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: mp1\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 2\r\n\r\nhi";

// Adds a header naming itself, and counts its calls.
class StampFilter final : public Filter {
 public:
  StampFilter(std::string name, int& calls) : name_(std::move(name)), calls_(calls) {}
  Verdict onRequest(Exchange& exchange) override {
    ++calls_;
    exchange.edits().addHeader("X-Seen", name_);
    return Verdict::proceed();
  }
  void onResponse(Exchange& exchange) override { exchange.edits().addHeader("X-Back", name_); }
  void onEnd(Exchange&, int finalCode) override { ended_ = finalCode; }
  int ended_ = -1;

 private:
  std::string name_;
  int& calls_;
};

// Goes pending and leaves its PendingVerdict where the test can resume it.
class WaitingFilter final : public Filter {
 public:
  explicit WaitingFilter(std::shared_ptr<PendingVerdict>& slot) : slot_(slot) {}
  Verdict onRequest(Exchange& exchange) override {
    slot_ = exchange.pendingVerdict();
    return Verdict::pending();
  }

 private:
  std::shared_ptr<PendingVerdict>& slot_;
};

class MessagePathTest : public ::testing::Test {
 protected:
  void build(FailMode waitingFailMode) {
    std::vector<ChainEntry> entries(3);
    entries[0].name = "first";
    entries[0].filter = std::make_unique<StampFilter>("first", firstCalls);
    entries[1].name = "waiting";
    entries[1].filter = std::make_unique<WaitingFilter>(held);
    entries[1].failMode = waitingFailMode;
    entries[1].failCode = 500;
    entries[2].name = "last";
    entries[2].filter = std::make_unique<StampFilter>("last", lastCalls);
    for (auto& entry : entries) {
      entry.label = "plugins (" + entry.name + ")";
      entry.methods = MethodSet::all().bits();
    }
    chain = std::make_shared<const FilterChain>(std::move(entries));
    sip::ParseFailure failure;
    request = sip::Message::parse(kMessage, sip::Framing::Datagram, failure);
    ASSERT_NE(request, nullptr) << failure.reason;
  }
  std::unique_ptr<MessagePath> start() {
    return std::make_unique<MessagePath>(chain, *request, origin, Direction::FromClient, nullptr,
                                         [this](Verdict verdict) { delivered.push_back(std::move(verdict)); });
  }

  const transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
  std::shared_ptr<const FilterChain> chain;
  std::unique_ptr<sip::Message> request;
  std::shared_ptr<PendingVerdict> held;
  std::vector<Verdict> delivered;
  int firstCalls = 0;
  int lastCalls = 0;
};

TEST_F(MessagePathTest, AResumedChainGoesOnRightAfterThePendingFilter) {
  build(FailMode::Open);
  auto path = start();
  std::vector<TraceStep> trace;
  EXPECT_EQ(path->run(&trace).kind(), Verdict::Kind::Pending);
  EXPECT_TRUE(path->waiting());
  EXPECT_EQ(lastCalls, 0);
  ASSERT_NE(held, nullptr);
  EXPECT_TRUE(held->resume(Verdict::proceed()));
  ASSERT_EQ(delivered.size(), 1u) << "the verdict goes to the owner, not into the chain";
  EXPECT_EQ(lastCalls, 0) << "resuming is the owner's call, on its thread";
  EXPECT_TRUE(path->resume(std::move(delivered[0]), &trace).isContinue());
  EXPECT_FALSE(path->waiting());
  EXPECT_EQ(firstCalls, 1) << "filters before the pending one do not run again";
  EXPECT_EQ(lastCalls, 1);
  ASSERT_EQ(trace.size(), 4u);
  EXPECT_EQ(trace[1].verdict, "pending");
  EXPECT_EQ(trace[2].plugin, "waiting");
  EXPECT_EQ(trace[2].verdict, "continue");
  EXPECT_EQ(trace[3].plugin, "last");
  const std::string wire = path->serialize();
  EXPECT_NE(wire.find("X-Seen: first\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("X-Seen: last\r\n"), std::string::npos) << wire;
  sip::EditList edits;
  path->applyTo(edits);
  EXPECT_EQ(sip::serialize(*request, edits), wire);
}

TEST_F(MessagePathTest, ADeliveredReplyStopsTheChainAndNamesTheFilter) {
  build(FailMode::Open);
  auto path = start();
  ASSERT_EQ(path->run().kind(), Verdict::Kind::Pending);
  const Verdict verdict = path->resume(Verdict::reply(403, "Forbidden"));
  EXPECT_EQ(verdict.code(), 403);
  EXPECT_EQ(lastCalls, 0);
  EXPECT_EQ(path->exchange().stoppedBy(), "waiting");
}

TEST_F(MessagePathTest, ADeliveredErrorGetsThePendingFiltersFailMode) {
  build(FailMode::Closed);
  auto closed = start();
  ASSERT_EQ(closed->run().kind(), Verdict::Kind::Pending);
  const Verdict refused = closed->resume(Verdict::error("disk full"));
  EXPECT_EQ(refused.kind(), Verdict::Kind::Reply);
  EXPECT_EQ(refused.code(), 500);
  EXPECT_EQ(lastCalls, 0);

  build(FailMode::Open);
  auto open = start();
  ASSERT_EQ(open->run().kind(), Verdict::Kind::Pending);
  EXPECT_TRUE(open->resume(Verdict::error("disk full")).isContinue());
  EXPECT_EQ(lastCalls, 1);
}

TEST_F(MessagePathTest, GivingUpDropsUnclaimedWorkButWaitsForClaimedWork) {
  build(FailMode::Open);
  auto unclaimed = start();
  ASSERT_EQ(unclaimed->run().kind(), Verdict::Kind::Pending);
  EXPECT_TRUE(unclaimed->giveUp());
  EXPECT_FALSE(unclaimed->waiting());
  EXPECT_FALSE(held->resume(Verdict::proceed())) << "the work learns nobody waits";
  EXPECT_TRUE(delivered.empty());

  auto claimed = start();
  ASSERT_EQ(claimed->run().kind(), Verdict::Kind::Pending);
  ASSERT_TRUE(held->claim());
  EXPECT_FALSE(claimed->giveUp());
  EXPECT_TRUE(claimed->waiting()) << "claimed work's verdict must still be awaited";
}

TEST_F(MessagePathTest, WithoutADeliveryTheVerdictOfOfflineRunsIsDropped) {
  build(FailMode::Open);
  MessagePath offline(*chain, *request, origin, Direction::FromClient);
  ASSERT_EQ(offline.run().kind(), Verdict::Kind::Pending);
  EXPECT_TRUE(held->resume(Verdict::proceed())) << "accepted, and goes nowhere";
  EXPECT_EQ(lastCalls, 0);
}

TEST_F(MessagePathTest, ResponsesAndTheEndReachTheFiltersAndTheEndOnlyOnce) {
  build(FailMode::Open);
  auto path = start();
  ASSERT_EQ(path->run().kind(), Verdict::Kind::Pending);
  ASSERT_TRUE(path->resume(Verdict::proceed()).isContinue());
  sip::ParseFailure failure;
  auto response = sip::Message::parse(
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKmp1\r\n"
      "From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>;tag=b\r\nCall-ID: mp1\r\n"
      "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
      sip::Framing::Datagram, failure);
  ASSERT_NE(response, nullptr);
  sip::EditList edits;
  path->onResponse(*response, edits);
  const std::string back = sip::serialize(*response, edits);
  EXPECT_NE(back.find("X-Back: first\r\n"), std::string::npos) << back;
  EXPECT_NE(back.find("X-Back: last\r\n"), std::string::npos) << back;
  path->end(200);
  path->end(500);
  const auto& first = static_cast<const StampFilter&>(*chain->entries()[0].filter);
  EXPECT_EQ(first.ended_, 200);
}

}  // namespace
}  // namespace sipwarden::pipeline
