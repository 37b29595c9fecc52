#pragma once
// The tamper-evidence chains' hashes, the same in every backend: a message
// row's SHA-256 over the previous row's hash and the row's fields, and an
// outcome record's over the previous outcome, the message's id and hash,
// and its final code. Fields are length-prefixed, so no choice of contents
// can collide.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sipwarden/archive.h"

namespace sipwarden::archive {

// SHA-256 of `data` as 64 lower-case hex digits.
std::string sha256Hex(std::string_view data);

// Bytes as lower-case hex.
std::string toHex(std::string_view bytes);

// "00ff..." (either case) back to bytes; what is not a hex pair is skipped.
std::string fromHex(std::string_view hex);

// The chained hash of a row, as 64 lower-case hex digits in `hex` (no
// allocation: the writer computes one per row). `conversationId` is the
// row's conversation and `conversationPrevious` the hash of the row before
// it in that conversation ('' for its first), which rows written since
// schema 008 cover; conversationId 0 for a row written before (its hash
// never covered either).
void hashRow(std::string_view previousHash, const MessageRecord& record, std::int64_t conversationId,
             std::string_view conversationPrevious, char (&hex)[64]);
std::string rowHash(const std::string& previousHash, const MessageRecord& record, std::int64_t conversationId = 0,
                    std::string_view conversationPrevious = {});

// One record of the audit trail (who searched, exported, placed or lifted a
// hold, purged), the third chain: SHA-256 over the previous record's hash
// and these fields, in hex.
struct AuditEntry {
  std::int64_t timeMs = 0;
  std::string who;
  std::string action;
  std::string query;
  std::int64_t results = 0;
};
std::string auditHash(std::string_view previousHash, std::int64_t id, const AuditEntry& entry);
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
  // The record a row read with rowColumns() holds, as its hash covers it.
  template <class Row>
  static MessageRecord recordOf(const Row& row) {
    MessageRecord r;
    r.timeMs = row.integer(1);
    r.direction = row.text(2);
    r.sender = row.text(3);
    r.senderName = row.text(4);
    r.recipient = row.text(5);
    r.recipientName = row.text(6);
    r.callId = row.text(7);
    r.cseq = static_cast<std::uint32_t>(row.integer(8));
    r.contentType = row.text(9);
    r.text = row.text(10);
    r.originalText = row.text(11);
    r.verdict = row.text(12);
    r.rules = row.text(13);
    r.tags = row.text(14);
    r.finalCode = static_cast<int>(row.integer(15));
    r.source = row.text(16);
    r.transport = row.text(17);
    r.rawBody = fromHex(row.text(18));
    r.receivedContentType = row.text(19);
    r.contentEncoding = row.text(20);
    r.unreadable = row.text(21);
    return r;
  }
  // What the walk reads of each message row and each tombstone, in the
  // order feed() takes them; a backend selects
  //   SELECT <rowColumns(dialect)> FROM messages ... UNION ALL
  //   SELECT <kTombstoneColumns> FROM tombstones ... ORDER BY 1
  // The raw body travels as hex (SQLite's hex(), PostgreSQL's encode()), so
  // both backends hand it over as text, NULs and all.
  static std::string rowColumns(bool postgres) {
    return std::string(
               "id, time_ms, direction, sender, sender_name, recipient, recipient_name, call_id, cseq, "
               "content_type, text, coalesce(original_text, ''), verdict, rules, tags, final_code, source, "
               "transport, ") +
           (postgres ? "coalesce(encode(raw_body, 'hex'), '')" : "coalesce(hex(raw_body), '')") +
           ", coalesce(received_content_type, ''), coalesce(content_encoding, ''), coalesce(unreadable, ''), hash, 0, "
           "conversation_id, conversation_previous";
  }
  static constexpr const char* kTombstoneColumns =
      "id, 0, '', '', '', '', '', '', 0, '', '', '', '', '', '', 0, '', '', '', '', '', '', hash, 1, 0, ''";

