#pragma once
// The PostgreSQL archive: one database that several hops share. What SQLite
// does in one process's memory happens in the database here, so that hops
// agree without talking to each other:
//   * conversation grouping is a statement per message (a session is unique
//     per Call-ID; a pager conversation continues the newest one of the same
//     participants within the idle gap), serialised per conversation by
//     transaction-scoped advisory locks that a batch takes up front, in one
//     global order, so two hops never deadlock on them;
//   * each hop appends to its own pair of chains (messages and outcomes,
//     chain_head keyed by hop_id), and a session advisory lock keeps two
//     processes from writing one hop's chain;
//   * a request archived by one hop is a duplicate for every other
//     (UNIQUE (call_id, cseq, sender)).

#include <string>
#include <utility>
#include <vector>

#include "archive/hash_chain.h"
#include "archive/merkle.h"
#include "archive/pg.h"
#include "archive/store.h"

namespace sipwarden::archive {

class PostgresStore final : public Store {
 public:
  // Connects, migrates (schemas/postgresql/) and, with a hop id, claims that
  // hop's chain. Throws ArchiveError.
  PostgresStore(const std::string& uri, StoreOptions options);

  int schemaVersion() override;
  using Store::begin;
  void begin(const std::vector<const MessageRecord*>& messages) override;
  void commit() override;
  void rollback() override;
  bool insertMessage(const MessageRecord& record) override;
  // A few statements per batch instead of one per row (bulk_insert.cc);
  // row by row when the batch holds a duplicate or crosses an idle gap.
  std::vector<bool> insertMessages(const std::vector<const MessageRecord*>& messages) override;
  void updateFinalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender, int code) override;
  std::int64_t messageCount() override;
  void upsertCall(const CallRecord& record) override;
  void insertFileTransfer(const FileTransferRecord& record) override;
  void closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) override;
  std::int64_t purgeBatch(std::int64_t cutoffMs, std::int64_t nowMs, int limit) override;
  using Store::setHold;
  void setHold(const std::string& kind, const std::string& value, bool held, std::int64_t nowMs,
               const std::string& who, const std::string& reason) override;
  VerifyReport verify() override;
  std::optional<ChainHeads> chainHeads(const std::string& hop) override;
  std::optional<std::string> chainedMessageHash(const std::string& hop, std::int64_t id) override;
  std::optional<std::string> chainedOutcomeHash(const std::string& hop, std::int64_t id) override;
  std::optional<std::string> chainedAuditHash(std::int64_t id) override;
  std::vector<std::pair<std::int64_t, std::string>> chainLeaves(const std::string& hop) override;

  // The connection, for the migration command (archive migrate) and tests.
  pg::Connection& connection() { return db_; }

 private:
  void migrate();
  void claimHop();
  void prepareStatements();
  // This hop's heads and Merkle frontier (rebuilt from the chain when the
  // stored one does not fit it).
  void loadHeads();
  void flushCodes();
  // Appends one record to the audit trail inside the open transaction,
  // queued behind every other appender by the head's row lock.
  void appendAudit(const AuditEntry& entry, bool sign);
  // In schema 003's migration: existing holds and tombstones become hold
  // and purge records.
  void adoptHoldsAndTombstones();
  void verifyAuditTrail(VerifyReport& report);
  // Each conversation's rows link one another; conversations.last_hash is
  // the newest (ConversationLinkCheck).
  void verifyConversationLinks(VerifyReport& report);
  // False (and nothing kept) when the batch must go row by row.
  bool insertBulk(const std::vector<const MessageRecord*>& messages);
  void verifyChain(const std::string& hop, VerifyReport& report);
  void verifyOutcomes(const std::string& hop, VerifyReport& report);
  // text_search, the column text queries use, against the text it is
  // computed from.
  void verifyTextSearch(VerifyReport& report);

  pg::Connection db_;
  StoreOptions options_;
  std::string lastHash_;
  std::int64_t lastId_ = 0;
  std::int64_t rowsAdded_ = 0;  // in the open transaction
  merkle::Frontier frontier_;
  std::vector<std::string> pendingLeaves_;  // raw row hashes of the open transaction
  std::string lastOutcomeHash_;
  std::int64_t lastOutcomeId_ = 0;
  std::int64_t outcomesAdded_ = 0;
  // Final codes of the open transaction, written at commit (flushCodes).
  struct PendingCode {
    std::string callId;
    std::uint32_t cseq;
    std::string sender;
    int code;
  };
  std::vector<PendingCode> codes_;
};

}  // namespace sipwarden::archive
