#include "query/filters.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/URI.h>

#include <chrono>
#include <ctime>
#include <set>
#include <sstream>

namespace sipwarden::query {
namespace {

bool allDigits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::int64_t toInt(const std::string& text, const std::string& what) {
  if (!allDigits(text) || text.size() > 18) throw QueryError(what + ": expected a number, got '" + text + "'");
  return std::stoll(text);
}

}  // namespace

std::int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t parseTime(const std::string& text, std::int64_t nowMs, bool localTime) {
  if (text.size() >= 2 && allDigits(text.substr(0, text.size() - 1)) && text.size() < 12) {
    static const std::pair<char, std::int64_t> units[] = {
        {'s', 1000}, {'m', 60'000}, {'h', 3'600'000}, {'d', 86'400'000}, {'w', 7 * 86'400'000LL}};
    for (const auto& [unit, ms] : units) {
      if (text.back() == unit) return nowMs - std::stoll(text.substr(0, text.size() - 1)) * ms;
    }
  }
  if (allDigits(text) && text.size() >= 12) return toInt(text, "time");
  // YYYY-MM-DD[(T| )HH:MM[:SS]][Z], each field its exact digit count:
  // checked here rather than left to timegm, which would quietly turn
  // 2026-02-31 into March 3.
  std::string body = text;
  bool utc = !localTime;
  if (!body.empty() && (body.back() == 'Z' || body.back() == 'z')) {
    utc = true;
    body.pop_back();
  }
  auto field = [&body](std::size_t at, std::size_t count) {
    const std::string digits = body.substr(at, count);
    return allDigits(digits) && digits.size() == count ? std::stoi(digits) : -1;
  };
  const bool sizeOk = body.size() == 10 || body.size() == 16 || body.size() == 19;
  const bool shapeOk = sizeOk && body[4] == '-' && body[7] == '-' &&
                       (body.size() == 10 || ((body[10] == 'T' || body[10] == ' ') && body[13] == ':')) &&
                       (body.size() != 19 || body[16] == ':');
  const int year = shapeOk ? field(0, 4) : -1, month = shapeOk ? field(5, 2) : -1, day = shapeOk ? field(8, 2) : -1;
  const int hour = shapeOk && body.size() > 10 ? field(11, 2) : 0;
  const int minute = shapeOk && body.size() > 10 ? field(14, 2) : 0;
  const int second = shapeOk && body.size() > 16 ? field(17, 2) : 0;
  if (!shapeOk || year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
    throw QueryError("expected a date (2026-11-20, 2026-11-20T10:00[:00][Z]) or a duration before now (7d, 12h, 30m), got '" +
                     text + "'");
  }
  static const int daysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn[month - 1] + (month == 2 && leap ? 1 : 0)) {
    throw QueryError("no such date: '" + text + "'");
  }
  if (hour > 23 || minute > 59 || second > 59) throw QueryError("no such time of day: '" + text + "'");
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  const std::time_t seconds = utc ? timegm(&tm) : std::mktime(&tm);
  return static_cast<std::int64_t>(seconds) * 1000;
}

std::string normalizeAor(const std::string& text) {
  std::string aor = text;
  for (const char* scheme : {"sip:", "sips:", "SIP:", "SIPS:"}) {
    if (aor.starts_with(scheme)) {
      aor = aor.substr(std::string_view(scheme).size());
      break;
    }
  }
  const std::size_t at = aor.find('@');
  for (std::size_t i = at == std::string::npos ? 0 : at; i < aor.size(); ++i) {
    if (aor[i] >= 'A' && aor[i] <= 'Z') aor[i] = static_cast<char>(aor[i] - 'A' + 'a');
  }
  return aor;
}

Filters parseFilters(const std::vector<std::pair<std::string, std::string>>& params, std::int64_t nowMs,
                     bool localTime) {
  static const std::set<std::string> verdicts = {"delivered", "blocked", "modified", "failed"};
  Filters f;
  for (const auto& [name, value] : params) {
    auto time = [&]() {
      try {
        return parseTime(value, nowMs, localTime);
      } catch (const QueryError& error) {
        throw QueryError(name + ": " + error.what());
      }
    };
    if (name == "participant") {
      f.participant = normalizeAor(value);
    } else if (name == "from") {
      f.from = normalizeAor(value);
    } else if (name == "to") {
      f.to = normalizeAor(value);
    } else if (name == "since") {
      f.sinceMs = time();
    } else if (name == "until") {
      f.untilMs = time();
    } else if (name == "text") {
      f.text = value;
    } else if (name == "verdict") {
      if (!verdicts.count(value)) throw QueryError("verdict: expected delivered, blocked, modified or failed");
      f.verdict = value;
    } else if (name == "rule") {
      f.rule = value;
    } else if (name == "tag") {
      if (value.find('=') == std::string::npos) throw QueryError("tag: expected KEY=VALUE");
      f.tag = value;
    } else if (name == "call_id") {
      f.callId = value;
    } else if (name == "disposition") {
      static const std::set<std::string> dispositions = {"in_progress", "answered",  "busy",  "no_answer",
                                                         "cancelled",   "rejected", "failed"};
      if (!dispositions.count(value)) {
        throw QueryError("disposition: expected in_progress, answered, busy, no_answer, cancelled, rejected or failed");
      }
      f.disposition = value;
    } else if (name == "unreadable") {
      // The command line's --unreadable sends "true"; the API takes either form.
      if (value == "true" || value == "1") {
        f.unreadable = true;
      } else if (value == "false" || value == "0") {
        f.unreadable = false;
      } else {
        throw QueryError("unreadable: expected true or false");
      }
    } else if (name == "limit") {
      const std::int64_t limit = toInt(value, "limit");
      if (limit < 1 || limit > kMaxLimit) throw QueryError("limit: expected 1 to " + std::to_string(kMaxLimit));
      f.limit = static_cast<int>(limit);
    } else if (name == "cursor") {
      f.cursor = value;
    } else {
      throw QueryError(name + ": unknown filter (expected participant, from, to, since, until, text, verdict, rule, "
                              "tag, call_id, disposition, unreadable, limit, cursor)");
    }
  }
  return f;
}

std::string describe(const Filters& f) {
  std::string out;
  auto add = [&out](const char* name, const std::string& value) {
    if (value.empty()) return;
    std::string encoded;
    Poco::URI::encode(value, "&=+#?", encoded);
    out += (out.empty() ? "" : "&") + std::string(name) + "=" + encoded;
  };
  add("participant", f.participant);
  add("from", f.from);
  add("to", f.to);
  if (f.sinceMs) add("since", std::to_string(*f.sinceMs));
  if (f.untilMs) add("until", std::to_string(*f.untilMs));
  add("text", f.text);
  add("verdict", f.verdict);
  add("rule", f.rule);
  add("tag", f.tag);
  add("call_id", f.callId);
  add("disposition", f.disposition);
  if (f.unreadable) add("unreadable", "true");
  add("limit", std::to_string(f.limit));
  return out;
}

std::string encodeCursor(char kind, std::int64_t time, std::int64_t id) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  encoder << kind << ':' << time << ':' << id;
  encoder.close();
  return out.str();
}

std::pair<std::int64_t, std::int64_t> decodeCursor(const std::string& cursor, char kind) {
  std::string plain;
  try {
    std::istringstream in(cursor);
    Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    std::getline(decoder, plain);
  } catch (...) {
    throw QueryError("cursor: not a cursor from this list");
  }
  const std::size_t first = plain.find(':');
  const std::size_t second = first == std::string::npos ? first : plain.find(':', first + 1);
  if (plain.size() < 5 || plain[0] != kind || first != 1 || second == std::string::npos) {
    throw QueryError("cursor: not a cursor from this list");
  }
  const std::string time = plain.substr(2, second - 2);
  const std::string id = plain.substr(second + 1);
  const bool negative = !time.empty() && time[0] == '-';
  if (!allDigits(negative ? time.substr(1) : time) || !allDigits(id) || time.size() > 19 || id.size() > 18) {
    throw QueryError("cursor: not a cursor from this list");
  }
  return {std::stoll(time), std::stoll(id)};
}

}  // namespace sipwarden::query
