#include "query/reader.h"

#include "archive/hash_chain.h"
#include "query/row_mapper.h"

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
  // `column = value`, unless the filter's value is empty (not asked for).
  void equal(const std::string& column, const std::string& value) {
    if (value.empty()) return;
    where(column + " = ?");
    bind(value);
  }
  // The filters' participant (either side), from and to, on the columns of
  // the sending and the receiving side.
  void people(const Filters& f, const std::string& from, const std::string& to) {
    if (!f.participant.empty()) {
      where("(" + from + " = ? OR " + to + " = ?)");
      bind(f.participant);
      bind(f.participant);
    }
    equal(from, f.from);
    equal(to, f.to);
  }
  // The filters' since/until: `from` at or after since, `to` before until
  // (the same column for a point in time; two for a span overlapping it).
  void range(const Filters& f, const std::string& from, const std::string& to) {
    if (f.sinceMs) {
      where(from + " >= ?");
      bind(*f.sinceMs);
    }
    if (f.untilMs) {
      where(to + " < ?");
      bind(*f.untilMs);
    }
  }

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

// Whether a comma-separated column holds the value (by default the bound
// one) as a whole entry.
std::string inList(Dialect dialect, const std::string& column, const std::string& value = "?") {
  const std::string list = "',' || " + column + " || ','";
  return dialect == Dialect::kSqlite ? "instr(" + list + ", ',' || " + value + " || ',') > 0"
                                     : "strpos(" + list + ", ',' || " + value + " || ',') > 0";
}

// Conditions on messages `m` shared by the message list and the
// conversation list (which keeps conversations holding a matching message).
void messageConditions(Dialect dialect, const Filters& f, Sql& sql, bool withTime, bool withText = true) {
  sql.people(f, "m.sender", "m.recipient");
  if (withTime) sql.range(f, "m.time_ms", "m.time_ms");
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
  sql.equal("m.call_id", f.callId);
  if (f.unreadable) sql.where("m.unreadable <> ''");  // the partial messages_unreadable
}

bool hasMessageConditions(const Filters& f) {
  return !f.participant.empty() || !f.from.empty() || !f.to.empty() || !f.text.empty() || !f.verdict.empty() ||
         !f.rule.empty() || !f.tag.empty() || !f.callId.empty() || f.unreadable;
}

void keyset(const Filters& f, char kind, const std::string& timeColumn, const std::string& idColumn, Sql& sql) {
  if (f.cursor.empty()) return;
  const auto [time, id] = decodeCursor(f.cursor, kind);
  sql.where("(" + timeColumn + ", " + idColumn + ") < (?, ?)");
  sql.bind(time);
  sql.bind(id);
}

// The message list's columns. A final code that came after the row lives
// only in its outcome records: the newest one is the code, else the one the
// row was written with.
RowMapper<MessageRow> messageColumns(Dialect dialect) {
  return RowMapper<MessageRow>()
      .column("m.id", &MessageRow::id)
      .column("m.conversation_id", &MessageRow::conversationId)
      .column("m.time_ms", &MessageRow::timeMs)
      .column("m.direction", &MessageRow::direction)
      .column("m.sender", &MessageRow::sender)
      .column("m.sender_name", &MessageRow::senderName)
      .column("m.recipient", &MessageRow::recipient)
      .column("m.recipient_name", &MessageRow::recipientName)
      .column("m.call_id", &MessageRow::callId)
      .column("m.content_type", &MessageRow::contentType)
      .column("m.text", &MessageRow::text)
      .column("m.original_text", &MessageRow::originalText)
      .column("m.verdict", &MessageRow::verdict)
      .column("m.rules", &MessageRow::rules)
      .column("m.tags", &MessageRow::tags)
      .column("coalesce((SELECT o.final_code FROM outcomes o WHERE o.message_id = m.id ORDER BY o.id DESC LIMIT 1), "
              "m.final_code)",
              &MessageRow::finalCode)
      .hexColumn(dialect == Dialect::kSqlite ? "coalesce(hex(m.raw_body), '')"
                                             : "coalesce(encode(m.raw_body, 'hex'), '')",
                 &MessageRow::rawBody)
      .column("m.received_content_type", &MessageRow::receivedContentType)
      .column("m.content_encoding", &MessageRow::contentEncoding)
      .column("m.unreadable", &MessageRow::unreadable);
}

