// The admin server's request handlers: routing, tokens, the JSON API over
// the archive, and AdminServer, which hands them to the front end
// (front_end.h: accept, TLS, deadlines, caps, keep-alive). The two halves
// meet only through Answer and RequestHandler; the front end's rules
// (framing, admission) live in connection_rules.h.
#include "admin/server.h"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "admin/auth.h"
#include "admin/front_end.h"
#include "query/export.h"
#include "query/json.h"
#include "query/reader.h"

namespace sipwarden::admin {

using Poco::Net::HTTPResponse;

// Archive readers reused across requests: a Reader keeps its connection's
// page cache warm, which a per-request open would throw away.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}

  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<query::Reader> reader) : pool_(pool), reader_(std::move(reader)) {}
    ~Lease() { pool_.giveBack(std::move(reader_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    query::Reader* operator->() { return reader_.get(); }

   private:
    ReaderPool& pool_;
    std::unique_ptr<query::Reader> reader_;
  };

  Lease take() {
    {
      std::lock_guard<std::mutex> hold(lock_);
      if (!idle_.empty()) {
        auto reader = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(reader));
      }
    }
    return Lease(*this, std::make_unique<query::Reader>(path_));  // throws QueryError
  }

 private:
  void giveBack(std::unique_ptr<query::Reader> reader) {
    std::lock_guard<std::mutex> hold(lock_);
    idle_.push_back(std::move(reader));
  }

  std::string path_;
  std::mutex lock_;
  std::vector<std::unique_ptr<query::Reader>> idle_;
};

struct SharedState {
  SharedState(const AdminSettings& settings, std::string path, ServerHooks hooks)
      : auth(settings.tokens), archivePath(path), readers(std::move(path)), hooks(std::move(hooks)) {}
  ConnectionCounters counters;
  Authenticator auth;
  std::string archivePath;
  ReaderPool readers;
  ServerHooks hooks;
};

namespace {

// ---------------------------------------------------------------- handlers

// An API error: the status and a message for the JSON body.
struct HttpError {
  HTTPResponse::HTTPStatus status;
  std::string message;
};

void send(Answer& answer, HTTPResponse::HTTPStatus status, const std::string& contentType, std::string body) {
  answer.status = status;
  answer.contentType = contentType;
  answer.body = std::move(body);
}

void sendJson(Answer& answer, HTTPResponse::HTTPStatus status, std::string body) {
  send(answer, status, "application/json; charset=utf-8", std::move(body));
}

void sendError(Answer& answer, const HttpError& error) {
  sendJson(answer, error.status, "{\"error\":" + query::jsonString(error.message) + "}\n");
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) out.push_back(part);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::int64_t conversationId(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such conversation"};
  }
  return std::stoll(text);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding; '+' is a space in the query (HTML forms) but not in the
// path. A '%' without two hex digits after it throws QueryError naming
// `what`, so the client learns which parameter it got wrong (400).
std::string percentDecode(std::string_view text, bool plusIsSpace, const std::string& what) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      const int high = i + 1 < text.size() ? hexValue(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? hexValue(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        throw query::QueryError(what + ": malformed percent-encoding (expected %XX with two hex digits)");
      }
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += plusIsSpace && text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

// "a=1&b=x%20y" -> {{"a", "1"}, {"b", "x y"}}; empty pieces are skipped.
std::vector<std::pair<std::string, std::string>> queryParameters(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view piece = query.substr(start, amp - start);
    if (!piece.empty()) {
      const std::size_t equals = piece.find('=');
      const std::string name = percentDecode(piece.substr(0, equals), true, "query");
      const std::string_view raw = equals == std::string_view::npos ? std::string_view() : piece.substr(equals + 1);
      out.emplace_back(name, percentDecode(raw, true, name.empty() ? "query" : name));
    }
    start = amp + 1;
  }
  return out;
}

// A request target split into its raw path and raw query (an absolute
// form's scheme and authority dropped, as Poco::URI did).
std::pair<std::string_view, std::string_view> splitTarget(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.starts_with(scheme)) {
      const std::size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      break;
    }
  }
  target = target.substr(0, target.find('#'));
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

class Handler final : public RequestHandler {
 public:
  explicit Handler(SharedState& state) : state_(state) {}

