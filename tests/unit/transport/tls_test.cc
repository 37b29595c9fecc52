// Two real transports on 127.0.0.1 talking TLS to each other, polled in
// turn from the test thread: handshakes, framing over TLS records, peer
// verification, the allowed-subjects rule and the handshake timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include <Poco/Net/StreamSocket.h>

#include "transport/test_certificates.h"
#include "transport/transport.h"

namespace sipwarden::transport {
namespace {

using testing::PemPair;
using testing::TestCa;

struct Recorder final : TransportUser {
  std::vector<std::pair<std::string, Origin>> messages;
  std::vector<Target> failures;
  void onMessage(std::string bytes, const Origin& origin) override { messages.emplace_back(std::move(bytes), origin); }
  void onSendFailure(const Target& target) override { failures.push_back(target); }
};

std::string sipMessage(const std::string& callId, std::size_t bodySize = 5) {
  const std::string body(bodySize, 'x');
  return "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK" + callId +
         "\r\nCall-ID: " + callId + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

class TlsTransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca = std::make_unique<TestCa>("unit test CA");
    rogueCa = std::make_unique<TestCa>("rogue CA");
    hop = ca->issue("hop", "hop.test", "hop.test");
    alice = ca->issue("alice", "alice-ua", "alice.example.com");
    mallory = ca->issue("mallory", "mallory-ua", "mallory.example.com");
    rogue = rogueCa->issue("rogue", "hop.test", "hop.test");
  }
  static void TearDownTestSuite() {
    ca.reset();
    rogueCa.reset();
  }

  TlsSettings serverSettings(const PemPair& pair) const {
    TlsSettings settings;
    settings.certificateFile = pair.certificate;
    settings.privateKeyFile = pair.key;
    settings.caFile = ca->certificateFile();
    return settings;
  }

  void startServer(TlsSettings settings, TransportLimits limits = {}) {
    server = std::make_unique<Transport>(serverUser, limits);
    server->setTls(TlsContexts::load(settings));
    server->listen(Protocol::Tls, Poco::Net::SocketAddress("127.0.0.1", 0));
    address = server->boundAddress(Protocol::Tls);
  }

  void startClient(const PemPair* certificate = nullptr) {
    TlsSettings settings;
    settings.caFile = ca->certificateFile();
    if (certificate != nullptr) {
      settings.clientCertificateFile = certificate->certificate;
      settings.clientPrivateKeyFile = certificate->key;
    }
    client = std::make_unique<Transport>(clientUser, TransportLimits{});
    client->setTls(TlsContexts::load(settings));
  }

  // Polls both sides until `done` or two seconds pass.
  bool pumpUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      server->poll(std::chrono::milliseconds(5));
      if (client) client->poll(std::chrono::milliseconds(5));
    }
    return done();
  }

  void pumpFor(std::chrono::milliseconds time) {
    const auto until = std::chrono::steady_clock::now() + time;
    while (std::chrono::steady_clock::now() < until) {
      server->poll(std::chrono::milliseconds(5));
      if (client) client->poll(std::chrono::milliseconds(5));
    }
  }

  Target toServer(const std::string& name = "hop.test") const { return Target{Protocol::Tls, address, 0, name}; }

  static inline std::unique_ptr<TestCa> ca, rogueCa;
  static inline PemPair hop, alice, mallory, rogue;
  Recorder serverUser, clientUser;
  std::unique_ptr<Transport> server, client;
  Poco::Net::SocketAddress address;
};

