// The proxy core driven directly: a recording sender stands in for the
// transport and a manual clock drives the transaction timers.
#include <gtest/gtest.h>

#include "proxy/proxy.h"

namespace sipwarden::proxy {
namespace {

using transport::Origin;
using transport::Protocol;
using transport::Target;

struct Sent {
  Target target;
  std::string bytes;
};

class RecordingSender final : public transport::Sender {
 public:
  void send(const Target& target, std::string_view bytes) override { sent.push_back({target, std::string(bytes)}); }
  std::vector<Sent> take() { return std::exchange(sent, {}); }
  std::vector<Sent> sent;
};

const Poco::Net::SocketAddress kCaller("127.0.0.1", 5070);
const Poco::Net::SocketAddress kUpstream("127.0.0.1", 5080);
const Poco::Net::SocketAddress kUpstream2("127.0.0.1", 5081);

std::string request(std::string_view method, std::string_view branch = "z9hG4bKc1", std::string extra = "",
                    std::string_view toTag = "") {
  std::string m(method);
  return m + " sip:bob@example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=" + std::string(branch) + ";rport\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:alice@example.com>;tag=a\r\n"
             "To: <sip:bob@example.com>" + (toTag.empty() ? "" : ";tag=" + std::string(toTag)) + "\r\n"
             "Call-ID: call-1\r\n"
             "CSeq: 1 " + m + "\r\n" + extra + "Content-Length: 0\r\n\r\n";
}

// A response to bytes the proxy sent downstream, as the next hop writes it.
std::string answer(const std::string& forwarded, int code, std::string_view reason, std::string_view toTag = "b") {
  sip::ParseFailure failure;
  auto message = sip::Message::parse(forwarded, sip::Framing::Datagram, failure);
  std::string out = "SIP/2.0 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  for (const auto& field : message->headers()) {
    if (field.id == sip::HeaderId::Via || field.id == sip::HeaderId::From || field.id == sip::HeaderId::CallId ||
        field.id == sip::HeaderId::CSeq) {
      out += std::string(field.raw) + "\r\n";
    } else if (field.id == sip::HeaderId::To) {
      out += std::string(field.raw) + (code > 100 ? ";tag=" + std::string(toTag) : "") + "\r\n";
    }
  }
  return out + "Content-Length: 0\r\n\r\n";
}

int statusOf(const std::string& bytes) { return bytes.starts_with("SIP/2.0 ") ? std::stoi(bytes.substr(8, 3)) : 0; }

std::string headerOf(const std::string& bytes, std::string_view name) {
  sip::ParseFailure failure;
  auto message = sip::Message::parse(bytes, sip::Framing::Datagram, failure);
  return message ? std::string(message->header(name).value_or("")) : "";
}

class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest() { rebuild({{"127.0.0.1", 5080, Protocol::Udp}}); }

  void rebuild(std::vector<Upstream> upstreams) {
    ProxyConfig config;
    config.advertisedHost = "127.0.0.1";
    config.udpPort = 5060;
    config.tcpPort = 5060;
    config.upstreams = std::move(upstreams);
    proxy = std::make_unique<Proxy>(config, sender, clock);
  }

  void fromCaller(const std::string& bytes) { proxy->onMessage(bytes, Origin{Protocol::Udp, kCaller, 0}); }
  void fromUpstream(const std::string& bytes, const Poco::Net::SocketAddress& from = kUpstream) {
    proxy->onMessage(bytes, Origin{Protocol::Udp, from, 0});
  }
  void advance(Millis by) {
    // Step in small increments so every timer fires at its own time.
    for (Millis step{0}; step < by; step += Millis(10)) {
      clock.advance(Millis(10));
      proxy->runTimers();
    }
  }

  RecordingSender sender;
  ManualClock clock;
  std::unique_ptr<Proxy> proxy;
};

