#pragma once
// The archive's writing side, whatever holds it: schema migrations, message
// rows with their tamper-evidence chains and full-text index, conversation
// grouping, calls, retention, legal hold and verification. Two backends:
// SQLite (sqlite_store.h, one file per hop, the default) and PostgreSQL
// (postgres_store.h, one database shared by several hops).
//
// A Store is one connection, used by one thread at a time: the hop's writer
// thread owns the one that writes rows; the command line opens its own.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sipwarden/archive.h"

namespace sipwarden::archive {

class ArchiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A purge record of the audit trail, for the check of its signature.
struct PurgeRecordSeal {
  std::int64_t id = 0;
  std::string hash;
  std::string signature;  // empty for a purge by hand
  std::string who;
};

struct VerifyReport {
  bool ok = true;
  std::int64_t rows = 0;
  std::int64_t firstBadId = 0;  // the first row whose hash or link is wrong
  std::string problem;
  std::int64_t outcomes = 0;  // final-code records checked (second chain)
  // Final codes of messages written before schema 005, which no outcome
  // record covers (not a failure: those archives had no way to seal them).
  std::int64_t unsealedCodes = 0;
  std::int64_t chains = 1;  // one per hop in a shared archive
  // Signed checkpoints checked (archive verify --checkpoints), and the one
  // (1-based line of its file) the archive does not extend, if any.
  std::int64_t checkpoints = 0;
  std::int64_t badCheckpoint = 0;
  // The audit trail's chain: records checked, and those written before
  // schema 008 (not chained). Purge records checked, tombstones they
  // account for, and holds replayed from the trail.
  std::int64_t auditRecords = 0;
  std::int64_t unchainedAudit = 0;
  std::int64_t purgeRecords = 0;
  std::int64_t purgedRows = 0;
  std::int64_t holds = 0;
  // Purges by hand (the command line): they carry no hop signature, so
  // verify names them for a person to judge; "id (cutoff N days before)".
  std::vector<std::string> handPurges;
  std::vector<PurgeRecordSeal> purgeSeals;
  // Messages whose final code changed after it was final (two outcome
  // records >= 200 with different codes): "row 3: 200 then 403". A UA that
  // sends the same request again in a new transaction can cause it; so can
  // an administrator appending an outcome record. Named, not failed.
  std::vector<std::string> changedFinalCodes;
  // Where the conversation in each row's hash starts (schema 008).
  std::int64_t conversationsFromId = 0;
};

// Where one hop's chains end: what a signed checkpoint commits to. Since
// schema 008 also the audit trail's chain (shared by every hop of an
// archive) and the Merkle tree root over the message chain's `rows` leaves
// (hex; empty in a version-1 checkpoint).
struct ChainHeads {
  std::int64_t lastId = 0;
  std::string lastHash;
  std::int64_t rows = 0;
  std::int64_t outcomesLastId = 0;
  std::string outcomesLastHash;
  std::int64_t outcomesRows = 0;
  std::int64_t auditLastId = 0;
  std::string auditLastHash;
  std::int64_t auditRows = 0;
  std::string treeRoot;
  bool operator==(const ChainHeads&) const = default;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual int schemaVersion() = 0;
  // Opens the write transaction of one batch. `messages` are the rows the
  // batch will insert: a shared backend serialises their conversations
  // against other hops up front, in one global order, so that two hops
  // never deadlock.
  virtual void begin(const std::vector<const MessageRecord*>& messages) = 0;
  void begin() { begin({}); }
  virtual void commit() = 0;
  // Also after a failed commit; never throws for "nothing to roll back".
  virtual void rollback() = 0;
  // Inserts one message (inside a transaction the caller opened). Returns
  // false when the same request was archived before (retransmission, a
  // second pass, or another hop): nothing is written then.
  virtual bool insertMessage(const MessageRecord& record) = 0;
  // A batch's messages, in order; element i is false when row i was
  // archived before. The same result as insertMessage row by row (the
  // default), in fewer statements where a backend can.
  virtual std::vector<bool> insertMessages(const std::vector<const MessageRecord*>& messages) {
    std::vector<bool> inserted;
    inserted.reserve(messages.size());
    for (const MessageRecord* message : messages) inserted.push_back(insertMessage(*message));
    return inserted;
  }
  // Final response codes arrive after the row: each is also appended to the
  // outcome chain, so verify covers it.
  virtual void updateFinalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender,
                               int code) = 0;
  virtual std::int64_t messageCount() = 0;
  virtual void upsertCall(const CallRecord& record) = 0;
  virtual void insertFileTransfer(const FileTransferRecord& record) = 0;
  virtual void closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) = 0;
  // Deletes up to `limit` messages older than `cutoffMs` that no hold
  // covers (leaving tombstones), and calls older than it. Returns how many
  // messages went; call it again (in a new transaction) until it returns 0.
  virtual std::int64_t purgeBatch(std::int64_t cutoffMs, std::int64_t nowMs, int limit) = 0;
  // Each purge batch is also a record in the audit trail: `who` purged
  // (the hop's "hop:ID" or "cli:USER"), under which rule, the rows' ids and
  // a digest of their hashes, signed by `signer` when there is one (the
  // hop's retention, with checkpoints on).
  void setPurgeIdentity(std::string who, std::string rule) {
    purgeWho_ = std::move(who);
    purgeRule_ = std::move(rule);
  }
  // Signs an audit record's hash: base64 of an Ed25519 signature.
  void setRecordSigner(std::function<std::string(const std::string& hash)> signer) { signer_ = std::move(signer); }
  // kind: "participant" (an address-of-record) or "conversation" (an id).
  // Also a record in the audit trail, naming `who` and `reason`.
  virtual void setHold(const std::string& kind, const std::string& value, bool held, std::int64_t nowMs,
                       const std::string& who, const std::string& reason) = 0;
  void setHold(const std::string& kind, const std::string& value, bool held, std::int64_t nowMs) {
    setHold(kind, value, held, nowMs, "cli", "");
  }
  virtual VerifyReport verify() = 0;

  // For signed checkpoints (checkpoint.h). The committed heads of `hop`'s
  // chains (a SQLite file has one pair and ignores `hop`); nullopt when the
  // archive has no chain of that hop. Called by the writer thread after a
  // commit and by verify, outside a transaction.
  virtual std::optional<ChainHeads> chainHeads(const std::string& hop) = 0;
  // The stored hash of message `id` of `hop`'s chain, its row's or its
  // tombstone's; nullopt when neither exists.
  virtual std::optional<std::string> chainedMessageHash(const std::string& hop, std::int64_t id) = 0;
  // The stored hash of final-code record `id` of `hop`'s chain, if any.
  virtual std::optional<std::string> chainedOutcomeHash(const std::string& hop, std::int64_t id) = 0;
  // The stored hash of audit record `id`, if any.
  virtual std::optional<std::string> chainedAuditHash(std::int64_t id) = 0;
  // `hop`'s message chain in order: each row's or tombstone's id and raw
  // 32-byte hash (the Merkle tree's leaf entries).
  virtual std::vector<std::pair<std::int64_t, std::string>> chainLeaves(const std::string& hop) = 0;

 protected:
  std::string purgeWho_ = "cli";
  std::string purgeRule_ = "by hand";
  std::function<std::string(const std::string&)> signer_;
};

struct StoreOptions {
  std::int64_t conversationGapMs = 30 * 60 * 1000;
  // SQLite: a size quota in pages (max_page_count); 0 for none.
  std::int64_t maxPages = 0;
  // PostgreSQL: the name of this hop's chain. Empty for a store that only
  // reads, migrates or administers (it cannot insert messages).
  std::string hopId;
};

// Where an archive lives: "sqlite:///abs/path", "sqlite:relative/path", a
// plain file path (SQLite), or "postgresql://..." / "postgres://..." (a
// libpq connection URI).
struct ArchiveLocation {
  enum class Kind { kSqlite, kPostgres } kind = Kind::kSqlite;
  std::string target;  // the SQLite file's path, or the libpq URI
  bool postgres() const { return kind == Kind::kPostgres; }
};
// Throws ArchiveError for an unknown scheme or an empty path.
ArchiveLocation parseArchiveLocation(const std::string& url);
// The URI without its password, for logs and messages.
std::string redactedLocation(const std::string& url);

// Opens (creating if needed) and migrates. Refuses a schema newer than this
// binary. Throws ArchiveError.
std::unique_ptr<Store> openStore(const std::string& url, const StoreOptions& options);

}  // namespace sipwarden::archive