  // Called on a worker (the probes: on the connection thread) with a
  // complete request; never throws.
  Answer answer(const Poco::Net::HTTPRequest& request) override {
    Answer answer;
    try {
      route(request, answer);
    } catch (const HttpError& error) {
      sendError(answer, error);
    } catch (const query::QueryError& error) {
      sendError(answer, {HTTPResponse::HTTP_BAD_REQUEST, error.what()});
    } catch (const query::ArchiveReadError& error) {
      sendError(answer, {HTTPResponse::HTTP_SERVICE_UNAVAILABLE, error.what()});
    } catch (const std::exception& error) {
      answer.headers.clear();
      sendError(answer, {HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, error.what()});
    } catch (...) {
      answer.headers.clear();
      sendError(answer, {HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "unexpected failure"});
    }
    return answer;
  }

  bool isProbe(const Poco::Net::HTTPRequest& request) override {
    const std::string_view path = splitTarget(request.getURI()).first;
    return path == "/healthz" || path == "/readyz";
  }

 private:
  void route(const Poco::Net::HTTPRequest& request, Answer& answer) {
    const auto [rawPath, rawQuery] = splitTarget(request.getURI());
    // A path that cannot be decoded matches no open path; its 400 waits
    // for the token check, so a client without a token learns nothing.
    std::string path;
    std::string pathError;
    try {
      path = percentDecode(rawPath, false, "path");
    } catch (const query::QueryError& error) {
      pathError = error.what();
    }
    if (request.getMethod() != "GET") {
      answer.set("Allow", "GET");
      throw HttpError{HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "only GET"};
    }
    // Open paths: no archive data behind them.
    if (path == "/" || path == "/console") {
      answer.set("Content-Security-Policy",
                 "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                 "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
      answer.set("Referrer-Policy", "no-referrer");
      send(answer, HTTPResponse::HTTP_OK, "text/html; charset=utf-8", consoleHtml());
      return;
    }
    if (path == "/healthz") {
      std::string why;
      const bool live = state_.hooks.live ? state_.hooks.live(why) : true;
      send(answer, live ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
           live ? "ok\n" : "not live: " + why + "\n");
      return;
    }
    if (path == "/readyz") {
      std::string why;
      const bool ready = state_.hooks.ready ? state_.hooks.ready(why) : true;
      send(answer, ready ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
           "text/plain; charset=utf-8", ready ? "ready\n" : "not ready: " + why + "\n");
      return;
    }
    // Everything else: a valid token first, whatever the path.
    const auto identity = state_.auth.check(request.get("Authorization", ""));
    if (!identity) {
      answer.set("WWW-Authenticate", "Bearer realm=\"sipwarden\"");
      send(answer, HTTPResponse::HTTP_UNAUTHORIZED, "text/plain; charset=utf-8", "unauthorized\n");
      return;
    }
    if (!pathError.empty()) throw HttpError{HTTPResponse::HTTP_BAD_REQUEST, pathError};
    if (path == "/metrics") {
      if (identity->role != Role::Metrics) throw HttpError{HTTPResponse::HTTP_FORBIDDEN, "needs a metrics token"};
      send(answer, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
           state_.hooks.metrics ? state_.hooks.metrics() : "");
      return;
    }
    const auto parts = split(path);
    if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such path"};
    if (identity->role != Role::Auditor) throw HttpError{HTTPResponse::HTTP_FORBIDDEN, "needs an auditor token"};
    if (state_.archivePath.empty()) {
      throw HttpError{HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "no archive configured (archive.url)"};
    }
    api(parts, queryParameters(rawQuery), "api:" + identity->name, answer);
  }

  void api(const std::vector<std::string>& parts, const std::vector<std::pair<std::string, std::string>>& params,
           const std::string& who, Answer& response) {
    auto reader = state_.readers.take();
    const std::string& what = parts[2];
    // Every search is audited before its answer leaves: if the audit row
    // cannot be written, the answer is not given (503).
    auto answer = [&](const std::string& action, const std::string& description, std::int64_t count,
                      std::string body) {
      try {
        reader->recordAudit(who, action, description, count);
      } catch (const std::exception& error) {
        throw HttpError{HTTPResponse::HTTP_SERVICE_UNAVAILABLE, std::string("audit trail not writable: ") + error.what()};
      }
      sendJson(response, HTTPResponse::HTTP_OK, std::move(body));
    };
    if (what == "conversations" && parts.size() >= 4) {
      const std::int64_t id = conversationId(parts[3]);
      if (parts.size() == 4 && !params.empty()) {
        throw query::QueryError(params.front().first + ": unknown parameter (a transcript takes none)");
      }
      std::string format = "eml";
      if (parts.size() == 5 && parts[4] == "export") {
        for (const auto& [name, value] : params) {
          if (name != "format") throw query::QueryError(name + ": unknown parameter (expected format)");
          format = value;
        }
      }
      const auto transcript = reader->conversation(id);
      if (!transcript) throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such conversation"};
      const auto count = static_cast<std::int64_t>(transcript->messages.size());
      if (parts.size() == 4) {
        answer("conversation", "id=" + std::to_string(id), count, query::toJson(*transcript));
        return;
      }
      if (parts.size() == 5 && parts[4] == "export") {
        const auto kind = query::parseExportFormat(format);
        std::string body = kind == query::ExportFormat::Eml    ? query::renderEml(*transcript)
                           : kind == query::ExportFormat::Json ? query::toJson(*transcript) + "\n"
                                                               : query::renderHtml(*transcript);
        reader->recordAudit(who, "export", "conversation=" + std::to_string(id) + "&format=" + format, 1);
        response.set("Content-Disposition",
                     "attachment; filename=\"conversation-" + std::to_string(id) + "." + format + "\"");
        send(response, HTTPResponse::HTTP_OK,
             kind == query::ExportFormat::Eml    ? "message/rfc822"
             : kind == query::ExportFormat::Json ? "application/json; charset=utf-8"
                                                 : "text/html; charset=utf-8",
             std::move(body));
        return;
      }
      throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such path"};
    }
    if (parts.size() != 3) throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such path"};
    const query::Filters filters = query::parseFilters(params, query::nowMillis(), false);
    const std::string description = query::describe(filters);
    if (what == "messages") {
      const auto page = reader->messages(filters);
      answer(what, description, static_cast<std::int64_t>(page.rows.size()), query::toJson(page));
    } else if (what == "conversations") {
      const auto page = reader->conversations(filters);
      answer(what, description, static_cast<std::int64_t>(page.rows.size()), query::toJson(page));
    } else if (what == "calls") {
      const auto page = reader->calls(filters);
      answer(what, description, static_cast<std::int64_t>(page.rows.size()), query::toJson(page));
    } else if (what == "stats") {
      answer(what, description, 1, query::toJson(reader->stats(filters)));
    } else if (what == "audit") {
      const auto page = reader->audit(filters);
      answer(what, description, static_cast<std::int64_t>(page.rows.size()), query::toJson(page));
    } else {
      throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such path"};
    }
  }

  SharedState& state_;
};

}  // namespace