// The conversation list's columns. In SQLite "+x.verdict" counts within the
// conversation's rows (messages_conversation), not by walking every blocked
// message in the archive (messages_verdict). A conversation is under legal
// hold when it or one of its participants is held.
RowMapper<ConversationRow> conversationColumns(Dialect dialect) {
  const std::string verdict = dialect == Dialect::kSqlite ? "+x.verdict" : "x.verdict";
  const std::string count = "(SELECT count(*) FROM messages x WHERE x.conversation_id = c.id";
  return RowMapper<ConversationRow>()
      .column("c.id", &ConversationRow::id)
      .column("c.kind", &ConversationRow::kind)
      .column("coalesce(c.call_id, '')", &ConversationRow::callId)
      .column("c.participants", &ConversationRow::participants)
      .column("c.started_ms", &ConversationRow::startedMs)
      .column("c.last_ms", &ConversationRow::lastMs)
      .column("(c.legal_hold <> 0 OR EXISTS (SELECT 1 FROM holds h WHERE (h.kind = 'conversation' AND h.value = "
              "CAST(c.id AS TEXT)) OR (h.kind = 'participant' AND " +
                  inList(dialect, "c.participants", "h.value") +
                  ")))",
              &ConversationRow::legalHold)
      .column(count + ")", &ConversationRow::messages)
      .column(count + " AND " + verdict + " = 'blocked')", &ConversationRow::blocked)
      .column(count + " AND " + verdict + " = 'modified')", &ConversationRow::modified);
}

RowMapper<CallRow> callColumns() {
  return RowMapper<CallRow>()
      .column("k.id", &CallRow::id)
      .column("k.call_id", &CallRow::callId)
      .column("k.caller", &CallRow::caller)
      .column("k.callee", &CallRow::callee)
      .column("k.invite_ms", &CallRow::inviteMs)
      .column("k.ringing_ms", &CallRow::ringingMs)
      .column("k.answer_ms", &CallRow::answerMs)
      .column("k.end_ms", &CallRow::endMs)
      .column("k.duration_ms", &CallRow::durationMs)
      .column("k.disposition", &CallRow::disposition)
      .column("k.end_code", &CallRow::endCode)
      .column("k.ended_by", &CallRow::endedBy)
      .column("k.media", &CallRow::media);
}

RowMapper<AuditRow> auditColumns() {
  return RowMapper<AuditRow>()
      .column("a.id", &AuditRow::id)
      .column("a.time_ms", &AuditRow::timeMs)
      .column("a.who", &AuditRow::who)
      .column("a.action", &AuditRow::action)
      .column("a.query", &AuditRow::query)
      .column("a.results", &AuditRow::results);
}

// Runs `sql` (which ends in "LIMIT ?") for limit + 1 rows: the extra row
// only says whether there is a next page.
template <typename Row, typename Key>
Page<Row> page(Connection& db, const std::string& text, Sql& sql, int limit, char kind, const RowMapper<Row>& mapper,
               Key key) {
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
    out.rows.push_back(mapper.read(statement));
  }
  return out;
}

// A page of rows newest first: after the cursor's (time, id) when there is
// one, in (time, id) order, where `from` names the table and its alias.
template <typename Row>
Page<Row> newestFirst(Connection& db, const RowMapper<Row>& columns, const std::string& from, Sql& sql,
                      const Filters& f, char kind, const std::string& timeColumn, std::int64_t Row::*time,
                      const std::string& idColumn) {
  keyset(f, kind, timeColumn, idColumn, sql);
  const std::string text = "SELECT " + columns.select() + " FROM " + from + sql.clause() + " ORDER BY " + timeColumn +
                           " DESC, " + idColumn + " DESC LIMIT ?";
  return page<Row>(db, text, sql, f.limit, kind, columns, [time](const Row& r) { return std::pair(r.*time, r.id); });
}

}  // namespace

