#include "archive/pg.h"

#include <algorithm>
#include <charconv>

namespace sipwarden::archive::pg {

Params& Params::text(std::string_view value) {
  values_.emplace_back(std::string(value));
  return *this;
}

Params& Params::number(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  return *this;
}

Params& Params::null() {
  values_.emplace_back(std::nullopt);
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& value : values_) out.push_back(value ? value->c_str() : nullptr);
  return out;
}

std::vector<int> Params::lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const auto& value : values_) out.push_back(value ? static_cast<int>(value->size()) : 0);
  return out;
}

std::string Result::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::int64_t Result::integer(int row, int column) const {
  if (null(row, column)) return 0;
  const char* value = PQgetvalue(result_.get(), row, column);
  const char* end = value + PQgetlength(result_.get(), row, column);
  std::int64_t out = 0;
  // Booleans come back as "t"/"f".
  if (value != end && (*value == 't' || *value == 'f')) return *value == 't' ? 1 : 0;
  std::from_chars(value, end, out);
  return out;
}

std::optional<std::int64_t> Result::optionalInteger(int row, int column) const {
  if (null(row, column)) return std::nullopt;
  return integer(row, column);
}

std::int64_t Result::affected() const {
  const char* count = PQcmdTuples(result_.get());
  std::int64_t out = 0;
  std::from_chars(count, count + std::char_traits<char>::length(count), out);
  return out;
}

Connection::Connection(const std::string& conninfo) : conninfo_(conninfo) {
  connection_ = PQconnectdb(conninfo.c_str());
  if (PQstatus(connection_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(connection_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    PQfinish(connection_);
    connection_ = nullptr;
    throw Error("cannot connect to " + redact(conninfo) + ": " + message, "08001");
  }
  // Notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(connection_, [](void*, const char*) {}, nullptr);
}

Connection::~Connection() { PQfinish(connection_); }

Result Connection::check(PGresult* raw, std::string_view what) {
  Result result(raw);
  const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return result;
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = raw ? PQresultErrorMessage(raw) : PQerrorMessage(connection_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (message.empty()) message = PQerrorMessage(connection_);
  throw Error(std::string(what) + ": " + message, state ? state : (PQstatus(connection_) == CONNECTION_BAD ? "08006" : ""));
}

void Connection::script(const std::string& sql) { check(PQexec(connection_, sql.c_str()), "postgresql"); }

Result Connection::run(const std::string& sql, const Params& params) {
  const auto values = params.pointers();
  const auto lengths = params.lengths();
  return check(PQexecParams(connection_, sql.c_str(), params.size(), nullptr, values.data(), lengths.data(), nullptr, 0),
               "postgresql");
}

void Connection::prepare(const std::string& name, const std::string& sql) {
  const auto known = std::find_if(prepared_.begin(), prepared_.end(), [&](const auto& p) { return p.first == name; });
  if (known == prepared_.end()) prepared_.emplace_back(name, sql);
}

Result Connection::runPrepared(const std::string& name, const Params& params) {
  if (std::find(live_.begin(), live_.end(), name) == live_.end()) {
    const auto known = std::find_if(prepared_.begin(), prepared_.end(), [&](const auto& p) { return p.first == name; });
    if (known == prepared_.end()) throw Error("statement " + name + " was never prepared", "");
    check(PQprepare(connection_, name.c_str(), known->second.c_str(), 0, nullptr), "prepare " + name);
    live_.push_back(name);
  }
  const auto values = params.pointers();
  const auto lengths = params.lengths();
  return check(PQexecPrepared(connection_, name.c_str(), params.size(), values.data(), lengths.data(), nullptr, 0),
               name);
}

bool Connection::inTransaction() const { return PQtransactionStatus(connection_) != PQTRANS_IDLE; }

bool Connection::ensureConnected() {
  if (PQstatus(connection_) == CONNECTION_OK) return false;
  PQreset(connection_);
  live_.clear();
  if (PQstatus(connection_) != CONNECTION_OK) {
    throw Error("cannot reconnect to " + redact(conninfo_) + ": " + PQerrorMessage(connection_), "08001");
  }
  return true;
}

std::string redact(const std::string& uri) {
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  const auto at = uri.find('@', scheme + 3);
  const auto slash = uri.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return uri;
  const auto colon = uri.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return uri;
  return uri.substr(0, colon + 1) + "***" + uri.substr(at);
}

ArrayLiteral& ArrayLiteral::text(std::string_view value) {
  separate();
  out_ += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') out_ += '\\';
    out_ += c;
  }
  out_ += '"';
  return *this;
}

ArrayLiteral& ArrayLiteral::null() {
  separate();
  out_ += "NULL";
  return *this;
}

ArrayLiteral& ArrayLiteral::number(std::int64_t value) {
  separate();
  out_ += std::to_string(value);
  return *this;
}

std::string byteaLiteral(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0f];
  }
  return out;
}

std::string textArray(const std::vector<std::string>& values) {
  ArrayLiteral array;
  for (const auto& value : values) array.text(value);
  return array.str();
}

std::string numberArray(const std::vector<std::int64_t>& values) {
  ArrayLiteral array;
  for (const auto value : values) array.number(value);
  return array.str();
}

std::string numberPlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 1;
  bool quoted = false;
  for (const char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted) {
      out += '$';
      out += std::to_string(next++);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace sipwarden::archive::pg
