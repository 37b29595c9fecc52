// Who may pass and how fast: networks, per-listener allow lists, the
// upstream exemption and the per-source token buckets (driven by a
// ManualClock).
#include <gtest/gtest.h>

#include <stdexcept>

#include "proxy/admission.h"

namespace sipwarden::proxy {
namespace {

transport::Origin from(const std::string& ip, transport::Protocol protocol = transport::Protocol::Udp) {
  return transport::Origin{protocol, Poco::Net::SocketAddress(ip, 5060), 0};
}

Poco::Net::IPAddress ip(const std::string& text) { return Poco::Net::IPAddress(text); }

TEST(Network, ContainsByPrefix) {
  const Network ten = Network::parse("10.0.0.0/8");
  EXPECT_TRUE(ten.contains(ip("10.200.3.4")));
  EXPECT_FALSE(ten.contains(ip("11.0.0.1")));
  EXPECT_TRUE(Network::parse("10.1.2.3/8").contains(ip("10.9.9.9")));  // host bits ignored
  EXPECT_TRUE(Network::parse("192.0.2.7").contains(ip("192.0.2.7")));
  EXPECT_FALSE(Network::parse("192.0.2.7").contains(ip("192.0.2.8")));
  EXPECT_TRUE(Network::parse("2001:db8::/32").contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(Network::parse("2001:db8::/32").contains(ip("10.0.0.1")));
  EXPECT_TRUE(Network::parse("0.0.0.0/0").contains(ip("203.0.113.9")));
}

TEST(Network, BadTextIsRefusedWithTheReason) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0/8", "example.com", "10.0.0.0/", "10.0.0.0/x", "::1/129"}) {
    EXPECT_THROW(Network::parse(bad), std::invalid_argument) << bad;
  }
}

TEST(Admission, EveryoneWithoutAnAllowList) {
  ManualClock clock;
  Admission admission({}, {}, clock);
  EXPECT_EQ(admission.checkSource(from("203.0.113.9")), Admission::Decision::Admit);
}

TEST(Admission, AllowListsPerListenerAndTheDeniedAction) {
  ManualClock clock;
  AccessSettings access;
  access.allowUdp = {Network::parse("10.0.0.0/8")};
  Admission forbid(access, {}, clock);
  EXPECT_EQ(forbid.checkSource(from("10.1.1.1")), Admission::Decision::Admit);
  EXPECT_EQ(forbid.checkSource(from("192.0.2.1")), Admission::Decision::Forbid);
  EXPECT_EQ(forbid.checkSource(from("192.0.2.1", transport::Protocol::Tcp)), Admission::Decision::Admit);
  access.dropDenied = true;
  Admission drop(access, {}, clock);
  EXPECT_EQ(drop.checkSource(from("192.0.2.1")), Admission::Decision::Drop);
  drop.exempt(ip("192.0.2.1"));  // an upstream
  EXPECT_EQ(drop.checkSource(from("192.0.2.1")), Admission::Decision::Admit);
}

TEST(Admission, TokenBucketPerSourceAndMethod) {
  ManualClock clock;
  RateSettings rates;
  rates.messagesPerSecond = 2;
  rates.invitesPerSecond = 1;
  rates.burstSeconds = 2;  // 4 MESSAGEs, 2 INVITEs at once
  Admission admission({}, rates, clock);
  const auto alice = from("192.0.2.1");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(admission.checkRate("MESSAGE", alice), Admission::Decision::Admit) << i;
  EXPECT_EQ(admission.checkRate("MESSAGE", alice), Admission::Decision::Throttle);
  EXPECT_EQ(admission.checkRate("MESSAGE", from("192.0.2.2")), Admission::Decision::Admit);  // another source
  EXPECT_EQ(admission.checkRate("INVITE", alice), Admission::Decision::Admit);               // another bucket
  EXPECT_EQ(admission.checkRate("INVITE", alice), Admission::Decision::Admit);
  EXPECT_EQ(admission.checkRate("INVITE", alice), Admission::Decision::Throttle);
  EXPECT_EQ(admission.checkRate("OPTIONS", alice), Admission::Decision::Admit);  // not limited
  clock.advance(Millis(500));  // one MESSAGE token back
  EXPECT_EQ(admission.checkRate("MESSAGE", alice), Admission::Decision::Admit);
  EXPECT_EQ(admission.checkRate("MESSAGE", alice), Admission::Decision::Throttle);
  clock.advance(Millis(60000));  // never more than the burst
  for (int i = 0; i < 4; ++i) EXPECT_EQ(admission.checkRate("MESSAGE", alice), Admission::Decision::Admit) << i;
  EXPECT_EQ(admission.checkRate("MESSAGE", alice), Admission::Decision::Throttle);
  admission.exempt(ip("192.0.2.1"));
  EXPECT_EQ(admission.checkRate("MESSAGE", alice), Admission::Decision::Admit);
}

TEST(Admission, AFloodOfSourcesDoesNotGrowWithoutBound) {
  ManualClock clock;
  RateSettings rates;
  rates.messagesPerSecond = 1;
  Admission admission({}, rates, clock);
  for (int i = 0; i < 120000; ++i) {
    const std::string address = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                                std::to_string(i % 256);
    (void)admission.checkRate("MESSAGE", from(address));
    if (i % 1000 == 0) clock.advance(Millis(100));
  }
  EXPECT_LE(admission.trackedSources(), 100000u);
}

}  // namespace
}  // namespace sipwarden::proxy