TEST_F(ProxyTest, ForwardsWithViaAndMaxForwardsAndRelaysTheAnswer) {
  fromCaller(request("MESSAGE"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target.address, kUpstream);
  EXPECT_EQ(headerOf(sent[0].bytes, "Max-Forwards"), "69");
  EXPECT_TRUE(headerOf(sent[0].bytes, "Via").starts_with("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsw"));
  EXPECT_NE(sent[0].bytes.find("rport=5070"), std::string::npos);

  fromUpstream(answer(sent[0].bytes, 200, "OK"));
  auto back = sender.take();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].target.address, kCaller);
  EXPECT_EQ(statusOf(back[0].bytes), 200);
  EXPECT_EQ(headerOf(back[0].bytes, "Via").find("z9hG4bKsw"), std::string::npos) << "our Via is removed";
}

TEST_F(ProxyTest, AFinishedTransactionLetsGoOfTheForwardedRequest) {
  // A lingering transaction only absorbs retransmissions: it keeps its keys
  // and the last response, not the request it forwarded (a 1000-byte body
  // here). At 5,000 MESSAGEs/s every byte kept is 25,000 times over.
  std::string big = request("MESSAGE");
  big.replace(big.find("Content-Length: 0"), 17, "Content-Length: 1000");
  big += std::string(1000, 'x');
  fromCaller(big);
  const auto forwarded = sender.take().at(0).bytes;
  ASSERT_GT(forwarded.size(), 1000u);
  EXPECT_GT(proxy->heldBufferBytes(), 2000u) << "the request and the forwarded copy while in flight";

  fromUpstream(answer(forwarded, 200, "OK"));
  const auto relayed = sender.take().at(0).bytes;
  ASSERT_EQ(proxy->transactionCount(), 1u) << "still lingering for retransmissions";
  EXPECT_LT(proxy->heldBufferBytes(), relayed.size() + 500) << "the response and the keys, nothing more";

  fromCaller(big);
  ASSERT_EQ(sender.take().at(0).bytes, relayed) << "a retransmission still gets the last response";
}

TEST_F(ProxyTest, ALingeringTransactionIsACompactRecordThatStillAbsorbsRetransmissions) {
  // A full Cell is ~760 bytes before any buffer; lingering transactions
  // (25,000 and more at 5,000 MESSAGEs/s) keep only keys, the last
  // response and where it goes.
  fromCaller(request("MESSAGE"));
  const auto forwarded = sender.take().at(0).bytes;
  fromUpstream(answer(forwarded, 200, "OK"));
  const auto relayed = sender.take().at(0).bytes;
  ASSERT_EQ(proxy->transactionCount(), 1u);
  EXPECT_EQ(proxy->lingeringCount(), 1u);
  EXPECT_LT(proxy->heldBufferBytes(), relayed.size() + 320) << "state object, keys and the response";

  fromCaller(request("MESSAGE"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u) << "Timer J: the caller's retransmission gets the response again";
  EXPECT_EQ(sent[0].bytes, relayed);
  EXPECT_EQ(sent[0].target.address, kCaller);
  fromUpstream(answer(forwarded, 200, "OK"));
  EXPECT_TRUE(sender.take().empty()) << "Timer K: the next hop's retransmission stops here";
  EXPECT_EQ(proxy->counters().retransmissionsAbsorbed, 2u);

  advance(Millis(5010));
  EXPECT_EQ(proxy->transactionCount(), 0u) << "the record expires with the linger";
  fromUpstream(answer(forwarded, 200, "OK"));
  EXPECT_EQ(sender.take().size(), 1u) << "after it, a response is relayed statelessly by its Via";
}

TEST_F(ProxyTest, TheTimerQueueHoldsOneEntryPerTransaction) {
  // An answered request's 32 s Timer F must not stay queued: at 5,000/s
  // that was 160,000 stale entries.
  for (int i = 0; i < 100; ++i) {
    const std::string branch = "z9hG4bKq" + std::to_string(i);
    fromCaller(request("MESSAGE", branch));
    fromUpstream(answer(sender.take().at(0).bytes, 200, "OK"));
    sender.take();
  }
  EXPECT_EQ(proxy->lingeringCount(), 100u);
  EXPECT_LE(proxy->queuedTimerCount(), 100u);
  advance(Millis(1000));
  EXPECT_LE(proxy->queuedTimerCount(), 100u) << "the next deadline (the linger) queued when the first fired";
  EXPECT_EQ(proxy->lingeringCount(), 100u);
  fromCaller(request("MESSAGE", "z9hG4bKq7"));
  EXPECT_EQ(statusOf(sender.take().at(0).bytes), 200) << "still absorbing";
  advance(Millis(4010));
  EXPECT_EQ(proxy->transactionCount(), 0u);
  EXPECT_EQ(proxy->queuedTimerCount(), 0u);
}

TEST_F(ProxyTest, ALingeringInviteAfterNon2xxResendsItsAckAndAbsorbsTheCallers) {
  fromCaller(request("INVITE"));
  const std::string forwarded = sender.take().at(1).bytes;
  fromUpstream(answer(forwarded, 486, "Busy Here"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 2u);
  const std::string ack = sent[0].bytes;
  const std::string busy = sent[1].bytes;
  EXPECT_EQ(proxy->lingeringCount(), 0u) << "Timer G/H still need the full transaction";
  fromCaller(request("ACK"));
  EXPECT_TRUE(sender.take().empty());
  EXPECT_EQ(proxy->lingeringCount(), 1u) << "confirmed: only lingering is left";

  fromUpstream(answer(forwarded, 486, "Busy Here"));
  sent = sender.take();
  ASSERT_EQ(sent.size(), 1u) << "a retransmitted 486 gets our ACK again";
  EXPECT_EQ(sent[0].bytes, ack);
  EXPECT_EQ(sent[0].target.address, kUpstream);
  fromCaller(request("INVITE"));
  sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].bytes, busy);
  fromCaller(request("ACK"));
  EXPECT_TRUE(sender.take().empty()) << "Timer I: the ACK's retransmission stops here";
  fromCaller(request("CANCEL"));
  sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(statusOf(sent[0].bytes), 200) << "too late to cancel, nothing goes downstream";
  advance(Millis(5010));
  EXPECT_EQ(proxy->transactionCount(), 0u);
}

