#pragma once
// TLS for stream connections. The contexts (certificate, key, CA, peer
// verification, TLS 1.2 as the floor) are Poco NetSSL `Context`s built from
// the config; each connection then runs one OpenSSL session on the socket's
// descriptor, driven by the transport's poll loop. Poco's SecureStreamSocket
// is not used for the connections themselves: its handshake blocks unless
// made lazy, and it reports peer checks through the SSLManager's global
// handlers, while the hop needs non-blocking handshakes on its own PollSet
// and its own allowed-subjects rule.

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/Net/Context.h>

typedef struct ssl_st SSL;

namespace sipwarden::transport {

class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ClientVerification { None, Optional, Required };

struct TlsSettings {
  std::string certificateFile;  // PEM chain presented by the TLS listener
  std::string privateKeyFile;
  // CA bundle trusted for peers: clients under mutual TLS, and upstreams.
  std::string caFile;
  ClientVerification verifyClient = ClientVerification::None;
  // Client certificates accepted (needs verifyClient Required): each entry
  // is matched against the certificate's Common Name, its DNS and URI
  // subjectAltNames, and its whole subject in RFC 2253 form
  // ("CN=a,O=b"). Empty: any certificate the CA vouches for.
  std::vector<std::string> allowedSubjects;
  // Check the certificate of a TLS next hop against caFile and its name or
  // address. Off only for labs with self-signed upstreams.
  bool verifyServer = true;
  // Certificate presented to TLS next hops that ask for one (empty: none).
  std::string clientCertificateFile;
  std::string clientPrivateKeyFile;

  bool listenerReady() const { return !certificateFile.empty() && !privateKeyFile.empty(); }
};

// The loaded contexts. Immutable once built; a reload builds new ones and
// open connections keep the contexts they started with.
class TlsContexts {
 public:
  // Reads every file now; throws TlsError naming the file and the fault.
  static std::shared_ptr<const TlsContexts> load(const TlsSettings& settings);

  const TlsSettings& settings() const { return settings_; }
  // Null when no certificate is configured (no TLS listener possible).
  const Poco::Net::Context::Ptr& server() const { return server_; }
  const Poco::Net::Context::Ptr& client() const { return client_; }

 private:
  TlsSettings settings_;
  Poco::Net::Context::Ptr server_;
  Poco::Net::Context::Ptr client_;
};

// What a session step asks of the poll loop.
enum class TlsWant { Nothing, Read, Write, Closed, Failed };

// One TLS session on a connected, non-blocking socket.
class TlsSession {
 public:
  // `serverName` is the next hop's host for a client session: sent as SNI
  // when it is a name, and checked against the certificate (name or IP).
  TlsSession(std::shared_ptr<const TlsContexts> contexts, int socketFd, bool serverSide, std::string_view serverName);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  bool established() const { return established_; }
  // Advances the handshake; Nothing once established and the peer accepted.
  TlsWant handshake();
  // Decrypts into `buffer`. Returns the byte count (> 0), or 0 with `want`
  // saying why nothing came (Read: wait; Closed; Failed).
  int read(char* buffer, int size, TlsWant& want);
  // Encrypts from `bytes`. Returns the bytes taken (> 0), or 0 with `want`.
  // After a Write or Read want, call again with at least the same bytes.
  int write(std::string_view bytes, TlsWant& want);
  // Why the last step failed (handshake alert, verification, subject).
  const std::string& failure() const { return failure_; }
  // The peer certificate's subject (RFC 2253), empty without one.
  std::string peerSubject() const;

 private:
  TlsWant classify(int result, const char* step);
  bool peerAllowed();

  std::shared_ptr<const TlsContexts> contexts_;
  SSL* ssl_ = nullptr;
  bool serverSide_;
  bool established_ = false;
  std::string failure_;
};

// Process-wide OpenSSL set-up through Poco; idempotent.
void initializeTls();

}  // namespace sipwarden::transport