Reader::Reader(const std::string& url) : db_(openConnection(url)) {}

Page<MessageRow> Reader::messages(const Filters& f) {
  refuse(f, "messages", true, true, false, true);
  if (!f.text.empty()) return textSearch(f);
  Sql sql;
  messageConditions(db_->dialect(), f, sql, true);
  return newestFirst(*db_, messageColumns(db_->dialect()), "messages m", sql, f, 'm', "m.time_ms",
                     &MessageRow::timeMs, "m.id");
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
  const auto columns = messageColumns(db_->dialect());
  const std::string text =
      "SELECT " + columns.select() +
      (sqlite ? " FROM messages_fts CROSS JOIN messages m ON m.id = messages_fts.rowid" + sql.clause() +
                    " ORDER BY messages_fts.rowid DESC LIMIT ?"
              : " FROM messages m" + sql.clause() + " ORDER BY m.id DESC LIMIT ?");
  return page<MessageRow>(*db_, text, sql, f.limit, 't', columns,
                          [](const MessageRow& r) { return std::pair(std::int64_t{0}, r.id); });
}

Page<ConversationRow> Reader::conversations(const Filters& f) {
  refuse(f, "conversations", true, true, false, true);
  Sql sql;
  sql.range(f, "c.last_ms", "c.started_ms");
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
  return newestFirst(*db_, conversationColumns(db_->dialect()), "conversations c", sql, f, 'c', "c.last_ms",
                     &ConversationRow::lastMs, "c.id");
}

Page<CallRow> Reader::calls(const Filters& f) {
  refuse(f, "calls", false, false, true, true);
  Sql sql;
  sql.people(f, "k.caller", "k.callee");
  sql.range(f, "k.invite_ms", "k.invite_ms");
  sql.equal("k.call_id", f.callId);
  sql.equal("k.disposition", f.disposition);
  return newestFirst(*db_, callColumns(), "calls k", sql, f, 'k', "k.invite_ms", &CallRow::inviteMs, "k.id");
}

std::optional<Transcript> Reader::conversation(std::int64_t id) {
  Transcript out;
  {
    const auto columns = conversationColumns(db_->dialect());
    const auto head = db_->query("SELECT " + columns.select() + " FROM conversations c WHERE c.id = ?", {id});
    if (!head->step()) return std::nullopt;
    out.conversation = columns.read(*head);
  }
  const auto columns = messageColumns(db_->dialect());
  const auto rows =
      db_->query("SELECT " + columns.select() + " FROM messages m WHERE m.conversation_id = ? ORDER BY m.time_ms, m.id",
                 {id});
  while (rows->step()) out.messages.push_back(columns.read(*rows));
  return out;
}

Stats Reader::stats(const Filters& f) {
  refuse(f, "stats", false, false, false, false);
  Stats out;
  Sql range;
  range.range(f, "time_ms", "time_ms");
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
    count.range(f, "time_ms", "time_ms");
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
  conversations.range(f, "last_ms", "started_ms");
  {
    const auto s = db_->query("SELECT count(*) FROM conversations" + conversations.clause(), conversations.values());
    if (s->step()) out.conversations = s->integer(0);
  }
  Sql calls;
  calls.range(f, "invite_ms", "invite_ms");
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
  sql.range(f, "a.time_ms", "a.time_ms");
  return newestFirst(*db_, auditColumns(), "audit a", sql, f, 'a', "a.time_ms", &AuditRow::timeMs, "a.id");
}

void Reader::recordAudit(const std::string& who, const std::string& action, const std::string& query,
                         std::int64_t results) {
  db_->appendAudit(archive::AuditEntry{nowMillis(), who, action, query, results});
}

}  // namespace sipwarden::query