TEST_F(ProxyTest, ALingeringInviteAfter2xxRelaysRetransmitted2xxAndForwardsTheAck) {
  fromCaller(request("INVITE"));
  const std::string forwarded = sender.take().at(1).bytes;
  fromUpstream(answer(forwarded, 200, "OK"));
  const std::string ok = sender.take().at(0).bytes;
  EXPECT_EQ(proxy->lingeringCount(), 1u);
  fromUpstream(answer(forwarded, 200, "OK"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].bytes, ok);
  EXPECT_EQ(sent[0].target.address, kCaller);
  fromCaller(request("INVITE"));
  EXPECT_TRUE(sender.take().empty()) << "absorbed, and no response to repeat (RFC 6026)";
  fromCaller(request("ACK", "z9hG4bKc2", "", "b"));
  sent = sender.take();
  ASSERT_EQ(sent.size(), 1u) << "the ACK for a 2xx is end to end";
  EXPECT_TRUE(sent[0].bytes.starts_with("ACK "));
  advance(Millis(5010));
  EXPECT_EQ(proxy->transactionCount(), 0u);
}

TEST_F(ProxyTest, RetransmissionsAreAbsorbedAndTheLastResponseRepeated) {
  fromCaller(request("MESSAGE"));
  const auto forwarded = sender.take().at(0).bytes;
  fromCaller(request("MESSAGE"));
  EXPECT_TRUE(sender.take().empty()) << "nothing yet to repeat, nothing forwarded again";
  fromUpstream(answer(forwarded, 200, "OK"));
  sender.take();
  fromCaller(request("MESSAGE"));
  auto repeated = sender.take();
  ASSERT_EQ(repeated.size(), 1u);
  EXPECT_EQ(statusOf(repeated[0].bytes), 200);
  EXPECT_EQ(proxy->counters().retransmissionsAbsorbed, 2u);
}

TEST_F(ProxyTest, TimerERetransmitsAndTimerFAnswers408) {
  fromCaller(request("MESSAGE"));
  sender.take();
  advance(Millis(500));
  EXPECT_EQ(sender.take().size(), 1u) << "Timer E at T1";
  advance(Millis(1000));
  EXPECT_EQ(sender.take().size(), 1u) << "then 2 x T1";
  advance(Millis(32000));
  auto sent = sender.take();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(statusOf(sent.back().bytes), 408);
  EXPECT_EQ(sent.back().target.address, kCaller);
  advance(Millis(40000));
  EXPECT_EQ(proxy->transactionCount(), 0u) << "state expires";
}

