#include "admin/server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <mutex>
#include <vector>

#include "admin/auth.h"
#include "query/export.h"
#include "query/json.h"
#include "query/reader.h"

namespace sipwarden::admin {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

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
  Authenticator auth;
  std::string archivePath;
  ReaderPool readers;
  ServerHooks hooks;
};

namespace {

// An API error: the status and a message for the JSON body.
struct HttpError {
  HTTPResponse::HTTPStatus status;
  std::string message;
};

void send(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& contentType,
          const std::string& body) {
  response.setStatusAndReason(status);
  response.setContentType(contentType);
  response.set("Cache-Control", "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

void sendJson(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& body) {
  send(response, status, "application/json; charset=utf-8", body);
}

void sendError(HTTPServerResponse& response, const HttpError& error) {
  sendJson(response, error.status, "{\"error\":" + query::jsonString(error.message) + "}\n");
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

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<SharedState> state) : state_(std::move(state)) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    try {
      route(request, response);
    } catch (const HttpError& error) {
      sendError(response, error);
    } catch (const query::QueryError& error) {
      sendError(response, {HTTPResponse::HTTP_BAD_REQUEST, error.what()});
    } catch (const query::ArchiveReadError& error) {
      sendError(response, {HTTPResponse::HTTP_SERVICE_UNAVAILABLE, error.what()});
    } catch (const std::exception& error) {
      if (!response.sent()) sendError(response, {HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, error.what()});
    }
  }

 private:
  void route(HTTPServerRequest& request, HTTPServerResponse& response) {
    const Poco::URI uri(request.getURI());
    const std::string path = uri.getPath();
    if (request.getMethod() != "GET") {
      response.set("Allow", "GET");
      throw HttpError{HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "only GET"};
    }
    // Open paths: no archive data behind them.
    if (path == "/" || path == "/console") {
      response.set("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                   "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
      response.set("Referrer-Policy", "no-referrer");
      send(response, HTTPResponse::HTTP_OK, "text/html; charset=utf-8", consoleHtml());
      return;
    }
    if (path == "/healthz") {
      send(response, HTTPResponse::HTTP_OK, "text/plain; charset=utf-8", "ok\n");
      return;
    }
    if (path == "/readyz") {
      std::string why;
      const bool ready = state_->hooks.ready ? state_->hooks.ready(why) : true;
      send(response, ready ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
           "text/plain; charset=utf-8", ready ? "ready\n" : "not ready: " + why + "\n");
      return;
    }
    // Everything else: a valid token first, whatever the path.
    const auto identity = state_->auth.check(request.get("Authorization", ""));
    if (!identity) {
      response.set("WWW-Authenticate", "Bearer realm=\"sipwarden\"");
      send(response, HTTPResponse::HTTP_UNAUTHORIZED, "text/plain; charset=utf-8", "unauthorized\n");
      return;
    }
    if (path == "/metrics") {
      if (identity->role != Role::Metrics) throw HttpError{HTTPResponse::HTTP_FORBIDDEN, "needs a metrics token"};
      send(response, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
           state_->hooks.metrics ? state_->hooks.metrics() : "");
      return;
    }
    const auto parts = split(path);
    if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such path"};
    if (identity->role != Role::Auditor) throw HttpError{HTTPResponse::HTTP_FORBIDDEN, "needs an auditor token"};
    if (state_->archivePath.empty()) {
      throw HttpError{HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "no archive configured (archive.url)"};
    }
    api(parts, uri, "api:" + identity->name, response);
  }

  void api(const std::vector<std::string>& parts, const Poco::URI& uri, const std::string& who,
           HTTPServerResponse& response) {
    const auto params = uri.getQueryParameters();
    auto reader = state_->readers.take();
    const std::string& what = parts[2];
    // Every search is audited before its answer leaves: if the audit row
    // cannot be written, the answer is not given (503).
    auto answer = [&](const std::string& action, const std::string& description, std::int64_t count,
                      const std::string& body) {
      try {
        reader->recordAudit(who, action, description, count);
      } catch (const std::exception& error) {
        throw HttpError{HTTPResponse::HTTP_SERVICE_UNAVAILABLE, std::string("audit trail not writable: ") + error.what()};
      }
      sendJson(response, HTTPResponse::HTTP_OK, body);
    };
    if (what == "conversations" && parts.size() >= 4) {
      const std::int64_t id = conversationId(parts[3]);
      const auto transcript = reader->conversation(id);
      if (!transcript) throw HttpError{HTTPResponse::HTTP_NOT_FOUND, "no such conversation"};
      const auto count = static_cast<std::int64_t>(transcript->messages.size());
      if (parts.size() == 4) {
        answer("conversation", "id=" + std::to_string(id), count, query::toJson(*transcript));
        return;
      }
      if (parts.size() == 5 && parts[4] == "export") {
        std::string format = "eml";
        for (const auto& [name, value] : params) {
          if (name != "format") throw query::QueryError(name + ": unknown parameter (expected format)");
          format = value;
        }
        const auto kind = query::parseExportFormat(format);
        const std::string body = kind == query::ExportFormat::Eml    ? query::renderEml(*transcript)
                                 : kind == query::ExportFormat::Json ? query::toJson(*transcript) + "\n"
                                                                     : query::renderHtml(*transcript);
        reader->recordAudit(who, "export", "conversation=" + std::to_string(id) + "&format=" + format, 1);
        response.set("Content-Disposition",
                     "attachment; filename=\"conversation-" + std::to_string(id) + "." + format + "\"");
        send(response, HTTPResponse::HTTP_OK,
             kind == query::ExportFormat::Eml    ? "message/rfc822"
             : kind == query::ExportFormat::Json ? "application/json; charset=utf-8"
                                                 : "text/html; charset=utf-8",
             body);
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

  std::shared_ptr<SharedState> state_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<SharedState> state) : state_(std::move(state)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(state_);
  }

 private:
  std::shared_ptr<SharedState> state_;
};

}  // namespace

AdminServer::AdminServer(const AdminSettings& settings, std::string archivePath, ServerHooks hooks)
    : settings_(settings), state_(std::make_shared<SharedState>(settings, std::move(archivePath), std::move(hooks))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  Poco::Net::ServerSocket socket;
  if (!settings_.tlsContext.isNull()) socket = Poco::Net::SecureServerSocket(settings_.tlsContext);
  // SO_REUSEADDR without SO_REUSEPORT: a second server on the same port
  // must fail to start, not share the connections (see Transport::listen).
  socket.bind(Poco::Net::SocketAddress(settings_.host, settings_.port), true, false);
  socket.listen(64);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(settings_.threads);
  params->setMaxQueued(64);
  params->setTimeout(Poco::Timespan(10, 0));
  params->setKeepAlive(true);
  params->setServerName("sipwarden");
  threads_ = std::make_unique<Poco::ThreadPool>(1, settings_.threads);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(state_), *threads_, socket, params);
  server_->start();
}

void AdminServer::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
  if (threads_) {
    threads_->joinAll();
    threads_.reset();
  }
}

std::string AdminServer::address() const { return server_ ? server_->socket().address().toString() : ""; }

}  // namespace sipwarden::admin