AdminServer::AdminServer(const AdminSettings& settings, std::string archivePath, ServerHooks hooks)
    : settings_(settings), state_(std::make_shared<SharedState>(settings, std::move(archivePath), std::move(hooks))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  frontEnd_ = std::make_unique<FrontEnd>(settings_, state_->counters, std::make_unique<Handler>(*state_));
}

void AdminServer::stop() { frontEnd_.reset(); }

std::string AdminServer::address() const { return frontEnd_ ? frontEnd_->address() : ""; }

void AdminServer::declareMetrics(StatsRegistry& registry) const {
  // The families hold the shared state, so they stay valid after stop().
  const std::shared_ptr<SharedState> state = state_;
  registry.single("sipwarden_admin_connections_open", MetricType::Gauge, "Admin server connections open.",
                  ReadOn::AnyThread, [state] { return state->counters.open.load(); });
  registry.single("sipwarden_admin_connections_accepted_total", MetricType::Counter,
                  "Admin server connections accepted.", ReadOn::AnyThread,
                  [state] { return state->counters.accepted.load(); });
  registry.family("sipwarden_admin_connections_cut_total", MetricType::Counter,
                  "Admin server connections closed by a deadline or a cap.", ReadOn::AnyThread, [state] {
                    const ConnectionCounters& c = state->counters;
                    const std::pair<const char*, const std::atomic<std::uint64_t>*> reasons[] = {
                        {"header_timeout", &c.headerTimeout}, {"body_timeout", &c.bodyTimeout},
                        {"idle_timeout", &c.idleTimeout},     {"write_timeout", &c.writeTimeout},
                        {"over_cap", &c.overCap},             {"bad_request", &c.badRequest}};
                    MetricSamples samples;
                    for (const auto& [reason, count] : reasons) {
                      samples.push_back(countSample({{"reason", reason}}, count->load()));
                    }
                    return samples;
                  });
}

}  // namespace sipwarden::admin
