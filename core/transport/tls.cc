#include "transport/tls.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Exception.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/String.h>

namespace sipwarden::transport {

namespace {

// TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are
// OpenSSL's defaults, which are all strong.
constexpr const char* kCipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS";
constexpr unsigned char kSessionIdContext[] = "sipwarden";

std::string opensslError() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown TLS error" : text;
}

Poco::Net::Context::Ptr makeContext(Poco::Net::Context::Usage usage, const std::string& certificate,
                                    const std::string& key, const std::string& ca,
                                    Poco::Net::Context::VerificationMode mode, const char* role) {
  Poco::Net::Context::Params params;
  params.certificateFile = certificate;
  params.privateKeyFile = key;
  params.caLocation = ca;
  params.verificationMode = mode;
  // Without a CA file, a client that verifies trusts the system store.
  params.loadDefaultCAs = ca.empty() && mode != Poco::Net::Context::VERIFY_NONE;
  params.cipherList = kCipherList;
  Poco::Net::Context::Ptr context;
  try {
    context = new Poco::Net::Context(usage, params);
  } catch (const Poco::Exception& error) {
    throw TlsError(std::string(role) + ": " + error.displayText() + " (certificate '" + certificate + "', key '" +
                   key + "', ca '" + ca + "')");
  }
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  SSL_CTX* raw = context->sslContext();
  if (!key.empty() && SSL_CTX_check_private_key(raw) != 1) {
    throw TlsError(std::string(role) + ": private key '" + key + "' does not match certificate '" + certificate +
                   "'");
  }
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_id_context(raw, kSessionIdContext, sizeof kSessionIdContext - 1);
  return context;
}

Poco::Net::Context::VerificationMode serverMode(ClientVerification verification) {
  switch (verification) {
    case ClientVerification::None: return Poco::Net::Context::VERIFY_NONE;
    case ClientVerification::Optional: return Poco::Net::Context::VERIFY_RELAXED;
    case ClientVerification::Required: return Poco::Net::Context::VERIFY_STRICT;
  }
  return Poco::Net::Context::VERIFY_NONE;
}

std::string rfc2253Subject(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string subject(data, static_cast<std::size_t>(size > 0 ? size : 0));
  BIO_free(bio);
  return subject;
}

// The names a client certificate can be allowed by: CN, DNS and URI
// subjectAltNames, and the whole subject.
std::vector<std::string> certificateNames(X509* certificate) {
  std::vector<std::string> names;
  Poco::Crypto::X509Certificate view(certificate, true);
  std::string commonName;
  std::set<std::string> dnsNames;
  view.extractNames(commonName, dnsNames);
  if (!commonName.empty()) names.push_back(commonName);
  names.insert(names.end(), dnsNames.begin(), dnsNames.end());
  auto* altNames = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (altNames != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(altNames); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(altNames, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                         static_cast<std::size_t>(ASN1_STRING_length(uri)));
    }
    GENERAL_NAMES_free(altNames);
  }
  names.push_back(rfc2253Subject(certificate));
  return names;
}

bool isIpAddress(std::string_view host) {
  Poco::Net::IPAddress address;
  return Poco::Net::IPAddress::tryParse(std::string(host), address);
}

}  // namespace

void initializeTls() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

std::shared_ptr<const TlsContexts> TlsContexts::load(const TlsSettings& settings) {
  initializeTls();
  auto contexts = std::make_shared<TlsContexts>();
  contexts->settings_ = settings;
  if (settings.listenerReady()) {
    if (settings.verifyClient != ClientVerification::None && settings.caFile.empty()) {
      throw TlsError("verifying client certificates needs a CA file");
    }
    contexts->server_ = makeContext(Poco::Net::Context::TLS_SERVER_USE, settings.certificateFile,
                                    settings.privateKeyFile, settings.caFile, serverMode(settings.verifyClient),
                                    "TLS listener");
  }
  contexts->client_ = makeContext(
      Poco::Net::Context::TLS_CLIENT_USE, settings.clientCertificateFile, settings.clientPrivateKeyFile,
      settings.caFile, settings.verifyServer ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE,
      "TLS client");
  return contexts;
}