TEST_F(ProxyTest, InviteGetsTryingAndNon2xxIsAckedHopByHop) {
  fromCaller(request("INVITE"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(statusOf(sent[0].bytes), 100);
  const std::string forwarded = sent[1].bytes;
  EXPECT_NE(forwarded.find("Record-Route: <sip:127.0.0.1:5060;lr>"), std::string::npos);

  fromUpstream(answer(forwarded, 180, "Ringing"));
  EXPECT_EQ(statusOf(sender.take().at(0).bytes), 180);
  fromUpstream(answer(forwarded, 486, "Busy Here"));
  sent = sender.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].bytes.starts_with("ACK sip:bob@example.com SIP/2.0"));
  EXPECT_EQ(headerOf(sent[0].bytes, "Via"), headerOf(forwarded, "Via")) << "ACK reuses the INVITE branch";
  EXPECT_EQ(statusOf(sent[1].bytes), 486);

  fromCaller(request("ACK"));
  EXPECT_TRUE(sender.take().empty()) << "the caller's ACK for a non-2xx stops here";
  advance(Millis(40000));
  EXPECT_EQ(proxy->transactionCount(), 0u);
}

TEST_F(ProxyTest, CancelAfterRingingIsAnsweredAndSentDownstream) {
  fromCaller(request("INVITE"));
  const std::string forwarded = sender.take().at(1).bytes;
  fromUpstream(answer(forwarded, 180, "Ringing"));
  sender.take();
  fromCaller(request("CANCEL"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(statusOf(sent[0].bytes), 200);
  EXPECT_TRUE(sent[1].bytes.starts_with("CANCEL sip:bob@example.com"));
  EXPECT_EQ(headerOf(sent[1].bytes, "Via"), headerOf(forwarded, "Via"));

  fromUpstream(answer(sent[1].bytes, 200, "OK"));
  EXPECT_TRUE(sender.take().empty()) << "CANCEL's 200 is hop by hop";
  fromUpstream(answer(forwarded, 487, "Request Terminated"));
  sent = sender.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(statusOf(sent[1].bytes), 487);
}

TEST_F(ProxyTest, CancelBeforeAnyProvisionalWaitsForIt) {
  fromCaller(request("INVITE"));
  const std::string forwarded = sender.take().at(1).bytes;
  fromCaller(request("CANCEL"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(statusOf(sent[0].bytes), 200);
  fromUpstream(answer(forwarded, 183, "Session Progress"));
  sent = sender.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].bytes.starts_with("CANCEL "));
}

TEST_F(ProxyTest, FailsOverOn503ToTheNextUpstream) {
  rebuild({{"127.0.0.1", 5080, Protocol::Udp}, {"127.0.0.1", 5081, Protocol::Udp}});
  fromCaller(request("MESSAGE"));
  const std::string first = sender.take().at(0).bytes;
  fromUpstream(answer(first, 503, "Service Unavailable"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target.address, kUpstream2);
  EXPECT_NE(headerOf(sent[0].bytes, "Via"), headerOf(first, "Via")) << "a new branch for the new attempt";
  fromUpstream(answer(sent[0].bytes, 200, "OK"), kUpstream2);
  EXPECT_EQ(statusOf(sender.take().at(0).bytes), 200);
  EXPECT_EQ(proxy->counters().failovers, 1u);
}

TEST_F(ProxyTest, SendFailureFailsOverAtOnce) {
  rebuild({{"127.0.0.1", 5080, Protocol::Tcp}, {"127.0.0.1", 5081, Protocol::Udp}});
  fromCaller(request("MESSAGE"));
  EXPECT_EQ(sender.take().at(0).target.protocol, Protocol::Tcp);
  proxy->onSendFailure(Target{Protocol::Tcp, kUpstream, 0});
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target.address, kUpstream2);
  EXPECT_TRUE(headerOf(sent[0].bytes, "Via").starts_with("SIP/2.0/UDP"));
}

TEST_F(ProxyTest, AllUpstreamsFailingAnswers503) {
  fromCaller(request("MESSAGE"));
  proxy->onSendFailure(Target{Protocol::Udp, kUpstream, 0});
  EXPECT_EQ(statusOf(sender.take().back().bytes), 503);
}

TEST_F(ProxyTest, OwnRouteIsRemovedAndRequestsFromUpstreamFollowTheirRoute) {
  fromUpstream(request("BYE", "z9hG4bKbye", "Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.1:5099;lr>\r\n", "x"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target.address, Poco::Net::SocketAddress("127.0.0.1", 5099));
  EXPECT_EQ(headerOf(sent[0].bytes, "Route"), "<sip:127.0.0.1:5099;lr>");
}

TEST_F(ProxyTest, StrictRouterBeforeUsIsRepaired) {
  rebuild({});
  std::string strict = request("BYE", "z9hG4bKs", "Route: <sip:127.0.0.1:5098;lr>, <sip:bob@127.0.0.1:5097>\r\n", "x");
  strict.replace(strict.find("sip:bob@example.com"), 19, "sip:127.0.0.1:5060");
  fromCaller(strict);
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].bytes.starts_with("BYE sip:bob@127.0.0.1:5097 SIP/2.0")) << sent[0].bytes;
  EXPECT_EQ(sent[0].target.address, Poco::Net::SocketAddress("127.0.0.1", 5098));
}

TEST_F(ProxyTest, TransportChangeDoublesRecordRoute) {
  rebuild({{"127.0.0.1", 5080, Protocol::Tcp}});
  fromCaller(request("INVITE"));
  const std::string forwarded = sender.take().at(1).bytes;
  EXPECT_NE(forwarded.find("Record-Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n"
                           "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"),
            std::string::npos)
      << forwarded;
}

TEST_F(ProxyTest, TlsUpstreamGetsATlsViaAndDoubleRecordRouteWithTransportTls) {
  ProxyConfig config;
  config.tlsPort = 5061;
  config.upstreams = {{"upstream.example", 5081, Protocol::Tls}};
  config.upstreams[0].host = "127.0.0.1";
  proxy = std::make_unique<Proxy>(config, sender, clock);
  fromCaller(request("INVITE"));
  const auto sent = sender.take();
  const Sent& forwarded = sent.at(1);
  EXPECT_EQ(forwarded.target.protocol, Protocol::Tls);
  EXPECT_EQ(forwarded.target.serverName, "127.0.0.1");
  EXPECT_TRUE(headerOf(forwarded.bytes, "Via").starts_with("SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK"));
  EXPECT_NE(forwarded.bytes.find("Record-Route: <sip:127.0.0.1:5061;transport=tls;lr>\r\n"
                                 "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"),
            std::string::npos)
      << forwarded.bytes;
}

TEST_F(ProxyTest, TlsOutWithoutATlsListenerNamesNoPortAndRecordRoutesTheInboundSideOnly) {
  rebuild({{"127.0.0.1", 5081, Protocol::Tls}});
  fromCaller(request("INVITE"));
  const std::string forwarded = sender.take().at(1).bytes;
  EXPECT_TRUE(headerOf(forwarded, "Via").starts_with("SIP/2.0/TLS 127.0.0.1;branch=")) << forwarded;
  EXPECT_NE(forwarded.find("Record-Route: <sip:127.0.0.1:5060;lr>\r\n"), std::string::npos) << forwarded;
  EXPECT_EQ(forwarded.find("transport=tls"), std::string::npos) << forwarded;
}

TEST_F(ProxyTest, SipsAndTransportTlsUrisGoOverTlsWithTheHostToVerify) {
  rebuild({});
  std::string sips = request("MESSAGE", "z9hG4bKsips");
  sips.replace(sips.find("sip:bob@example.com"), 19, "sips:bob@127.0.0.1");
  fromCaller(sips);
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target.protocol, Protocol::Tls);
  EXPECT_EQ(sent[0].target.address, Poco::Net::SocketAddress("127.0.0.1", 5061)) << "sips defaults to 5061";

  std::string tls = request("MESSAGE", "z9hG4bKtlsparam");
  tls.replace(tls.find("sip:bob@example.com"), 19, "sip:bob@127.0.0.1:5099;transport=TLS");
  fromCaller(tls);
  sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target.protocol, Protocol::Tls);
  EXPECT_EQ(sent[0].target.address, Poco::Net::SocketAddress("127.0.0.1", 5099));

  std::string contradiction = request("MESSAGE", "z9hG4bKsipsudp");
  contradiction.replace(contradiction.find("sip:bob@example.com"), 19, "sips:bob@127.0.0.1;transport=udp");
  fromCaller(contradiction);
  sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(statusOf(sent[0].bytes), 503) << sent[0].bytes;
}

