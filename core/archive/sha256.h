#pragma once
// SHA-256 for the archive's hashes (chains, audit records, the Merkle tree)
// through OpenSSL's EVP interface (SHA-NI or AVX2 where the CPU has them):
// the method fetched once, one context per thread reused, since the writer
// hashes every row and an export or verify hashes every node of the tree.

#include <openssl/evp.h>

#include <initializer_list>
#include <string_view>

#include "archive/store.h"

namespace sipwarden::archive {

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    if (context_ == nullptr || method() == nullptr) throw ArchiveError("SHA-256 is not available");
  }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // The digest of the parts' concatenation, into out[0..32). Throws
  // ArchiveError if OpenSSL fails.
  void digest(std::initializer_list<std::string_view> parts, unsigned char* out) {
    bool ok = EVP_DigestInit_ex2(context_, method(), nullptr) == 1;
    for (std::string_view part : parts) ok = ok && EVP_DigestUpdate(context_, part.data(), part.size()) == 1;
    unsigned int length = 0;
    ok = ok && EVP_DigestFinal_ex(context_, out, &length) == 1;
    if (!ok || length != 32) throw ArchiveError("SHA-256 failed");
  }

 private:
  static const EVP_MD* method() {
    static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched;
  }
  EVP_MD_CTX* context_;
};

}  // namespace sipwarden::archive
