// PostgresStore's batch path: a batch's messages in a few statements (their
// conversations, the rows, the conversations' last activity) instead of a
// round trip and a statement per row, which cost the server several times
// the row's own work. The result must be what insertMessage row by row
// would give, so the batch goes row by row instead when it cannot be:
//   * a row is a duplicate (the chain is hashed before the rows are sent,
//     assuming every row is new; a duplicate would break it), or
//   * a pager conversation would cross its idle gap inside the batch.
// The batch's conversation locks (begin) are already held, so no other hop
// decides these conversations meanwhile.
#include <map>

#include "archive/hash_chain.h"
#include "archive/postgres_store.h"

namespace sipwarden::archive {
namespace {

// The newest conversation of each set of participants continues when it was
// active within the gap ($3) of the key's first message; the others start.
constexpr const char* kResolvePagers =
    "WITH keys AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS k(participants, time_ms)), "
    "newest AS (SELECT DISTINCT ON (c.participants) c.participants, c.id, c.last_ms, c.last_hash FROM keys k "
    "JOIN conversations c ON c.kind = 'pager' AND c.participants = k.participants "
    "ORDER BY c.participants, c.last_ms DESC), "
    "continuing AS (SELECT k.participants, n.id, n.last_hash FROM keys k JOIN newest n ON n.participants = "
    "k.participants WHERE n.last_ms >= k.time_ms - $3::bigint), "
    "created AS (INSERT INTO conversations (kind, participants, started_ms, last_ms) SELECT 'pager', k.participants, "
    "k.time_ms, k.time_ms FROM keys k WHERE NOT EXISTS (SELECT 1 FROM continuing c WHERE c.participants = "
    "k.participants) RETURNING participants, id, last_hash) "
    "SELECT participants, id, last_hash FROM continuing UNION ALL SELECT participants, id, last_hash FROM created";

constexpr const char* kResolveSessions =
    "INSERT INTO conversations (kind, call_id, participants, started_ms, last_ms) "
    "SELECT 'session', k.call_id, k.participants, k.started_ms, k.last_ms "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS k(call_id, participants, started_ms, last_ms) "
    "ON CONFLICT (call_id) WHERE kind = 'session' DO UPDATE SET "
    "last_ms = greatest(conversations.last_ms, excluded.last_ms) RETURNING call_id, id, last_hash";

constexpr const char* kTouchConversations =
    "UPDATE conversations c SET last_ms = u.last_ms FROM unnest($1::bigint[], $2::bigint[]) AS u(id, last_ms) "
    "WHERE c.id = u.id AND c.last_ms < u.last_ms";

// Each conversation's newest row, which the next one links.
constexpr const char* kLinkConversations =
    "UPDATE conversations c SET last_hash = u.last_hash FROM unnest($1::bigint[], $2::text[]) AS u(id, last_hash) "
    "WHERE c.id = u.id";

// Inserted in the batch's order (ORDER BY n), so the ids follow the chain.
constexpr const char* kInsertRows =
    "WITH added AS (INSERT INTO messages (conversation_id, time_ms, hop_id, direction, sender, sender_name, "
    "recipient, recipient_name, call_id, cseq, content_type, text, original_text, verdict, rules, tags, final_code, "
    "source, transport, hash, raw_body, received_content_type, content_encoding, unreadable, conversation_previous) "
    "SELECT r.conversation_id, r.time_ms, $3, r.direction, r.sender, r.sender_name, r.recipient, r.recipient_name, "
    "r.call_id, r.cseq, r.content_type, r.text, r.original_text, r.verdict, r.rules, r.tags, r.final_code, r.source, "
    "r.transport, r.hash, r.raw_body, r.received_content_type, r.content_encoding, r.unreadable, "
    "r.conversation_previous "
    "FROM unnest($1::bigint[], $2::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], "
    "$8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], "
    "$16::text[], $17::integer[], $18::text[], $19::text[], $20::text[], $21::bytea[], $22::text[], $23::text[], "
    "$24::text[], $25::text[]) WITH ORDINALITY AS r(conversation_id, "
    "time_ms, direction, sender, sender_name, recipient, recipient_name, call_id, cseq, content_type, text, "
    "original_text, verdict, rules, tags, final_code, source, transport, hash, raw_body, received_content_type, "
    "content_encoding, unreadable, conversation_previous, n) ORDER BY r.n "
    "ON CONFLICT (call_id, cseq, sender) DO NOTHING RETURNING id) "
    "SELECT count(*), coalesce(max(id), 0) FROM added";

struct Conversation {
  std::int64_t firstMs = 0;  // the first message's time (it decides continue or start)
  std::int64_t lastMs = 0;   // the latest message time in the batch
  std::string participants;
  std::int64_t id = 0;
  std::string lastHash;  // its newest row's hash, which the next row links
};

// One column of the batch as an array literal.
std::string textColumn(const std::vector<const MessageRecord*>& rows, std::string MessageRecord::*field) {
  pg::ArrayLiteral array;
  for (const MessageRecord* r : rows) array.text(r->*field);
  return array.str();
}

template <class Number>
std::string numberColumn(const std::vector<const MessageRecord*>& rows, Number MessageRecord::*field) {
  pg::ArrayLiteral array;
  for (const MessageRecord* r : rows) array.number(r->*field);
  return array.str();
}

}  // namespace

std::vector<bool> PostgresStore::insertMessages(const std::vector<const MessageRecord*>& messages) {
  if (messages.size() < 2 || options_.hopId.empty()) return Store::insertMessages(messages);
  const std::string headHash = lastHash_;
  const std::int64_t headId = lastId_;
  const std::int64_t added = rowsAdded_;
  const std::size_t pendingCodes = codes_.size();
  db_.script("SAVEPOINT bulk");
  if (insertBulk(messages)) {
    db_.script("RELEASE SAVEPOINT bulk");
    return std::vector<bool>(messages.size(), true);
  }
  db_.script("ROLLBACK TO SAVEPOINT bulk");
  lastHash_ = headHash;
  lastId_ = headId;
  rowsAdded_ = added;
  codes_.resize(pendingCodes);
  pendingLeaves_.resize(static_cast<std::size_t>(added));
  return Store::insertMessages(messages);
}

bool PostgresStore::insertBulk(const std::vector<const MessageRecord*>& messages) {
  db_.prepare("bulk_pagers", kResolvePagers);
  db_.prepare("bulk_sessions", kResolveSessions);
  db_.prepare("bulk_touch", kTouchConversations);
  db_.prepare("bulk_link", kLinkConversations);
  db_.prepare("bulk_rows", kInsertRows);
  // Each conversation key once, with its first and latest times; a pager
  // whose messages here are further apart than the gap goes row by row.
  std::map<std::string, Conversation> pagers;
  std::map<std::string, Conversation> sessions;
  for (const MessageRecord* r : messages) {
    auto& slot = (r->session ? sessions : pagers)[r->session ? r->callId : r->participants];
    if (slot.participants.empty()) {
      slot = Conversation{r->timeMs, r->timeMs, r->participants, 0, ""};
      continue;
    }
    if (!r->session && r->timeMs - options_.conversationGapMs > slot.lastMs) return false;
    slot.lastMs = std::max(slot.lastMs, r->timeMs);
  }
  if (!pagers.empty()) {
    std::vector<std::string> keys;
    std::vector<std::int64_t> times;
    for (const auto& [key, conversation] : pagers) {
      keys.push_back(key);
      times.push_back(conversation.firstMs);
    }
    const auto resolved = db_.runPrepared("bulk_pagers", pg::Params()
                                                             .text(pg::textArray(keys))
                                                             .text(pg::numberArray(times))
                                                             .number(options_.conversationGapMs));
    for (int i = 0; i < resolved.rows(); ++i) {
      Conversation& conversation = pagers[resolved.text(i, 0)];
      conversation.id = resolved.integer(i, 1);
      conversation.lastHash = resolved.text(i, 2);
    }
  }
  if (!sessions.empty()) {
    std::vector<std::string> callIds;
    std::vector<std::string> participants;
    std::vector<std::int64_t> started;
    std::vector<std::int64_t> last;
    for (const auto& [callId, conversation] : sessions) {
      callIds.push_back(callId);
      participants.push_back(conversation.participants);
      started.push_back(conversation.firstMs);
      last.push_back(conversation.lastMs);
    }
    const auto resolved = db_.runPrepared("bulk_sessions", pg::Params()
                                                               .text(pg::textArray(callIds))
                                                               .text(pg::textArray(participants))
                                                               .text(pg::numberArray(started))
                                                               .text(pg::numberArray(last)));
    for (int i = 0; i < resolved.rows(); ++i) {
      Conversation& conversation = sessions[resolved.text(i, 0)];
      conversation.id = resolved.integer(i, 1);
      conversation.lastHash = resolved.text(i, 2);
    }
  }
  // The chain hashed as if every row were new; the other columns come
  // straight from the records.
  std::vector<std::int64_t> conversationIds;
  std::vector<std::string> hashes;
  pg::ArrayLiteral links;  // each row's link to the row before it in its conversation
  std::string chain = lastHash_;
  for (const MessageRecord* r : messages) {
    Conversation& conversation = r->session ? sessions[r->callId] : pagers[r->participants];
    if (conversation.id == 0) return false;  // not resolved: cannot happen, but never write a row without one
    conversationIds.push_back(conversation.id);
    links.text(conversation.lastHash);
    char hex[64];
    hashRow(chain, *r, conversation.id, conversation.lastHash, hex);
    chain.assign(hex, sizeof hex);
    hashes.push_back(chain);
    conversation.lastHash = chain;
  }
  pg::ArrayLiteral originals;  // NULL unless a filter changed the text
  for (const MessageRecord* r : messages) {
    if (r->originalText.empty()) {
      originals.null();
    } else {
      originals.text(r->originalText);
    }
  }
  pg::Params params;
  params.text(pg::numberArray(conversationIds)).text(numberColumn(messages, &MessageRecord::timeMs)).text(options_.hopId);
  for (auto field : {&MessageRecord::direction, &MessageRecord::sender, &MessageRecord::senderName,
                     &MessageRecord::recipient, &MessageRecord::recipientName, &MessageRecord::callId}) {
    params.text(textColumn(messages, field));
  }
  params.text(numberColumn(messages, &MessageRecord::cseq))
      .text(textColumn(messages, &MessageRecord::contentType))
      .text(textColumn(messages, &MessageRecord::text))
      .text(originals.str());
  for (auto field : {&MessageRecord::verdict, &MessageRecord::rules, &MessageRecord::tags}) {
    params.text(textColumn(messages, field));
  }
  params.text(numberColumn(messages, &MessageRecord::finalCode))
      .text(textColumn(messages, &MessageRecord::source))
      .text(textColumn(messages, &MessageRecord::transport))
      .text(pg::textArray(hashes));
  pg::ArrayLiteral rawBodies;  // bytea's hex input; NULL when there is no body
  for (const MessageRecord* r : messages) {
    if (r->rawBody.empty()) {
      rawBodies.null();
    } else {
      rawBodies.text(pg::byteaLiteral(r->rawBody));
    }
  }
  params.text(rawBodies.str());
  for (auto field : {&MessageRecord::receivedContentType, &MessageRecord::contentEncoding, &MessageRecord::unreadable}) {
    params.text(textColumn(messages, field));
  }
  params.text(links.str());
  const auto inserted = db_.runPrepared("bulk_rows", params);
  if (inserted.integer(0, 0) != static_cast<std::int64_t>(messages.size())) return false;  // a duplicate
  // Pager conversations continued or started here: their latest time (the
  // statement leaves those already as late alone).
  std::vector<std::int64_t> touched;
  std::vector<std::int64_t> lastTimes;
  for (const auto& [key, conversation] : pagers) {
    touched.push_back(conversation.id);
    lastTimes.push_back(conversation.lastMs);
  }
  if (!touched.empty()) {
    db_.runPrepared("bulk_touch", pg::Params().text(pg::numberArray(touched)).text(pg::numberArray(lastTimes)));
  }
  std::vector<std::int64_t> linked;
  std::vector<std::string> newest;
  for (const auto* conversations : {&pagers, &sessions}) {
    for (const auto& [key, conversation] : *conversations) {
      linked.push_back(conversation.id);
      newest.push_back(conversation.lastHash);
    }
  }
  db_.runPrepared("bulk_link", pg::Params().text(pg::numberArray(linked)).text(pg::textArray(newest)));
  lastHash_ = chain;
  lastId_ = inserted.integer(0, 1);
  for (const std::string& hash : hashes) pendingLeaves_.push_back(fromHex(hash));
  rowsAdded_ += static_cast<std::int64_t>(messages.size());
  // Codes known at once are sealed at commit, with the batch's other codes.
  for (const MessageRecord* r : messages) {
    if (r->finalCode != 0) updateFinalCode(r->callId, r->cseq, r->sender, r->finalCode);
  }
  return true;
}

}  // namespace sipwarden::archive
