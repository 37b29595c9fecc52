#include "archive/hash_chain.h"

#include <charconv>
#include <limits>

#include "archive/merkle.h"
#include "archive/sha256.h"
#include "archive/store.h"

namespace sipwarden::archive {
namespace {

void appendNumber(std::string& out, std::int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

// Length-prefixed ("5:alice"), so no choice of field contents can collide.
void appendField(std::string& out, std::string_view field) {
  appendNumber(out, static_cast<std::int64_t>(field.size()));
  out.push_back(':');
  out.append(field);
}

void appendNumberField(std::string& out, std::int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  appendField(out, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  thread_local Sha256 sha;
  unsigned char digest[32];
  sha.digest({data}, digest);
  return toHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string toHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    hex[2 * i] = kHex[byte >> 4];
    hex[2 * i + 1] = kHex[byte & 0x0f];
  }
  return hex;
}

std::string fromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int high = nibble(hex[i]);
    const int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) continue;
    out.push_back(static_cast<char>(high << 4 | low));
  }
  return out;
}

// The chained hash, as 64 lower-case hex digits in `hex`.
void hashRow(std::string_view previousHash, const MessageRecord& r, std::int64_t conversationId,
             std::string_view conversationPrevious, char (&hex)[64]) {
  thread_local Sha256 sha;
  thread_local std::string buffer;
  buffer.clear();
  appendField(buffer, previousHash);
  appendNumberField(buffer, r.timeMs);
  for (const std::string* field : {&r.direction, &r.sender, &r.senderName, &r.recipient, &r.recipientName, &r.callId}) {
    appendField(buffer, *field);
  }
  appendNumberField(buffer, r.cseq);
  for (const std::string* field : {&r.contentType, &r.text, &r.originalText, &r.verdict, &r.rules, &r.tags,
                                   &r.source, &r.transport}) {
    appendField(buffer, *field);
  }
  // Since schema 007: the body as received and what could not be read. They
  // are hashed only when one of them is set, so a row written before (all
  // four empty) hashes as it always did and older archives keep verifying;
  // the fields are length-prefixed, so a row with them can never hash like
  // one without.
  // Since schema 008 all four always, then the conversation: a field more
  // than any older row had, so no older row hashes like a newer one.
  if (conversationId != 0 || !r.rawBody.empty() || !r.receivedContentType.empty() || !r.contentEncoding.empty() ||
      !r.unreadable.empty()) {
    for (const std::string* field : {&r.rawBody, &r.receivedContentType, &r.contentEncoding, &r.unreadable}) {
      appendField(buffer, *field);
    }
  }
  if (conversationId != 0) {
    appendNumberField(buffer, conversationId);
    appendField(buffer, conversationPrevious);
  }
  unsigned char digest[32];
  sha.digest({buffer}, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0x0f];
  }
}


std::string rowHash(const std::string& previousHash, const MessageRecord& r, std::int64_t conversationId,
                    std::string_view conversationPrevious) {
  char hex[64];
  hashRow(previousHash, r, conversationId, conversationPrevious, hex);
  return std::string(hex, sizeof hex);
}

std::string auditHash(std::string_view previousHash, std::int64_t id, const AuditEntry& e) {
  std::string buffer;
  appendField(buffer, "audit");
  appendField(buffer, previousHash);
  appendNumberField(buffer, id);
  appendNumberField(buffer, e.timeMs);
  appendField(buffer, e.who);
  appendField(buffer, e.action);
  appendField(buffer, e.query);
  appendNumberField(buffer, e.results);
  return sha256Hex(buffer);
}

std::string outcomeHash(std::string_view previousHash, std::int64_t messageId, std::string_view messageHash,
                        int finalCode) {
  std::string buffer;
  appendField(buffer, previousHash);
  appendNumberField(buffer, messageId);
  appendField(buffer, messageHash);
  appendNumberField(buffer, finalCode);
  return sha256Hex(buffer);
}


namespace {

void fail(VerifyReport& report, std::int64_t id, std::string problem) {
  report.ok = false;
  report.firstBadId = id;
  report.problem = std::move(problem);
}

}  // namespace

bool ConversationLinkCheck::follows(const std::string& previous, std::int64_t lastId, const std::string& lastHash,
                                    std::int64_t id) const {
  if (previous == lastHash) return true;
  const auto purged = purged_.find(previous);
  return purged != purged_.end() && purged->second > lastId && purged->second < id;
}

bool ConversationLinkCheck::row(std::int64_t id, std::int64_t conversationId, const std::string& hash,
                                const std::string& previous, bool covered) {
  Last& last = last_[conversationId];
  if (covered && !follows(previous, last.id, last.hash, id)) {
    fail(report_, id,
         "row " + std::to_string(id) + " does not follow the row before it in conversation " +
             std::to_string(conversationId) +
             ": the conversation's link was altered (conversations.last_hash) to let a message be left out");
    return false;
  }
  last = Last{id, hash};
  return true;
}