TEST_F(ProxyTest, RequestsOverTlsAreAnsweredOnTheirConnection) {
  ProxyConfig config;
  config.tlsPort = 5061;
  config.upstreams = {{"127.0.0.1", 5080, Protocol::Udp}};
  proxy = std::make_unique<Proxy>(config, sender, clock);
  std::string overTls = request("MESSAGE", "z9hG4bKovertls");
  overTls.replace(overTls.find("SIP/2.0/UDP"), 11, "SIP/2.0/TLS");
  proxy->onMessage(overTls, Origin{Protocol::Tls, kCaller, 42});
  const std::string forwarded = sender.take().at(0).bytes;
  proxy->onMessage(answer(forwarded, 200, "OK"), Origin{Protocol::Udp, kUpstream, 0});
  const auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target.protocol, Protocol::Tls);
  EXPECT_EQ(sent[0].target.connectionId, 42u);
}

TEST_F(ProxyTest, InDialogRequestsAreNotRecordRouted) {
  fromCaller(request("INVITE", "z9hG4bKre", "", "existing"));
  EXPECT_EQ(sender.take().at(1).bytes.find("Record-Route"), std::string::npos);
}

TEST_F(ProxyTest, LoopIsDetected) {
  fromCaller(request("MESSAGE"));
  const std::string forwarded = sender.take().at(0).bytes;
  fromCaller(forwarded);  // the same request comes back to us unchanged
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(statusOf(sent[0].bytes), 482);
}