TlsSession::TlsSession(std::shared_ptr<const TlsContexts> contexts, int socketFd, bool serverSide,
                       std::string_view serverName)
    : contexts_(std::move(contexts)), serverSide_(serverSide) {
  const auto& context = serverSide ? contexts_->server() : contexts_->client();
  if (context.isNull()) throw TlsError("no TLS context for this side");
  ssl_ = SSL_new(context->sslContext());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, socketFd) != 1) {
    if (ssl_ != nullptr) SSL_free(ssl_);
    throw TlsError("cannot create a TLS session: " + opensslError());
  }
  if (serverSide) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  if (serverName.empty()) return;
  const std::string name(serverName);
  if (isIpAddress(name)) {
    if (contexts_->settings().verifyServer) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    if (contexts_->settings().verifyServer) SSL_set1_host(ssl_, name.c_str());
  }
}

TlsSession::~TlsSession() {
  // A close_notify is polite but optional for SIP (RFC 5246 §7.2.1 allows
  // closing without waiting for the peer's); never block on it.
  if (established_) (void)SSL_shutdown(ssl_);
  ERR_clear_error();
  SSL_free(ssl_);
}

TlsWant TlsSession::classify(int result, const char* step) {
  const int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ: return TlsWant::Read;
    case SSL_ERROR_WANT_WRITE: return TlsWant::Write;
    case SSL_ERROR_ZERO_RETURN: return TlsWant::Closed;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        failure_ = std::string(step) + ": connection closed" + (errno != 0 ? " (" + std::string(strerror(errno)) + ")" : "");
        ERR_clear_error();
        return established_ ? TlsWant::Closed : TlsWant::Failed;
      }
      [[fallthrough]];
    default: {
      failure_ = std::string(step) + ": " + opensslError();
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) failure_ += " (certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
      return TlsWant::Failed;
    }
  }
}

TlsWant TlsSession::handshake() {
  if (established_) return TlsWant::Nothing;
  ERR_clear_error();
  errno = 0;
  const int result = SSL_do_handshake(ssl_);
  if (result != 1) return classify(result, "handshake");
  established_ = true;
  if (!peerAllowed()) return TlsWant::Failed;
  return TlsWant::Nothing;
}

bool TlsSession::peerAllowed() {
  if (!serverSide_ || contexts_->settings().allowedSubjects.empty()) return true;
  X509* certificate = SSL_get1_peer_certificate(ssl_);
  if (certificate == nullptr) {
    failure_ = "client presented no certificate";
    return false;
  }
  const auto names = certificateNames(certificate);
  X509_free(certificate);
  for (const auto& allowed : contexts_->settings().allowedSubjects) {
    for (const auto& name : names) {
      if (Poco::icompare(allowed, name) == 0) return true;
    }
  }
  failure_ = "client certificate '" + names.back() + "' is not in tls.allowed_subjects";
  return false;
}

int TlsSession::read(char* buffer, int size, TlsWant& want) {
  ERR_clear_error();
  errno = 0;
  const int result = SSL_read(ssl_, buffer, size);
  if (result > 0) {
    want = TlsWant::Nothing;
    return result;
  }
  want = classify(result, "read");
  return 0;
}

int TlsSession::write(std::string_view bytes, TlsWant& want) {
  ERR_clear_error();
  errno = 0;
  const int result = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
  if (result > 0) {
    want = TlsWant::Nothing;
    return result;
  }
  want = classify(result, "write");
  return 0;
}

std::string TlsSession::peerSubject() const {
  X509* certificate = SSL_get1_peer_certificate(ssl_);
  if (certificate == nullptr) return {};
  std::string subject = rfc2253Subject(certificate);
  X509_free(certificate);
  return subject;
}

}  // namespace sipwarden::transport
