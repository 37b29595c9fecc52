#pragma once
// The admin server's front end: one poll thread that accepts connections,
// does the TLS handshake and reads each request within the deadlines and
// caps of AdminSettings::limits, and a pool of worker threads that answer
// the complete requests it hands on. Created by AdminServer::start() (it
// binds and starts its threads at once) and destroyed by
// AdminServer::stop(), which closes every connection and waits for the
// workers. It must keep slow or idle clients to a buffer each, never a
// thread, and must never let them delay the health probes or a search.
//
// It knows nothing of paths, tokens or the archive: a RequestHandler turns
// each complete request into an Answer, which the front end frames and
// writes. The rules it applies (framing, deadlines, admission) are in
// connection_rules.h.

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "admin/connection_rules.h"
#include "admin/settings.h"

namespace sipwarden::admin {

// What a handler answers; the front end frames it.
struct Answer {
  Poco::Net::HTTPResponse::HTTPStatus status = Poco::Net::HTTPResponse::HTTP_OK;
  std::string contentType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  void set(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
};

// The handler side, as the front end sees it. Both calls come from several
// threads at once.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on a worker (the probes: on the connection thread) with a
  // complete request; never throws.
  virtual Answer answer(const Poco::Net::HTTPRequest& request) = 0;
  // Whether the request is a health probe, answered on the connection
  // thread at once so it never queues behind searches. Called on the
  // connection thread: must not block.
  virtual bool isProbe(const Poco::Net::HTTPRequest& request) = 0;
};

// What the front end did with connections, for AdminServer::declareMetrics()
// (written by the poll thread, read by any).
struct ConnectionCounters {
  std::atomic<std::uint64_t> open{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> headerTimeout{0};  // handshake or head not in time
  std::atomic<std::uint64_t> bodyTimeout{0};
  std::atomic<std::uint64_t> idleTimeout{0};
  std::atomic<std::uint64_t> writeTimeout{0};
  std::atomic<std::uint64_t> overCap{0};      // made room for a newer connection
  std::atomic<std::uint64_t> badRequest{0};   // refused by framing: 400, 411, 413, 431
};

// The poll thread and the workers. Every connection lives on the poll
// thread; workers see only complete requests and give back answers.
class FrontEnd {
 public:
  // Binds settings.host:settings.port (throws Poco::Exception when it
  // cannot) and starts the poll thread and settings.threads workers.
  // `counters` must outlive the front end.
  FrontEnd(const AdminSettings& settings, ConnectionCounters& counters, std::unique_ptr<RequestHandler> handler);
  // Closes every connection and waits for the requests being answered.
  ~FrontEnd();
  FrontEnd(const FrontEnd&) = delete;
  FrontEnd& operator=(const FrontEnd&) = delete;

  std::string address() const { return listener_.address().toString(); }

 private:
  struct Connection;
  struct Job {
    std::uint64_t connection;
    std::shared_ptr<Poco::Net::HTTPRequest> request;
  };
  struct Done {
    std::uint64_t connection;
    Answer answer;
  };

  void signal();
  void work();
  void run();
  void turn();
  void enter(Connection& c, Phase phase);
  void close(std::uint64_t id);
  void acceptSome();
  void step(Connection& c, short events);
  bool receive(Connection& c);
  void advance(Connection& c);
  void takeAnswers();
  void answered(Connection& c, const Answer& answer);
  void startWriting(Connection& c, std::string bytes, bool closeAfter);
  bool flush(Connection& c);
  void expire(SteadyClock::time_point now);

  // Connections accepted per turn at most, so a flood of new ones cannot
  // starve those already open (the rest wait in the backlog).
  static constexpr int kAcceptBatch = 64;

  const ConnectionLimits limits_;
  const Poco::Net::Context::Ptr tlsContext_;
  ConnectionCounters& counters_;
  const std::unique_ptr<RequestHandler> handler_;
  Poco::Net::ServerSocket listener_;
  int wake_ = -1;
  std::atomic<bool> stopping_{false};
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;  // the poll thread's alone
  std::uint64_t lastId_ = 0;
  SteadyClock::time_point acceptPausedUntil_;  // out of descriptors: try again then
  std::mutex lock_;  // jobs_ and done_
  std::condition_variable jobReady_;
  std::deque<Job> jobs_;
  std::deque<Done> done_;
  std::vector<std::thread> workers_;
  std::thread loop_;
};

}  // namespace sipwarden::admin
