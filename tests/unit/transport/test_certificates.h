#pragma once
// A throw-away CA and the certificates it signs, written as PEM files into
// a temporary directory, made with OpenSSL at test time (nothing checked in
// can expire).

#include <string>

namespace sipwarden::transport::testing {

struct PemPair {
  std::string certificate;
  std::string key;
};

class TestCa {
 public:
  explicit TestCa(const std::string& name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& certificateFile() const { return pair_.certificate; }
  // A leaf certificate for `commonName` with an IP:127.0.0.1 and a DNS
  // subjectAltName `dnsName`.
  PemPair issue(const std::string& stem, const std::string& commonName, const std::string& dnsName);

 private:
  std::string dir_;
  std::string name_;
  PemPair pair_;
  void* key_ = nullptr;   // EVP_PKEY*
  void* cert_ = nullptr;  // X509*
};

}  // namespace sipwarden::transport::testing
