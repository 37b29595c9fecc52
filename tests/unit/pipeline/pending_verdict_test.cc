// The pending verdict's one atomic decision between the work that resumes a
// transaction and the transaction that gives up at 64 x T1, alone and inside
// the proxy (manual clock).
#include <gtest/gtest.h>

#include "pipeline/chain.h"
#include "pipeline/pending_verdict.h"
#include "proxy/proxy.h"

namespace sipwarden::pipeline {
namespace {

TEST(PendingResume, AGiveUpBeforeTheClaimDropsTheWork) {
  int delivered = 0;
  PendingResume pending([&](Verdict) { ++delivered; });
  EXPECT_TRUE(pending.giveUp());
  EXPECT_TRUE(pending.abandoned());
  EXPECT_FALSE(pending.claim());
  EXPECT_FALSE(pending.resume(Verdict::proceed()));
  EXPECT_EQ(delivered, 0);
}

TEST(PendingResume, AClaimedTransactionCannotGiveUp) {
  int delivered = 0;
  PendingResume pending([&](Verdict) { ++delivered; });
  EXPECT_TRUE(pending.claim());
  EXPECT_TRUE(pending.claim()) << "claiming twice is harmless";
  EXPECT_FALSE(pending.giveUp());
  EXPECT_FALSE(pending.abandoned());
  EXPECT_TRUE(pending.resume(Verdict::proceed()));
  EXPECT_FALSE(pending.resume(Verdict::proceed())) << "once";
  EXPECT_FALSE(pending.giveUp()) << "resumed: the verdict is on its way";
  EXPECT_EQ(delivered, 1);
}

TEST(PendingResume, AnUnclaimedResumeRacesTheGiveUp) {
  int delivered = 0;
  PendingResume pending([&](Verdict) { ++delivered; });
  EXPECT_TRUE(pending.resume(Verdict::proceed()));
  EXPECT_FALSE(pending.giveUp());
  EXPECT_EQ(delivered, 1);
}

// A filter that leaves its pending verdict where the test can claim or
// resume it.
class HoldingFilter final : public Filter {
 public:
  explicit HoldingFilter(std::shared_ptr<PendingVerdict>& slot) : slot_(slot) {}
  MethodSet methods() const override { return MethodSet(MethodSet::Message); }
  Verdict onRequest(Exchange& exchange) override {
    slot_ = exchange.pendingVerdict();
    return Verdict::pending();
  }

 private:
  std::shared_ptr<PendingVerdict>& slot_;
};

class RecordingSender final : public transport::Sender {
 public:
  void send(const transport::Target&, std::string_view bytes) override { sent.emplace_back(bytes); }
  std::vector<std::string> sent;
};

const std::string kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKp1\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=a\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: p1\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Length: 0\r\n\r\n";

class PendingInProxy : public ::testing::Test {
 protected:
  PendingInProxy() {
    proxy::ProxyConfig config;
    config.upstreams = {{"127.0.0.1", 5080, transport::Protocol::Udp}};
    proxy = std::make_unique<proxy::Proxy>(config, sender, clock);
    std::vector<ChainEntry> entries(1);
    entries[0].name = "holding";
    entries[0].label = "plugins[0] (holding)";
    entries[0].filter = std::make_unique<HoldingFilter>(held);
    entries[0].methods = MethodSet::Message;
    proxy->setChain(std::make_shared<const FilterChain>(std::move(entries)));
    proxy->onMessage(kMessage,
                     transport::Origin{transport::Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0});
  }
  void advance(proxy::Millis by) {
    for (proxy::Millis step{0}; step < by; step += proxy::Millis(100)) {
      clock.advance(proxy::Millis(100));
      proxy->runTimers();
    }
  }

  RecordingSender sender;
  proxy::ManualClock clock;
  std::unique_ptr<proxy::Proxy> proxy;
  std::shared_ptr<PendingVerdict> held;
};

TEST_F(PendingInProxy, UnclaimedWorkIsGivenUpAt64T1AndItsLateVerdictIgnored) {
  ASSERT_NE(held, nullptr);
  advance(proxy::Millis(64 * 500));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_TRUE(sender.sent[0].starts_with("SIP/2.0 503 ")) << sender.sent[0];
  EXPECT_TRUE(held->abandoned());
  EXPECT_FALSE(held->claim());
  EXPECT_FALSE(held->resume(Verdict::proceed()));
  proxy->drainResumes();
  EXPECT_EQ(sender.sent.size(), 1u);
}

TEST_F(PendingInProxy, ClaimedWorkKeepsTheTransactionWaitingPast64T1) {
  ASSERT_TRUE(held->claim());
  advance(proxy::Millis(64 * 500 + 10 * 500));
  EXPECT_TRUE(sender.sent.empty()) << "no 503 for claimed work: " << sender.sent.at(0);
  EXPECT_GE(proxy->counters().filterWaitsExtended, 1u);
  EXPECT_TRUE(held->resume(Verdict::proceed()));
  proxy->drainResumes();
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_TRUE(sender.sent[0].starts_with("MESSAGE ")) << sender.sent[0];
}

}  // namespace
}  // namespace sipwarden::pipeline