  // `conversationsFromId`: rows from this id on cover their conversation.
  MessageChainCheck(VerifyReport& report, std::string scope, std::int64_t conversationsFromId)
      : report_(report), scope_(std::move(scope)), conversationsFromId_(conversationsFromId) {}
  // One row read with those columns: `row.text(c)` and `row.integer(c)`
  // give column c. False once the chain is broken: stop feeding then.
  template <class Row>
  bool feed(const Row& row) {
    const MessageRecord r = recordOf(row);
    const std::int64_t id = row.integer(0);
    const bool covered = id >= conversationsFromId_;
    return this->row(id, r, covered ? row.integer(24) : 0, covered ? row.text(25) : std::string(), row.text(22),
                     row.integer(23) != 0);
  }
  // A row, or a purged row's tombstone (its hash only: the chain steps over
  // it). False once the chain is broken: stop feeding then.
  bool row(std::int64_t id, const MessageRecord& record, std::int64_t conversationId,
           const std::string& conversationPrevious, const std::string& storedHash, bool purged);
  // After the last row: the recorded head, and the stored Merkle frontier
  // (chain_head.frontier), which must be the tree of exactly these rows.
  void head(std::int64_t headId, const std::string& headHash, std::int64_t headRows);
  void frontier(const std::string& stored);
  // The walked chain's leaves, in order (raw 32-byte row hashes), for the
  // checkpoints' tree roots.
  std::vector<std::string> takeLeaves() { return std::move(leaves_); }

 private:
  VerifyReport& report_;
  std::string scope_;
  std::int64_t conversationsFromId_;
  std::vector<std::string> leaves_;
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

// The outcome records of messages whose final code changed after it was
// final (at most 10 messages), in message and record order: SELECT
// message_id, final_code; both backends. reportChangedFinalCodes reads them.
inline constexpr const char* kChangedFinalCodes =
    "SELECT o.message_id, o.final_code FROM outcomes o WHERE o.final_code >= 200 AND o.message_id IN "
    "(SELECT message_id FROM outcomes WHERE final_code >= 200 GROUP BY message_id "
    "HAVING count(DISTINCT final_code) > 1 ORDER BY message_id LIMIT 10) ORDER BY o.message_id, o.id";
void addChangedFinalCode(VerifyReport& report, std::int64_t messageId, int finalCode);

// The links between the rows of each conversation (schema 008): a row
// written since then carries the hash of the row before it in its
// conversation, and conversations.last_hash (what the writer links the
// next row to) must be the newest row's. `archive verify` feeds every row in
// id order, then each conversation's last_hash, after the tombstones (a
// purged row may stand between two rows of a conversation).
//   SELECT <kLinkColumns> FROM messages ORDER BY id   (covered: 1 or 0)
class ConversationLinkCheck {
 public:
  explicit ConversationLinkCheck(VerifyReport& report) : report_(report) {}
  void tombstone(std::int64_t id, const std::string& hash) { purged_[hash] = id; }
  // False at the first fault: stop feeding then.
  bool row(std::int64_t id, std::int64_t conversationId, const std::string& hash, const std::string& previous,
           bool covered);
  bool conversation(std::int64_t conversationId, const std::string& lastHash);

 private:
  // Whether `previous` may stand before row `id` in a conversation whose
  // last seen row was `lastId` with hash `lastHash` (0 and "" for none):
  // that row, or a purged row after it.
  bool follows(const std::string& previous, std::int64_t lastId, const std::string& lastHash, std::int64_t id) const;

  VerifyReport& report_;
  std::unordered_map<std::string, std::int64_t> purged_;  // tombstone hash -> id
  struct Last {
    std::int64_t id = 0;
    std::string hash;
  };
  std::unordered_map<std::int64_t, Last> last_;  // conversation -> its newest row so far
};

// A row whose own final code no outcome record of it seals.
void reportEditedFinalCode(VerifyReport& report, std::int64_t messageId, std::int64_t finalCode);
// The full-text index no longer finds what the rows hold: `messageId` is the
// first row it lost or invented (0 when the difference is in a row's words
// and the backend cannot say which row).
void reportTextIndexMismatch(VerifyReport& report, std::int64_t messageId, const std::string& how);
// A message whose conversation does not agree with its own chained fields:
// the conversation's participants are not the row's sender and recipient,
// a session's Call-ID is not the row's, or the conversation is gone.
void reportConversationMismatch(VerifyReport& report, std::int64_t messageId, std::int64_t conversationId);
// The participants a row's chained sender and recipient give, as the
// archive plugin groups them (sorted AORs, byte order), in SQLite's SQL
// (PostgreSQL needs COLLATE "C"): verify compares it with the
// conversation the row sits in.
inline constexpr const char* kParticipantsOfRow =
    "(CASE WHEN m.sender <= m.recipient THEN m.sender || ',' || m.recipient ELSE m.recipient || ',' || m.sender END)";

}  // namespace sipwarden::archive
