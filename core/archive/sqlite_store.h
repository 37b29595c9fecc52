#pragma once
// The SQLite archive (the embedded default): one file per hop, WAL mode,
// FTS5 for text search, and a conversation cache that spares most lookups
// because this connection is the file's only writer of messages.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "archive/hash_chain.h"
#include "archive/merkle.h"
#include "archive/store.h"
#include "sipwarden/archive.h"

namespace sipwarden::archive {

// Turns off SQLite's process-wide memory statistics, which take a global
// mutex around every allocation (about 7% of the writer's instructions per
// row); nothing in sipwarden reads them. Call at program start, before any
// thread uses SQLite (sqlite3_config is not thread-safe); later it does
// nothing.
void tuneSqliteForProcess();

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) and migrates. Refuses a database whose schema
  // is newer than this binary. Throws ArchiveError.
  explicit SqliteStore(const std::string& path, std::int64_t conversationGapMs = 30 * 60 * 1000, std::int64_t maxPages = 0);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  int schemaVersion() override;
  using Store::begin;
  void begin(const std::vector<const MessageRecord*>& messages) override;
  void commit() override;
  void rollback() override;
  // Inserts one message (inside a transaction the caller opened). Returns
  // false when the same request was archived before (retransmission, a
  // second pass): nothing is written then.
  bool insertMessage(const MessageRecord& record) override;
  // Final response codes arrive after the row: each is also appended to the
  // outcome chain (schemas/005_outcomes.sql), so verify covers it.
  void updateFinalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender, int code) override;
  std::int64_t messageCount() override;
  void upsertCall(const CallRecord& record) override;
  void insertFileTransfer(const FileTransferRecord& record) override;
  void closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) override;
  // Deletes up to `limit` messages older than `cutoffMs` that no hold
  // covers (leaving tombstones), and calls older than it. Returns how many
  // messages went; call it again (in a new transaction) until it returns 0.
  std::int64_t purgeBatch(std::int64_t cutoffMs, std::int64_t nowMs, int limit) override;
  // kind: "participant" (an address-of-record) or "conversation" (an id).
  using Store::setHold;
  void setHold(const std::string& kind, const std::string& value, bool held, std::int64_t nowMs,
               const std::string& who, const std::string& reason) override;
  VerifyReport verify() override;
  std::optional<ChainHeads> chainHeads(const std::string& hop) override;
  std::optional<std::string> chainedMessageHash(const std::string& hop, std::int64_t id) override;
  std::optional<std::string> chainedOutcomeHash(const std::string& hop, std::int64_t id) override;
  std::optional<std::string> chainedAuditHash(std::int64_t id) override;
  std::vector<std::pair<std::int64_t, std::string>> chainLeaves(const std::string& hop) override;
  sqlite3* handle() { return db_; }

 private:
  void setUp(std::int64_t maxPages);
  void close();
  void migrate();
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql) const;
  std::int64_t conversationFor(const MessageRecord& record);
  void appendOutcome(std::int64_t messageId, std::string_view messageHash, int finalCode);
  // Reads both chains' heads and the Merkle frontier (at start and after a
  // rollback); a frontier missing or not of the chain's size is rebuilt.
  void loadHeads();
  // Appends one record to the audit trail, inside the open transaction.
  void appendAudit(const AuditEntry& entry, bool sign);
  // In schema 008's migration: the holds and tombstones the archive held
  // become hold and purge records.
  void adoptHoldsAndTombstones();
  void verifyAuditTrail(VerifyReport& report, const std::string& key = "") const;
  // The hex root of the message chain's tree of `rows` leaves, from the
  // frontier this store holds or else the stored one; "" when neither fits.
  std::string treeRoot(const std::string& stored, std::int64_t rows) const;
  void verifyOutcomes(VerifyReport& report) const;
  // Text columns stored as text, ids as integers: what SQL compares.
  void verifyStorageTypes(VerifyReport& report) const;
  // The FTS5 index against the rows: FTS5's own check of index against
  // content where the connection may run it, and a row-by-row comparison
  // of which rows the index holds (which names the row).
  void verifyTextIndex(VerifyReport& report) const;
  // Each message against its conversation (participants, session Call-ID),
  // and the links between a conversation's rows (ConversationLinkCheck).
  void verifyConversations(VerifyReport& report) const;
  std::int64_t insertConversation(const MessageRecord& record);
  void touch(std::int64_t id, std::int64_t timeMs);
  // Writes the last_ms of the conversations the open transaction touched.
  void flushTouched();
  // Forgets the conversation cache (after a rollback, a purge, or another
  // connection's commit) and reads the newest last_ms it must respect.
  void resetConversationCache();
  std::int64_t dataVersion();

  sqlite3* db_ = nullptr;
  std::int64_t gapMs_;
  std::string lastHash_;
  sqlite3_stmt* insertMessage_ = nullptr;
  sqlite3_stmt* insertFts_ = nullptr;
  sqlite3_stmt* findSession_ = nullptr;
  sqlite3_stmt* findPager_ = nullptr;
  sqlite3_stmt* insertConversation_ = nullptr;
  sqlite3_stmt* touchConversation_ = nullptr;
  sqlite3_stmt* findMessage_ = nullptr;
  sqlite3_stmt* updateHead_ = nullptr;
  sqlite3_stmt* insertOutcome_ = nullptr;
  sqlite3_stmt* updateOutcomeHead_ = nullptr;
  std::string lastOutcomeHash_;
  std::int64_t lastOutcomeId_ = 0;
  // The message chain's Merkle tree (checkpoints sign its root), and the
  // raw hashes of the rows the open transaction added to it.
  merkle::Frontier frontier_;
  std::vector<std::string> pendingLeaves_;
  std::int64_t outcomesAdded_ = 0;  // in the open transaction
  std::int64_t lastId_ = 0;
  std::int64_t nextMessageId_ = 1;  // see loadHeads
  std::int64_t rowsAdded_ = 0;  // in the open transaction
  sqlite3_stmt* upsertCall_ = nullptr;
  sqlite3_stmt* insertFile_ = nullptr;
  sqlite3_stmt* closeStale_ = nullptr;
  sqlite3_stmt* newestConversation_ = nullptr;
  sqlite3_stmt* readDataVersion_ = nullptr;

  // The conversation cache. This connection is the archive's only writer of
  // conversations (the hop's writer thread); another connection's commit
  // (a purge by hand) is seen through PRAGMA data_version at begin() and
  // empties the cache. Sessions: Call-ID -> id. Pagers: participants -> the
  // pager conversation with the newest last_ms. Every pager conversation
  // missing from `pagers_` ended at or before `pagerFloorMs_`, so a message
  // later than that by more than the gap needs no lookup: it starts a new
  // conversation unless `pagers_` has one.
  struct PagerEntry {
    std::int64_t id;
    std::int64_t lastMs;
  };
  std::unordered_map<std::string, std::int64_t> sessions_;
  std::unordered_map<std::string, PagerEntry> pagers_;
  std::int64_t pagerFloorMs_ = 0;
  std::int64_t newestMs_ = 0;  // the latest message time seen
  std::int64_t knownDataVersion_ = -1;
  // Conversation id -> the latest message time in the open transaction,
  // written at commit (one UPDATE per conversation instead of per row).
  std::unordered_map<std::int64_t, std::int64_t> touched_;
  // Rows this connection wrote lately, by request key (Call-ID, CSeq,
  // sender): their final code arrives a batch or two later, and with the id
  // and hash at hand its outcome record needs no search of the UNIQUE index.
  // Emptied with the conversation cache, by a purge, and when full.
  struct RecentRow {
    std::int64_t id;
    std::string hash;
  };
  std::unordered_map<std::string, RecentRow> recent_;
  // Each conversation's newest row hash (the next row links it), and the
  // conversations whose newest row the open transaction wrote (their
  // last_hash is written with last_ms, by flushTouched).
  std::unordered_map<std::int64_t, std::string> conversationHashes_;
  std::unordered_set<std::int64_t> linked_;
  sqlite3_stmt* conversationLastHash_ = nullptr;
  sqlite3_stmt* setConversationLastHash_ = nullptr;
  // The conversation the current insertMessage created, if any.
  std::int64_t createdConversation_ = 0;
};

}  // namespace sipwarden::archive