TEST_F(ProxyTest, TransactionLimitAnswers503WithRetryAfter) {
  ProxyConfig config;
  config.upstreams = {{"127.0.0.1", 5080, Protocol::Udp}};
  config.maxTransactions = 1;
  proxy = std::make_unique<Proxy>(config, sender, clock);
  fromCaller(request("MESSAGE", "z9hG4bKone"));
  fromCaller(request("MESSAGE", "z9hG4bKtwo"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(statusOf(sent[1].bytes), 503);
  EXPECT_EQ(headerOf(sent[1].bytes, "Retry-After"), "5");
}

TEST_F(ProxyTest, InviteRetransmissionAfter2xxIsAbsorbedAnd2xxRetransmissionRelayed) {
  fromCaller(request("INVITE"));
  const std::string forwarded = sender.take().at(1).bytes;
  fromUpstream(answer(forwarded, 200, "OK"));
  EXPECT_EQ(statusOf(sender.take().at(0).bytes), 200);
  fromCaller(request("INVITE"));
  EXPECT_TRUE(sender.take().empty());
  fromUpstream(answer(forwarded, 200, "OK"));
  EXPECT_EQ(statusOf(sender.take().at(0).bytes), 200);
}

TEST_F(ProxyTest, AckFor2xxIsForwardedStatelessly) {
  fromCaller(request("ACK", "z9hG4bKack", "Route: <sip:127.0.0.1:5060;lr>\r\n", "b"));
  auto sent = sender.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].bytes.starts_with("ACK "));
  EXPECT_EQ(sent[0].bytes.find("Route:"), std::string::npos);
  EXPECT_EQ(proxy->transactionCount(), 0u);
}

TEST_F(ProxyTest, ResponsesNotForUsAreDropped) {
  fromUpstream("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\nCSeq: 1 MESSAGE\r\n"
               "Content-Length: 0\r\n\r\n");
  EXPECT_TRUE(sender.take().empty());
  EXPECT_EQ(proxy->counters().drops.at("response not for us"), 1u);
}

}  // namespace
}  // namespace sipwarden::proxy
