#pragma once
// The tamper-evidence chains' hashes, the same in every backend: a message
// row's SHA-256 over the previous row's hash and the row's fields, and an
// outcome record's over the previous outcome, the message's id and hash,
// and its final code. Fields are length-prefixed, so no choice of contents
// can collide.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "sipwarden/archive.h"

namespace sipwarden::archive {

// The chained hash of a row, as 64 lower-case hex digits in `hex` (no
// allocation: the writer computes one per row).
void hashRow(std::string_view previousHash, const MessageRecord& record, char (&hex)[64]);
std::string rowHash(const std::string& previousHash, const MessageRecord& record);
std::string outcomeHash(std::string_view previousHash, std::int64_t messageId, std::string_view messageHash,
                        int finalCode);

struct VerifyReport;

// One chain's walk for `archive verify`, the same on every backend: the
// backend reads the rows in id order and feeds them here, then the chain's
// recorded head. `scope` names the chain in problems: "" for a file's one
// chain, " of hop 'edge-1'" in a shared archive. Each check counts into the
// report and, on the first fault, marks it failed and says where.
class MessageChainCheck {
 public:
  MessageChainCheck(VerifyReport& report, std::string scope) : report_(report), scope_(std::move(scope)) {}
  // A row, or a purged row's tombstone (its hash only: the chain steps over
  // it). False once the chain is broken: stop feeding then.
  bool row(std::int64_t id, const MessageRecord& record, const std::string& storedHash, bool purged);
  void head(std::int64_t headId, const std::string& headHash, std::int64_t headRows);

 private:
  VerifyReport& report_;
  std::string scope_;
  std::string previous_;
  std::int64_t lastId_ = 0;
  std::int64_t rows_ = 0;
};

// The same for a chain of outcome records (final codes), each bound to its
// message's hash; `messageHash` is null when the message is neither in the
// archive nor purged.
class OutcomeChainCheck {
 public:
  OutcomeChainCheck(VerifyReport& report, std::string scope) : report_(report), scope_(std::move(scope)) {}
  bool record(std::int64_t id, std::int64_t messageId, int finalCode, const std::string& storedHash,
              const std::string* messageHash);
  void head(std::int64_t headId, const std::string& headHash, std::int64_t headRecords);

 private:
  VerifyReport& report_;
  std::string scope_;
  std::string previous_;
  std::int64_t lastId_ = 0;
  std::int64_t records_ = 0;
};

// A row whose own final code no outcome record of it seals.
void reportEditedFinalCode(VerifyReport& report, std::int64_t messageId, std::int64_t finalCode);

}  // namespace sipwarden::archive
