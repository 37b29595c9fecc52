// SRV ordering (RFC 2782) and the proxy's wait for a name lookup, with a
// resolver the test answers by hand.
#include <gtest/gtest.h>

#include "proxy/proxy.h"
#include "proxy/resolver.h"

namespace sipwarden::proxy {
namespace {

using transport::Origin;
using transport::Protocol;
using transport::Target;

TEST(OrderSrvTest, LowestPriorityFirstAndWeightsDrawnByRunningSum) {
  std::vector<SrvRecord> records = {{20, 0, 5060, "backup"}, {10, 10, 5060, "light"}, {10, 90, 5060, "heavy"}};
  // pick(total) = total: the last record whose running sum reaches it.
  auto ordered = orderSrv(records, [](unsigned total) { return total; });
  ASSERT_EQ(ordered.size(), 3u);
  EXPECT_EQ(ordered[0].target, "heavy");
  EXPECT_EQ(ordered[1].target, "light");
  EXPECT_EQ(ordered[2].target, "backup");
  // pick = 1: the first record with weight, "light".
  ordered = orderSrv(records, [](unsigned) { return 1u; });
  EXPECT_EQ(ordered[0].target, "light");
  EXPECT_EQ(ordered[2].target, "backup");
}

TEST(OrderSrvTest, ZeroWeightsComeFirstWhenTheDrawIsZero) {
  std::vector<SrvRecord> records = {{10, 5, 1, "weighted"}, {10, 0, 2, "zero"}};
  auto ordered = orderSrv(records, [](unsigned) { return 0u; });
  EXPECT_EQ(ordered[0].target, "zero");
  EXPECT_EQ(ordered[1].target, "weighted");
}

class ManualResolver final : public Resolver {
 public:
  std::optional<NameAnswer> cached(const NameQuery& query) override {
    auto found = answers.find(query.key());
    if (found == answers.end()) return std::nullopt;
    return found->second;
  }
  void lookup(const NameQuery& query, std::function<void()> done) override {
    asked.push_back(query);
    pending.push_back(std::move(done));
  }
  void answer(const NameQuery& query, NameAnswer result) {
    answers[query.key()] = std::move(result);
    for (auto& done : std::exchange(pending, {})) done();
  }
  std::map<std::string, NameAnswer> answers;
  std::vector<NameQuery> asked;
  std::vector<std::function<void()>> pending;
};

struct Recorder final : transport::Sender {
  void send(const Target& target, std::string_view bytes) override { sent.emplace_back(target, std::string(bytes)); }
  std::vector<std::pair<Target, std::string>> sent;
};

std::string request(std::string_view method, std::string_view branch) {
  std::string m(method);
  return m + " sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=" + std::string(branch) +
         "\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.test>\r\n"
         "Call-ID: dns-" + std::string(branch) + "\r\nCSeq: 1 " + m + "\r\nContent-Length: 0\r\n\r\n";
}

class ProxyDnsTest : public ::testing::Test {
 protected:
  ProxyDnsTest() : proxy(ProxyConfig{}, sender, clock) { proxy.setResolver(&resolver); }
  void fromCaller(const std::string& bytes) {
    proxy.onMessage(bytes, Origin{Protocol::Udp, Poco::Net::SocketAddress("127.0.0.1", 5070), 0});
  }
  static int status(const std::string& bytes) {
    return bytes.starts_with("SIP/2.0 ") ? std::stoi(bytes.substr(8, 3)) : 0;
  }
  Recorder sender;
  ManualClock clock;
  ManualResolver resolver;
  Proxy proxy;
};

TEST_F(ProxyDnsTest, ARequestWaitsForItsNameAndThenGoesToEveryAnswerInOrder) {
  fromCaller(request("MESSAGE", "z9hG4bKdns1"));
  EXPECT_TRUE(sender.sent.empty()) << "nothing leaves before the name is known";
  ASSERT_EQ(resolver.asked.size(), 1u);
  EXPECT_EQ(resolver.asked[0].host, "example.test");
  EXPECT_EQ(resolver.asked[0].port, 0) << "no port in the URI, so SRV applies";
  const Poco::Net::SocketAddress first("127.0.0.1", 5091), second("127.0.0.1", 5092);
  resolver.answer(resolver.asked[0], NameAnswer{{Target{Protocol::Udp, first, 0, "example.test"},
                                                 Target{Protocol::Udp, second, 0, "example.test"}}, ""});
  proxy.drainResumes();
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].first.address, first);
  EXPECT_NE(sender.sent[0].second.find("Max-Forwards: 69"), std::string::npos) << "edits made once";
  EXPECT_EQ(sender.sent[0].second.find("Max-Forwards: 68"), std::string::npos);
  // the first answer is busy: the second one is tried
  std::string busy = "SIP/2.0 503 Busy\r\n" + sender.sent[0].second.substr(sender.sent[0].second.find("Via:"));
  busy = busy.substr(0, busy.find("\r\n\r\n") + 4);
  proxy.onMessage(busy, Origin{Protocol::Udp, first, 0});
  ASSERT_GE(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent.back().first.address, second);
}

