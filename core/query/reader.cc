#include "query/reader.h"

#include "archive/chain.h"

namespace sipwarden::query {
namespace {

// One statement built from WHERE fragments and their values, in order.
class Sql {
 public:
  void where(const std::string& condition) { conditions_.push_back(condition); }
  void bind(Value value) { values_.push_back(std::move(value)); }
  std::string clause() const {
    std::string out;
    for (const auto& condition : conditions_) out += (out.empty() ? " WHERE " : " AND ") + condition;
    return out;
  }
  const std::vector<Value>& values() const { return values_; }

 private:
  std::vector<std::string> conditions_;
  std::vector<Value> values_;
};

void refuse(const Filters& f, const char* list, bool text, bool verdict, bool disposition, bool people) {
  auto no = [list](const char* name) {
    throw QueryError(std::string(name) + ": not a filter for " + list);
  };
  if (!text && !f.text.empty()) no("text");
  if (!verdict && (!f.verdict.empty() || !f.rule.empty() || !f.tag.empty() || f.unreadable)) {
    no(!f.verdict.empty() ? "verdict" : (!f.rule.empty() ? "rule" : (!f.tag.empty() ? "tag" : "unreadable")));
  }
  if (!disposition && !f.disposition.empty()) no("disposition");
  if (!people && (!f.participant.empty() || !f.from.empty() || !f.to.empty() || !f.callId.empty())) {
    no(!f.participant.empty() ? "participant" : (!f.from.empty() ? "from" : (!f.to.empty() ? "to" : "call_id")));
  }
}

// PostgreSQL's text search: the user's words in web-search syntax ("a b"
// for both, quotes for a phrase, "or", "-word") against the generated
// tsvector (schemas/postgresql/001_archive.sql), which never fails to parse.
constexpr const char* kPostgresTextMatch = "m.text_search @@ websearch_to_tsquery('simple', ?)";

// Whether a comma-separated column holds the bound value as a whole entry.
std::string inList(Dialect dialect, const std::string& column) {
  const std::string list = "',' || " + column + " || ','";
  return dialect == Dialect::kSqlite ? "instr(" + list + ", ',' || ? || ',') > 0"
                                     : "strpos(" + list + ", ',' || ? || ',') > 0";
}

// Conditions on messages `m` shared by the message list and the
// conversation list (which keeps conversations holding a matching message).
void messageConditions(Dialect dialect, const Filters& f, Sql& sql, bool withTime, bool withText = true) {
  if (!f.participant.empty()) {
    sql.where("(m.sender = ? OR m.recipient = ?)");
    sql.bind(f.participant);
    sql.bind(f.participant);
  }
  if (!f.from.empty()) {
    sql.where("m.sender = ?");
    sql.bind(f.from);
  }
  if (!f.to.empty()) {
    sql.where("m.recipient = ?");
    sql.bind(f.to);
  }
  if (withTime && f.sinceMs) {
    sql.where("m.time_ms >= ?");
    sql.bind(*f.sinceMs);
  }
  if (withTime && f.untilMs) {
    sql.where("m.time_ms < ?");
    sql.bind(*f.untilMs);
  }
  if (withText && !f.text.empty()) {
    sql.where(dialect == Dialect::kSqlite ? "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
                                          : kPostgresTextMatch);
    sql.bind(f.text);
  }
  if (!f.verdict.empty()) {
    sql.where("m.verdict = ?");
    sql.bind(f.verdict);
    // Lets SQLite use the partial messages_verdict (schemas/006).
    if (f.verdict != "delivered") sql.where("m.verdict <> 'delivered'");
  }
  // Comma-separated lists: match whole entries only.
  if (!f.rule.empty()) {
    sql.where(inList(dialect, "m.rules"));
    sql.bind(f.rule);
  }
  if (!f.tag.empty()) {
    sql.where(inList(dialect, "m.tags"));
    sql.bind(f.tag);
  }
  if (!f.callId.empty()) {
    sql.where("m.call_id = ?");
    sql.bind(f.callId);
  }
  if (f.unreadable) sql.where("m.unreadable <> ''");  // the partial messages_unreadable
}

bool hasMessageConditions(const Filters& f) {
  return !f.participant.empty() || !f.from.empty() || !f.to.empty() || !f.text.empty() || !f.verdict.empty() ||
         !f.rule.empty() || !f.tag.empty() || !f.callId.empty() || f.unreadable;
}

void keyset(const Filters& f, char kind, const char* timeColumn, const char* idColumn, Sql& sql) {
  if (f.cursor.empty()) return;
  const auto [time, id] = decodeCursor(f.cursor, kind);
  sql.where(std::string("(") + timeColumn + ", " + idColumn + ") < (?, ?)");
  sql.bind(time);
  sql.bind(id);
}

// The message list's columns. A final code that came after the row lives
// only in its outcome records: the newest one is the code, else the one the
// row was written with.
// The raw body travels as hex, so that both backends hand it over as text.
std::string messageColumns(Dialect dialect) {
  return std::string(
             "m.id, m.conversation_id, m.time_ms, m.direction, m.sender, m.sender_name, m.recipient, "
             "m.recipient_name, m.call_id, m.content_type, m.text, m.original_text, m.verdict, m.rules, m.tags, "
             "coalesce((SELECT o.final_code FROM outcomes o WHERE o.message_id = m.id ORDER BY o.id DESC LIMIT 1), "
             "m.final_code), ") +
         (dialect == Dialect::kSqlite ? "coalesce(hex(m.raw_body), '')" : "coalesce(encode(m.raw_body, 'hex'), '')") +
         ", m.received_content_type, m.content_encoding, m.unreadable";
}

MessageRow messageRow(const Rows& s) {
  MessageRow r;
  r.id = s.integer(0);
  r.conversationId = s.integer(1);
  r.timeMs = s.integer(2);
  r.direction = s.text(3);
  r.sender = s.text(4);
  r.senderName = s.text(5);
  r.recipient = s.text(6);
  r.recipientName = s.text(7);
  r.callId = s.text(8);
  r.contentType = s.text(9);
  r.text = s.text(10);
  if (!s.null(11)) r.originalText = s.text(11);
  r.verdict = s.text(12);
  r.rules = s.text(13);
  r.tags = s.text(14);
  r.finalCode = static_cast<int>(s.integer(15));
  r.rawBody = archive::fromHex(s.text(16));
  r.receivedContentType = s.text(17);
  r.contentEncoding = s.text(18);
  r.unreadable = s.text(19);
  return r;
}

// The conversation list's columns. In SQLite "+x.verdict" counts within the
// conversation's rows (messages_conversation), not by walking every blocked
// message in the archive (messages_verdict). A conversation is under legal
// hold when it or one of its participants is held.
std::string conversationColumns(Dialect dialect) {
  const char* verdict = dialect == Dialect::kSqlite ? "+x.verdict" : "x.verdict";
  return std::string("c.id, c.kind, coalesce(c.call_id, ''), c.participants, c.started_ms, c.last_ms, ") +
         "(c.legal_hold <> 0 OR EXISTS (SELECT 1 FROM holds h WHERE (h.kind = 'conversation' AND h.value = "
         "CAST(c.id AS TEXT)) OR (h.kind = 'participant' AND " +
         (dialect == Dialect::kSqlite ? "instr(',' || c.participants || ',', ',' || h.value || ',') > 0"
                                      : "strpos(',' || c.participants || ',', ',' || h.value || ',') > 0") +
         "))), (SELECT count(*) FROM messages x WHERE x.conversation_id = c.id), "
         "(SELECT count(*) FROM messages x WHERE x.conversation_id = c.id AND " + verdict + " = 'blocked'), "
         "(SELECT count(*) FROM messages x WHERE x.conversation_id = c.id AND " + verdict + " = 'modified')";
}

ConversationRow conversationRow(const Rows& s) {
  ConversationRow r;
  r.id = s.integer(0);
  r.kind = s.text(1);
  r.callId = s.text(2);
  r.participants = s.text(3);
  r.startedMs = s.integer(4);
  r.lastMs = s.integer(5);
  r.legalHold = s.integer(6) != 0;
  r.messages = s.integer(7);
  r.blocked = s.integer(8);
  r.modified = s.integer(9);
  return r;
}

// Runs `sql` (which ends in "LIMIT ?") for limit + 1 rows: the extra row
// only says whether there is a next page.
template <typename Row, typename Read, typename Key>
Page<Row> page(Connection& db, const std::string& text, Sql& sql, int limit, char kind, Read read, Key key) {
  sql.bind(static_cast<std::int64_t>(limit) + 1);
  const auto rows = db.query(text, sql.values());
  const Rows& statement = *rows;
  Page<Row> out;
  while (rows->step()) {
    if (static_cast<int>(out.rows.size()) == limit) {
      const auto [time, id] = key(out.rows.back());
      out.nextCursor = encodeCursor(kind, time, id);
      break;
    }
    out.rows.push_back(read(statement));
  }
  return out;
}

}  // namespace

Reader::Reader(const std::string& url) : db_(openConnection(url)) {}

Page<MessageRow> Reader::messages(const Filters& f) {
  refuse(f, "messages", true, true, false, true);
  if (!f.text.empty()) return textSearch(f);
  Sql sql;
  messageConditions(db_->dialect(), f, sql, true);
  keyset(f, 'm', "m.time_ms", "m.id", sql);
  const std::string text = "SELECT " + messageColumns(db_->dialect()) + " FROM messages m" + sql.clause() +
                           " ORDER BY m.time_ms DESC, m.id DESC LIMIT ?";
  return page<MessageRow>(*db_, text, sql, f.limit, 'm', messageRow,
                          [](const MessageRow& r) { return std::pair(r.timeMs, r.id); });
}

// A full-text search walks the index's matches newest first (rowid order,
// which FTS5 gives without sorting) and stops at the page's end; the other
// filters are checked on the way. Sorting every match by time instead cost
// 300-400 ms for two common words on a million messages. Rowid order is
// archive (arrival) order, the time order the hop assigned.
Page<MessageRow> Reader::textSearch(const Filters& f) {
  Sql sql;
  const bool sqlite = db_->dialect() == Dialect::kSqlite;
  sql.where(sqlite ? "messages_fts MATCH ?" : kPostgresTextMatch);
  sql.bind(f.text);
  messageConditions(db_->dialect(), f, sql, true, false);
  if (!f.cursor.empty()) {
    sql.where(sqlite ? "messages_fts.rowid < ?" : "m.id < ?");
    sql.bind(decodeCursor(f.cursor, 't').second);
  }
  // PostgreSQL walks the primary key backwards and checks each row against
  // the GIN index's bitmap, or the other way round: the planner chooses.
  const std::string text =
      "SELECT " + messageColumns(db_->dialect()) +
      (sqlite ? " FROM messages_fts CROSS JOIN messages m ON m.id = messages_fts.rowid" + sql.clause() +
                    " ORDER BY messages_fts.rowid DESC LIMIT ?"
              : " FROM messages m" + sql.clause() + " ORDER BY m.id DESC LIMIT ?");
  return page<MessageRow>(*db_, text, sql, f.limit, 't', messageRow,
                          [](const MessageRow& r) { return std::pair(std::int64_t{0}, r.id); });
}

Page<ConversationRow> Reader::conversations(const Filters& f) {
  refuse(f, "conversations", true, true, false, true);
  Sql sql;
  if (f.sinceMs) {
    sql.where("c.last_ms >= ?");
    sql.bind(*f.sinceMs);
  }
  if (f.untilMs) {
    sql.where("c.started_ms < ?");
    sql.bind(*f.untilMs);
  }
  if (!f.text.empty()) {
    // Walk conversations newest first (conversations_last) and look for a
    // match among each one's own rows, stopping when the page is full:
    // 60 ms for two common words on 1M messages, where collecting the
    // conversations of all 86,000 matches took 1.3 s. INDEXED BY keeps
    // the inner search on the conversation's rows even with a verdict
    // filter (through messages_verdict it took seconds).
    const bool sqlite = db_->dialect() == Dialect::kSqlite;
    Sql inner;
    inner.where("m.conversation_id = c.id");
    inner.where(sqlite ? "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)" : kPostgresTextMatch);
    inner.bind(f.text);
    messageConditions(db_->dialect(), f, inner, false, false);
    sql.where(std::string("EXISTS (SELECT 1 FROM messages m") + (sqlite ? " INDEXED BY messages_conversation" : "") +
              inner.clause() + ")");
    for (const auto& value : inner.values()) sql.bind(value);
  } else if (hasMessageConditions(f)) {
    // Selective filters (a participant, a verdict): the few matching rows
    // name their conversations.
    Sql inner;
    messageConditions(db_->dialect(), f, inner, false);
    sql.where("c.id IN (SELECT m.conversation_id FROM messages m" + inner.clause() + ")");
    for (const auto& value : inner.values()) sql.bind(value);
  }
  keyset(f, 'c', "c.last_ms", "c.id", sql);
  const std::string text = "SELECT " + conversationColumns(db_->dialect()) + " FROM conversations c" + sql.clause() +
                           " ORDER BY c.last_ms DESC, c.id DESC LIMIT ?";
  return page<ConversationRow>(*db_, text, sql, f.limit, 'c', conversationRow,
                               [](const ConversationRow& r) { return std::pair(r.lastMs, r.id); });
}

Page<CallRow> Reader::calls(const Filters& f) {
  refuse(f, "calls", false, false, true, true);
  Sql sql;
  if (!f.participant.empty()) {
    sql.where("(k.caller = ? OR k.callee = ?)");
    sql.bind(f.participant);
    sql.bind(f.participant);
  }
  if (!f.from.empty()) {
    sql.where("k.caller = ?");
    sql.bind(f.from);
  }
  if (!f.to.empty()) {
    sql.where("k.callee = ?");
    sql.bind(f.to);
  }
  if (f.sinceMs) {
    sql.where("k.invite_ms >= ?");
    sql.bind(*f.sinceMs);
  }
  if (f.untilMs) {
    sql.where("k.invite_ms < ?");
    sql.bind(*f.untilMs);
  }
  if (!f.callId.empty()) {
    sql.where("k.call_id = ?");
    sql.bind(f.callId);
  }
  if (!f.disposition.empty()) {
    sql.where("k.disposition = ?");
    sql.bind(f.disposition);
  }
  keyset(f, 'k', "k.invite_ms", "k.id", sql);
  const std::string text =
      "SELECT k.id, k.call_id, k.caller, k.callee, k.invite_ms, k.ringing_ms, k.answer_ms, k.end_ms, k.duration_ms, "
      "k.disposition, k.end_code, k.ended_by, k.media FROM calls k" +
      sql.clause() + " ORDER BY k.invite_ms DESC, k.id DESC LIMIT ?";
  auto read = [](const Rows& s) {
    CallRow r;
    r.id = s.integer(0);
    r.callId = s.text(1);
    r.caller = s.text(2);
    r.callee = s.text(3);
    r.inviteMs = s.integer(4);
    r.ringingMs = s.optionalInteger(5);
    r.answerMs = s.optionalInteger(6);
    r.endMs = s.optionalInteger(7);
    r.durationMs = s.optionalInteger(8);
    r.disposition = s.text(9);
    r.endCode = static_cast<int>(s.integer(10));
    r.endedBy = s.text(11);
    r.media = s.text(12);
    return r;
  };
  return page<CallRow>(*db_, text, sql, f.limit, 'k', read,
                       [](const CallRow& r) { return std::pair(r.inviteMs, r.id); });
}

std::optional<Transcript> Reader::conversation(std::int64_t id) {
  Transcript out;
  {
    const auto head = db_->query("SELECT " + conversationColumns(db_->dialect()) + " FROM conversations c WHERE c.id = ?", {id});
    if (!head->step()) return std::nullopt;
    out.conversation = conversationRow(*head);
  }
  const auto rows = db_->query("SELECT " + messageColumns(db_->dialect()) +
                     " FROM messages m WHERE m.conversation_id = ? ORDER BY m.time_ms, m.id",
                 {id});
  while (rows->step()) out.messages.push_back(messageRow(*rows));
  return out;
}

Stats Reader::stats(const Filters& f) {
  refuse(f, "stats", false, false, false, false);
  Stats out;
  Sql range;
  if (f.sinceMs) {
    range.where("time_ms >= ?");
    range.bind(*f.sinceMs);
  }
  if (f.untilMs) {
    range.where("time_ms < ?");
    range.bind(*f.untilMs);
  }
  // One index range count per rare verdict (the partial messages_verdict),
  // the total from messages_time, delivered as the rest; the first and last
  // times from messages_time: no pass over the rows.
  {
    const auto s = db_->query("SELECT count(*) FROM messages" + range.clause(), range.values());
    out.messages = s->step() ? s->integer(0) : 0;
  }
  std::int64_t others = 0;
  for (const char* verdict : {"blocked", "modified", "failed"}) {
    Sql count;
    count.where("verdict = ?");
    count.where("verdict <> 'delivered'");
    count.bind(std::string(verdict));
    if (f.sinceMs) {
      count.where("time_ms >= ?");
      count.bind(*f.sinceMs);
    }
    if (f.untilMs) {
      count.where("time_ms < ?");
      count.bind(*f.untilMs);
    }
    const auto s = db_->query("SELECT count(*) FROM messages" + count.clause(), count.values());
    const std::int64_t n = s->step() ? s->integer(0) : 0;
    others += n;
    if (verdict == std::string("blocked")) out.blocked = n;
    if (verdict == std::string("modified")) out.modified = n;
    if (verdict == std::string("failed")) out.failed = n;
  }
  out.delivered = out.messages - others;
  {
    const auto s = db_->query("SELECT min(time_ms), max(time_ms) FROM messages" + range.clause(), range.values());
    if (s->step() && !s->null(0)) {
      out.firstMs = s->integer(0);
      out.lastMs = s->integer(1);
    }
  }
  Sql conversations;
  if (f.sinceMs) {
    conversations.where("last_ms >= ?");
    conversations.bind(*f.sinceMs);
  }
  if (f.untilMs) {
    conversations.where("started_ms < ?");
    conversations.bind(*f.untilMs);
  }
  {
    const auto s = db_->query("SELECT count(*) FROM conversations" + conversations.clause(), conversations.values());
    if (s->step()) out.conversations = s->integer(0);
  }
  Sql calls;
  if (f.sinceMs) {
    calls.where("invite_ms >= ?");
    calls.bind(*f.sinceMs);
  }
  if (f.untilMs) {
    calls.where("invite_ms < ?");
    calls.bind(*f.untilMs);
  }
  {
    const auto s = db_->query("SELECT count(*), count(answer_ms) FROM calls" + calls.clause(),
                calls.values());
    if (s->step()) {
      out.calls = s->integer(0);
      out.answeredCalls = s->integer(1);
    }
  }
  return out;
}

Page<AuditRow> Reader::audit(const Filters& f) {
  refuse(f, "audit", false, false, false, false);
  Sql sql;
  if (f.sinceMs) {
    sql.where("a.time_ms >= ?");
    sql.bind(*f.sinceMs);
  }
  if (f.untilMs) {
    sql.where("a.time_ms < ?");
    sql.bind(*f.untilMs);
  }
  keyset(f, 'a', "a.time_ms", "a.id", sql);
  const std::string text = "SELECT a.id, a.time_ms, a.who, a.action, a.query, a.results FROM audit a" + sql.clause() +
                           " ORDER BY a.time_ms DESC, a.id DESC LIMIT ?";
  auto read = [](const Rows& s) {
    AuditRow r;
    r.id = s.integer(0);
    r.timeMs = s.integer(1);
    r.who = s.text(2);
    r.action = s.text(3);
    r.query = s.text(4);
    r.results = s.integer(5);
    return r;
  };
  return page<AuditRow>(*db_, text, sql, f.limit, 'a', read,
                        [](const AuditRow& r) { return std::pair(r.timeMs, r.id); });
}

void Reader::recordAudit(const std::string& who, const std::string& action, const std::string& query,
                         std::int64_t results) {
  db_->appendAudit(archive::AuditEntry{nowMillis(), who, action, query, results});
}

}  // namespace sipwarden::query
