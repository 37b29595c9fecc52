#include "transport/test_certificates.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace sipwarden::transport::testing {

namespace {

EVP_PKEY* newKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) throw std::runtime_error("EVP_EC_gen failed");
  return key;
}

void addExtension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) throw std::runtime_error("bad extension " + value);
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

X509* newCertificate(EVP_PKEY* key, const std::string& commonName, long serial) {
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), serial);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 2 * 86400);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("sipwarden tests"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(commonName.c_str()),
                             -1, -1, 0);
  return certificate;
}

void writePem(const std::string& path, X509* certificate, EVP_PKEY* key) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("cannot write " + path);
  const int ok = certificate != nullptr ? PEM_write_X509(out, certificate)
                                        : PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  if (ok != 1) throw std::runtime_error("PEM write failed for " + path);
}

}  // namespace

TestCa::TestCa(const std::string& name) : name_(name) {
  char pattern[] = "/tmp/sipwarden-tls-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  EVP_PKEY* key = newKey();
  X509* certificate = newCertificate(key, name, 1);
  X509_set_issuer_name(certificate, X509_get_subject_name(certificate));
  addExtension(certificate, certificate, NID_basic_constraints, "critical,CA:TRUE");
  addExtension(certificate, certificate, NID_key_usage, "critical,keyCertSign");
  X509_sign(certificate, key, EVP_sha256());
  key_ = key;
  cert_ = certificate;
  pair_ = {dir_ + "/ca.pem", dir_ + "/ca.key"};
  writePem(pair_.certificate, certificate, nullptr);
}

TestCa::~TestCa() {
  X509_free(static_cast<X509*>(cert_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

PemPair TestCa::issue(const std::string& stem, const std::string& commonName, const std::string& dnsName) {
  static long serial = 100;
  auto* issuer = static_cast<X509*>(cert_);
  EVP_PKEY* key = newKey();
  X509* certificate = newCertificate(key, commonName, ++serial);
  X509_set_issuer_name(certificate, X509_get_subject_name(issuer));
  addExtension(certificate, issuer, NID_basic_constraints, "CA:FALSE");
  addExtension(certificate, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:" + dnsName);
  X509_sign(certificate, static_cast<EVP_PKEY*>(key_), EVP_sha256());
  PemPair pair{dir_ + "/" + stem + ".pem", dir_ + "/" + stem + ".key"};
  writePem(pair.certificate, certificate, nullptr);
  writePem(pair.key, nullptr, key);
  X509_free(certificate);
  EVP_PKEY_free(key);
  return pair;
}

}  // namespace sipwarden::transport::testing