TEST_F(ProxyDnsTest, AFailedLookupIsAnswered503WithTheReason) {
  fromCaller(request("MESSAGE", "z9hG4bKdns2"));
  resolver.answer(resolver.asked.at(0), NameAnswer{{}, "Cannot resolve example.test"});
  proxy.drainResumes();
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(status(sender.sent[0].second), 503);
  EXPECT_NE(sender.sent[0].second.find("Cannot resolve example.test"), std::string::npos);
}

TEST_F(ProxyDnsTest, ALookupThatNeverAnswersEndsIn503) {
  fromCaller(request("MESSAGE", "z9hG4bKdns3"));
  for (int i = 0; i < 40; ++i) {
    clock.advance(Millis(1000));
    proxy.runTimers();
  }
  ASSERT_FALSE(sender.sent.empty());
  EXPECT_EQ(status(sender.sent[0].second), 503);
  EXPECT_NE(sender.sent[0].second.find("DNS lookup timed out"), std::string::npos);
  // the late answer finds nothing waiting
  resolver.answer(resolver.asked.at(0), NameAnswer{{Target{Protocol::Udp, Poco::Net::SocketAddress("127.0.0.1", 5091), 0, ""}}, ""});
  proxy.drainResumes();
  EXPECT_EQ(sender.sent.size(), 1u);
}

TEST_F(ProxyDnsTest, CancelWhileWaitingAnswers487AndSendsNothingDownstream) {
  std::string invite = request("INVITE", "z9hG4bKdns4");
  fromCaller(invite);
  ASSERT_EQ(sender.sent.size(), 1u);  // 100 Trying
  std::string cancel = invite;
  cancel.replace(0, 6, "CANCEL");
  cancel.replace(cancel.find("CSeq: 1 INVITE"), 14, "CSeq: 1 CANCEL");
  fromCaller(cancel);
  ASSERT_EQ(sender.sent.size(), 3u);
  EXPECT_EQ(status(sender.sent[1].second), 200);
  EXPECT_EQ(status(sender.sent[2].second), 487);
  resolver.answer(resolver.asked.at(0), NameAnswer{{Target{Protocol::Udp, Poco::Net::SocketAddress("127.0.0.1", 5091), 0, ""}}, ""});
  proxy.drainResumes();
  EXPECT_EQ(sender.sent.size(), 3u) << "the INVITE never leaves";
}

TEST_F(ProxyDnsTest, AddressLiteralsNeedNoLookup) {
  std::string direct = request("MESSAGE", "z9hG4bKdns5");
  direct.replace(direct.find("sip:bob@example.test"), 20, "sip:bob@127.0.0.1:5093");
  fromCaller(direct);
  EXPECT_TRUE(resolver.asked.empty());
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].first.address, Poco::Net::SocketAddress("127.0.0.1", 5093));
}

}  // namespace
}  // namespace sipwarden::proxy
