#pragma once
// The audit trail as the archive's third chain (schema 008): every search
// and export, every legal hold placed or lifted, and every purge is a
// record whose hash covers the one before. Holds and tombstones are derived
// from it: `verify` replays the hold records and compares them with the
// holds table, and every tombstone must be listed, with its hash, by the
// purge record that made it. This file holds what both backends share: the
// records' text and the walk.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "archive/hash_chain.h"
#include "archive/store.h"

namespace sipwarden::archive {

// The `query` text of a hold record: "kind=...&value=...&reason=...",
// percent-encoded as the audit trail's other queries are.
std::string holdRecordQuery(const std::string& kind, const std::string& value, const std::string& reason);
// The `query` text of a purge record: the rule, the cutoff, the purged ids
// (ranges, "1-20,25") and a SHA-256 over their hashes in id order.
std::string purgeRecordQuery(const std::string& rule, std::int64_t cutoffMs,
                             const std::vector<std::pair<std::int64_t, std::string>>& idsAndHashes);

// Appending a record, the same three statements everywhere (the query
// code's connections and both stores), inside one transaction: read the
// head (PostgreSQL locks it, so appenders queue), insert, move the head.
// The next id follows every id used, as the message chain's does.
inline constexpr const char* kAuditHeadSqlite =
    "SELECT last_hash, 1 + max(last_id, coalesce((SELECT max(id) FROM audit), 0)) FROM audit_head WHERE id = 1";
inline constexpr const char* kAuditHeadPostgres =
    "SELECT last_hash, 1 + greatest(last_id, coalesce((SELECT max(id) FROM audit), 0)) FROM audit_head WHERE id = 1 "
    "FOR UPDATE";
inline constexpr const char* kInsertAudit =
    "INSERT INTO audit (id, time_ms, who, action, query, results, hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr const char* kMoveAuditHead =
    "UPDATE audit_head SET last_id = ?, last_hash = ?, rows = rows + 1 WHERE id = 1";

// SELECT these from `audit` for the walk, ORDER BY id.
inline constexpr const char* kAuditColumns = "id, time_ms, who, action, query, results, hash, signature";

// One walk of the audit trail for `archive verify`, fed in id order; then
// the recorded head, the holds table and the tombstones. The first fault
// marks the report failed and names the record (or row).
class AuditTrailCheck {
 public:
  AuditTrailCheck(VerifyReport& report, std::int64_t fromId) : report_(report), fromId_(fromId) {}
  template <class Row>
  bool feed(const Row& row) {
    AuditEntry entry{row.integer(1), row.text(2), row.text(3), row.text(4), row.integer(5)};
    return record(row.integer(0), entry, row.text(6), row.text(7));
  }
  // False once the chain is broken: stop feeding then.
  bool record(std::int64_t id, const AuditEntry& entry, const std::string& storedHash, const std::string& signature);
  void head(std::int64_t headId, const std::string& headHash, std::int64_t headRows);
  // The holds table, as (kind, value): the same set the records leave.
  void holds(const std::set<std::pair<std::string, std::string>>& table);
  // Every tombstone (id, hex hash), in id order: each listed by one purge.
  void tombstones(const std::vector<std::pair<std::int64_t, std::string>>& tombstones);


 private:
  void fail(std::int64_t id, std::string problem);

  VerifyReport& report_;
  std::int64_t fromId_;
  std::string previous_;
  std::int64_t lastId_ = 0;
  std::int64_t chained_ = 0;
  std::set<std::pair<std::string, std::string>> held_;
  struct Purge {
    std::int64_t record;
    std::vector<std::int64_t> ids;
    std::string digest;
  };
  std::vector<Purge> purgeLists_;

};

}  // namespace sipwarden::archive