bool ConversationLinkCheck::conversation(std::int64_t conversationId, const std::string& lastHash) {
  const auto seen = last_.find(conversationId);
  const Last last = seen == last_.end() ? Last{} : seen->second;
  // The writer's copy may also be a purged newest row's hash.
  if (follows(lastHash, last.id, last.hash, std::numeric_limits<std::int64_t>::max())) return true;
  fail(report_, 0,
       "conversation " + std::to_string(conversationId) +
           " would link its next message to a row that is not its newest (conversations.last_hash was altered)");
  return false;
}

void addChangedFinalCode(VerifyReport& report, std::int64_t messageId, int finalCode) {
  const std::string prefix = "row " + std::to_string(messageId) + ": ";
  if (report.changedFinalCodes.empty() || !report.changedFinalCodes.back().starts_with(prefix)) {
    report.changedFinalCodes.push_back(prefix + std::to_string(finalCode));
  } else {
    report.changedFinalCodes.back() += " then " + std::to_string(finalCode);
  }
}

void reportEditedFinalCode(VerifyReport& report, std::int64_t messageId, std::int64_t finalCode) {
  fail(report, messageId,
       "row " + std::to_string(messageId) + " has final code " + std::to_string(finalCode) +
           ", which its final-code records do not show: it was edited");
}

void reportTextIndexMismatch(VerifyReport& report, std::int64_t messageId, const std::string& how) {
  fail(report, messageId, (messageId != 0 ? "row " + std::to_string(messageId) + ": " : std::string()) + how +
                              ": text search no longer matches the archived text");
}

void reportConversationMismatch(VerifyReport& report, std::int64_t messageId, std::int64_t conversationId) {
  fail(report, messageId,
       "row " + std::to_string(messageId) + " sits in conversation " + std::to_string(conversationId) +
           ", whose participants or Call-ID are not the row's: the message or the conversation was moved or rewritten");
}

bool MessageChainCheck::row(std::int64_t id, const MessageRecord& record, std::int64_t conversationId,
                            const std::string& conversationPrevious, const std::string& storedHash, bool purged) {
  ++rows_;
  ++report_.rows;
  if (!purged && rowHash(previous_, record, conversationId, conversationPrevious) != storedHash) {
    fail(report_, id,
         "row " + std::to_string(id) + scope_ +
             " does not match its hash: it was edited, or a row before it was inserted or deleted");
    return false;
  }
  previous_ = storedHash;
  lastId_ = id;
  leaves_.push_back(fromHex(storedHash));
  return true;
}

void MessageChainCheck::frontier(const std::string& stored) {
  if (!report_.ok) return;
  merkle::Frontier walked;
  for (const std::string& leaf : leaves_) walked.append(merkle::leafHash(leaf));
  const std::optional<merkle::Frontier> recorded = merkle::Frontier::parse(stored);
  // An archive last written before schema 008 has none until its next write.
  if (stored.empty() || (recorded && recorded->size() == walked.size() && recorded->root() == walked.root())) return;
  fail(report_, lastId_ + 1,
       "the Merkle tree recorded for the chain" + scope_ +
           " is not the tree of its rows: the head was altered (checkpoints would sign a false root)");
}

void MessageChainCheck::head(std::int64_t headId, const std::string& headHash, std::int64_t headRows) {
  if (headId == lastId_ && headHash == previous_ && headRows == rows_) return;
  fail(report_, lastId_ + 1,
       "the chain" + scope_ + " ends at row " + std::to_string(lastId_) + " but the archive recorded row " +
           std::to_string(headId) + " (" + std::to_string(headRows) +
           " rows) as its last: rows were deleted or the head was altered");
}

bool OutcomeChainCheck::record(std::int64_t id, std::int64_t messageId, int finalCode, const std::string& storedHash,
                               const std::string* messageHash) {
  ++records_;
  ++report_.outcomes;
  if (messageHash == nullptr) {
    fail(report_, messageId,
         "final-code record " + std::to_string(id) + " names message " + std::to_string(messageId) +
             ", which is neither in the archive nor purged");
    return false;
  }
  if (outcomeHash(previous_, messageId, *messageHash, finalCode) != storedHash) {
    fail(report_, messageId,
         "final-code record " + std::to_string(id) + " of row " + std::to_string(messageId) +
             " does not match its hash: it was edited, or a record before it was inserted or deleted");
    return false;
  }
  previous_ = storedHash;
  lastId_ = id;
  return true;
}

void OutcomeChainCheck::head(std::int64_t headId, const std::string& headHash, std::int64_t headRecords) {
  if (headId == lastId_ && headHash == previous_ && headRecords == records_) return;
  fail(report_, 0,
       "the final-code chain" + scope_ + " ends at record " + std::to_string(lastId_) +
           " but the archive recorded record " + std::to_string(headId) +
           " as its last: records were deleted or the head altered");
}

}  // namespace sipwarden::archive