TEST_F(TlsTransportTest, MessagesCrossBothWaysFramedOverTlsRecords) {
  startServer(serverSettings(hop));
  startClient();
  client->send(toServer(), sipMessage("small"));
  // Bigger than one TLS record (16 KiB), so framing spans records.
  client->send(toServer(), sipMessage("large", 40000));
  ASSERT_TRUE(pumpUntil([&] { return serverUser.messages.size() == 2; }));
  EXPECT_EQ(serverUser.messages[0].first, sipMessage("small"));
  EXPECT_EQ(serverUser.messages[1].first, sipMessage("large", 40000));
  const Origin origin = serverUser.messages[0].second;
  EXPECT_EQ(origin.protocol, Protocol::Tls);
  server->send(Target{Protocol::Tls, origin.source, origin.connectionId}, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(pumpUntil([&] { return clientUser.messages.size() == 1; }));
  EXPECT_EQ(clientUser.messages[0].second.protocol, Protocol::Tls);
  EXPECT_EQ(client->connectionCount(), 1u) << "both sends and the answer share one connection";
  EXPECT_EQ(server->counters().tlsHandshakes, 1u);
  EXPECT_TRUE(clientUser.failures.empty());
}

TEST_F(TlsTransportTest, AServerWithAnUntrustedCertificateGetsNothing) {
  startServer(serverSettings(rogue));
  startClient();
  client->send(toServer(), sipMessage("untrusted"));
  ASSERT_TRUE(pumpUntil([&] { return clientUser.failures.size() == 1; }));
  EXPECT_EQ(clientUser.failures[0].protocol, Protocol::Tls);
  EXPECT_EQ(client->counters().tlsFailures, 1u);
  pumpFor(std::chrono::milliseconds(50));
  EXPECT_TRUE(serverUser.messages.empty());
}

TEST_F(TlsTransportTest, AServerNamedDifferentlyFromItsCertificateIsRefused) {
  startServer(serverSettings(hop));
  startClient();
  client->send(toServer("other.test"), sipMessage("wrong-name"));
  ASSERT_TRUE(pumpUntil([&] { return clientUser.failures.size() == 1; }));
  EXPECT_TRUE(serverUser.messages.empty());
  // and the address itself is a valid name (IP subjectAltName)
  client->send(toServer("127.0.0.1"), sipMessage("by-address"));
  ASSERT_TRUE(pumpUntil([&] { return serverUser.messages.size() == 1; }));
}

TEST_F(TlsTransportTest, AllowedSubjectsMatchCommonNameAltNameOrWholeSubject) {
  for (const std::string allowed : {"alice-ua", "ALICE.example.com", "CN=alice-ua,O=sipwarden tests"}) {
    SCOPED_TRACE(allowed);
    serverUser.messages.clear();
    TlsSettings settings = serverSettings(hop);
    settings.verifyClient = ClientVerification::Required;
    settings.allowedSubjects = {allowed};
    startServer(settings);
    startClient(&alice);
    client->send(toServer(), sipMessage("alice"));
    EXPECT_TRUE(pumpUntil([&] { return serverUser.messages.size() == 1; }));
  }
}

TEST_F(TlsTransportTest, ClientsOutsideTheListOrWithoutACertificateAreRefused) {
  TlsSettings settings = serverSettings(hop);
  settings.verifyClient = ClientVerification::Required;
  settings.allowedSubjects = {"alice-ua"};
  for (const PemPair* certificate : {static_cast<const PemPair*>(&mallory), static_cast<const PemPair*>(nullptr)}) {
    startServer(settings);
    startClient(certificate);
    client->send(toServer(), sipMessage("refused"));
    EXPECT_TRUE(pumpUntil([&] { return server->counters().tlsFailures == 1; }));
    pumpFor(std::chrono::milliseconds(50));
    EXPECT_TRUE(serverUser.messages.empty());
  }
}

TEST_F(TlsTransportTest, AHandshakeThatNeverStartsIsClosedAfterTheHeaderTimeout) {
  TransportLimits limits;
  limits.headerTimeout = std::chrono::milliseconds(100);
  startServer(serverSettings(hop), limits);
  Poco::Net::StreamSocket silent;
  silent.connect(address);
  ASSERT_TRUE(pumpUntil([&] { return server->connectionCount() == 1; }));
  // The idle sweep runs once a second, within pumpUntil's two.
  EXPECT_TRUE(pumpUntil([&] { return server->connectionCount() == 0; }));
}

// Why TlsContexts::load refuses `settings`; "" when it loads them.
std::string loadError(const TlsSettings& settings) {
  try {
    TlsContexts::load(settings);
  } catch (const TlsError& error) {
    return error.what();
  }
  return "";
}

TEST(TlsContextsTest, FaultsNameTheFile) {
  TestCa ca("faults CA");
  const PemPair hop = ca.issue("hop", "hop.test", "hop.test");
  const PemPair other = ca.issue("other", "other.test", "other.test");
  TlsSettings settings;
  settings.certificateFile = "/nonexistent/hop.pem";
  settings.privateKeyFile = hop.key;
  const std::string missing = loadError(settings);
  EXPECT_NE(missing.find("/nonexistent/hop.pem"), std::string::npos) << "a missing certificate: " << missing;
  settings.certificateFile = hop.certificate;
  settings.privateKeyFile = other.key;
  const std::string mismatched = loadError(settings);
  EXPECT_NE(mismatched.find("does not match"), std::string::npos) << "a key of another certificate: " << mismatched;
  settings.privateKeyFile = hop.key;
  EXPECT_NO_THROW(TlsContexts::load(settings));
}

TEST(TlsContextsTest, ATlsListenerNeedsACertificate) {
  Recorder user;
  Transport transport(user, TransportLimits{});
  EXPECT_THROW(transport.listen(Protocol::Tls, Poco::Net::SocketAddress("127.0.0.1", 0)), TlsError);
}

}  // namespace
}  // namespace sipwarden::transport
