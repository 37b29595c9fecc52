// The admin server's front end (see front_end.h): the poll thread that
// accepts, reads requests under deadlines and caps and writes answers, and
// the workers that answer complete requests through the RequestHandler.
#include "admin/front_end.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPMessage.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timestamp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace sipwarden::admin {

using Poco::Net::HTTPResponse;

namespace {

// The bytes of a response: status line, headers, body.
std::string frame(const Answer& answer, const std::string& version, bool keepAlive) {
  HTTPResponse response(version == Poco::Net::HTTPMessage::HTTP_1_0 ? version : Poco::Net::HTTPMessage::HTTP_1_1,
                        answer.status);
  if (!answer.contentType.empty()) response.setContentType(answer.contentType);
  response.set("Cache-Control", "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : answer.headers) response.set(name, value);
  response.set("Server", "sipwarden");
  response.setDate(Poco::Timestamp());
  response.setContentLength64(static_cast<Poco::Int64>(answer.body.size()));
  response.setKeepAlive(keepAlive);
  std::ostringstream out;
  response.write(out);
  out << answer.body;
  return out.str();
}

// A refusal the front end writes itself (bad framing, a cap), then closes.
std::string refusal(int status, const std::string& reason) {
  Answer answer;
  answer.status = static_cast<HTTPResponse::HTTPStatus>(status);
  answer.contentType = "text/plain; charset=utf-8";
  answer.body = reason + "\n";
  return frame(answer, Poco::Net::HTTPMessage::HTTP_1_1, false);
}

// One TLS session on an accepted non-blocking socket, driven by the poll
// loop (OpenSSL directly, as core/transport/tls.cc does: Poco's secure
// sockets block in their handshake). The context is the one the config
// loader built for admin.tls (TLS 1.2 floor and ciphers included).
class TlsLink {
 public:
  enum class Io { Done, WantRead, WantWrite, Closed };

  TlsLink(SSL_CTX* context, int fd) : ssl_(SSL_new(context)) {
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd) != 1) {
      if (ssl_ != nullptr) SSL_free(ssl_);
      ERR_clear_error();
      throw std::runtime_error("cannot create a TLS session");
    }
    SSL_set_accept_state(ssl_);
  }
  ~TlsLink() {
    if (established_) (void)SSL_shutdown(ssl_);  // close_notify, never waited for
    ERR_clear_error();
    SSL_free(ssl_);
  }
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  bool established() const { return established_; }
  Io handshake() {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_);
    if (result == 1) {
      established_ = true;
      return Io::Done;
    }
    return classify(result);
  }
  // Bytes moved (> 0), or 0 with `io` saying what to wait for.
  int read(char* buffer, int size, Io& io) {
    ERR_clear_error();
    const int result = SSL_read(ssl_, buffer, size);
    io = result > 0 ? Io::Done : classify(result);
    return std::max(result, 0);
  }
  int write(const char* bytes, int size, Io& io) {
    ERR_clear_error();
    const int result = SSL_write(ssl_, bytes, size);
    io = result > 0 ? Io::Done : classify(result);
    return std::max(result, 0);
  }

 private:
  Io classify(int result) {
    const int error = SSL_get_error(ssl_, result);
    ERR_clear_error();
    if (error == SSL_ERROR_WANT_READ) return Io::WantRead;
    if (error == SSL_ERROR_WANT_WRITE) return Io::WantWrite;
    return Io::Closed;
  }

  SSL* ssl_;
  bool established_ = false;
};

constexpr std::size_t kReadChunk = 16 * 1024;

std::string peerAddress(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof text);
  }
  return text;
}

}  // namespace

struct FrontEnd::Connection {
  std::uint64_t id = 0;
  int fd = -1;
  std::string address;  // the peer's IP, for the per-address cap
  std::unique_ptr<TlsLink> tls;
  Phase phase = Phase::Head;
  SteadyClock::time_point since;
  std::optional<SteadyClock::time_point> deadline;
  bool tlsWantsWrite = false;  // a TLS read waits for the socket to be writable
  bool tlsWantsRead = false;   // a TLS write waits for the socket to be readable
  bool peerClosed = false;
  std::string in;   // received, not yet handed on
  std::string out;  // the answer being written
  std::size_t written = 0;
  bool closeAfterWrite = false;
  std::string version = Poco::Net::HTTPMessage::HTTP_1_1;  // of the request being answered
  bool keepAlive = true;

  ~Connection() {
    tls.reset();
    if (fd >= 0) ::close(fd);
  }
};

FrontEnd::FrontEnd(const AdminSettings& settings, ConnectionCounters& counters,
                   std::unique_ptr<RequestHandler> handler)
    : limits_(settings.limits), tlsContext_(settings.tlsContext), counters_(counters), handler_(std::move(handler)) {
  // SO_REUSEADDR without SO_REUSEPORT: a second server on the same port
  // must fail to start, not share the connections (see Transport::listen).
  listener_.bind(Poco::Net::SocketAddress(settings.host, settings.port), true, false);
  listener_.listen(128);
  listener_.setBlocking(false);
  wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_ < 0) throw Poco::IOException("eventfd failed");
  for (int i = 0; i < settings.threads; ++i) workers_.emplace_back([this] { work(); });
  loop_ = std::thread([this] { run(); });
}

FrontEnd::~FrontEnd() {
  stopping_ = true;
  signal();
  if (loop_.joinable()) loop_.join();
  {
    std::lock_guard<std::mutex> hold(lock_);
    jobs_.clear();
  }
  jobReady_.notify_all();
  for (auto& worker : workers_) worker.join();
  ::close(wake_);
}

void FrontEnd::signal() {
  const std::uint64_t one = 1;
  (void)!::write(wake_, &one, sizeof one);
}

// Worker threads: one complete request at a time.
void FrontEnd::work() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> hold(lock_);
      jobReady_.wait(hold, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Done done{job.connection, handler_->answer(*job.request)};  // never throws
    {
      std::lock_guard<std::mutex> hold(lock_);
      done_.push_back(std::move(done));
    }
    signal();
  }
}

// The poll thread. Nothing escapes it: a fault on one connection closes
// that connection; a fault of the loop itself is retried after a pause.
void FrontEnd::run() {
  while (!stopping_) {
    try {
      turn();
    } catch (...) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  connections_.clear();
  counters_.open = 0;
}

void FrontEnd::turn() {
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> ids;
  fds.push_back({wake_, POLLIN, 0});
  // The listener rests while there is no room (every connection being
  // answered) or no descriptor to spare; it would wake every turn.
  const bool mayAccept = connections_.size() < static_cast<std::size_t>(limits_.maxConnections) + kAcceptBatch &&
                         SteadyClock::now() >= acceptPausedUntil_;
  fds.push_back({mayAccept ? listener_.impl()->sockfd() : -1, POLLIN, 0});
  // Pipelined requests left in a buffer once the answer before them is
  // out: one per connection per turn, so none waits on another's queue.
  std::vector<std::uint64_t> pipelined;
  for (const auto& [id, c] : connections_) {
    if (c->phase == Phase::Idle && !c->in.empty()) pipelined.push_back(id);
  }
  for (const auto id : pipelined) {
    const auto found = connections_.find(id);
    if (found != connections_.end()) advance(*found->second);
  }
  auto now = SteadyClock::now();
  auto nearest = std::min(now + std::chrono::seconds(1), std::max(now, acceptPausedUntil_));
  for (auto& [id, c] : connections_) {
    short events = 0;
    switch (c->phase) {
      case Phase::Handshake: events = c->tlsWantsWrite ? POLLOUT : POLLIN; break;
      case Phase::Head:
      case Phase::Body:
      case Phase::Idle: events = c->tlsWantsWrite ? POLLOUT : POLLIN; break;
      case Phase::Writing: events = c->tlsWantsRead ? POLLIN : POLLOUT; break;
      case Phase::Working: events = 0; break;
    }
    // Working: not polled at all (a reset peer would report POLLHUP
    // on every turn until the worker answers); the write finds out.
    fds.push_back({events == 0 ? -1 : c->fd, events, 0});
    ids.push_back(id);
    if (c->deadline && *c->deadline < nearest) nearest = *c->deadline;
    if (c->phase == Phase::Idle && !c->in.empty()) nearest = now;
  }
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(nearest - now).count();
  const int ready = ::poll(fds.data(), fds.size(), wait <= 0 ? 0 : static_cast<int>(wait) + 1);
  if (ready < 0 && errno != EINTR) throw std::runtime_error("poll failed");
  if (fds[0].revents & POLLIN) {
    std::uint64_t count;
    (void)!::read(wake_, &count, sizeof count);
  }
  takeAnswers();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (fds[i + 2].revents == 0) continue;
    const auto found = connections_.find(ids[i]);
    if (found == connections_.end()) continue;  // evicted meanwhile
    step(*found->second, fds[i + 2].revents);
  }
  if (fds[1].revents & POLLIN) acceptSome();
  expire(SteadyClock::now());
}

void FrontEnd::enter(Connection& c, Phase phase) {
  c.phase = phase;
  c.since = SteadyClock::now();
  c.deadline = deadlineOf(phase, c.since, limits_);
}

void FrontEnd::close(std::uint64_t id) { connections_.erase(id); }

void FrontEnd::acceptSome() {
  std::vector<std::uint64_t> fresh;
  const std::size_t room = static_cast<std::size_t>(limits_.maxConnections) + kAcceptBatch;
  for (int i = 0; i < kAcceptBatch && connections_.size() < room; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const int fd = ::accept4(listener_.impl()->sockfd(), reinterpret_cast<sockaddr*>(&peer), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        acceptPausedUntil_ = SteadyClock::now() + std::chrono::milliseconds(100);
      }
      break;  // EAGAIN, or a connection that vanished
    }
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->id = ++lastId_;
    c->address = peerAddress(peer);
    try {
      if (!tlsContext_.isNull()) c->tls = std::make_unique<TlsLink>(tlsContext_->sslContext(), fd);
    } catch (const std::exception&) {
      continue;
    }
    enter(*c, c->tls ? Phase::Handshake : Phase::Head);
    fresh.push_back(c->id);
    const std::uint64_t id = c->id;
    connections_.emplace(id, std::move(c));
  }
  counters_.accepted += fresh.size();
  if (fresh.empty()) return;
  // One read each before the caps are applied: a client that sent its
  // request with its connection is then being answered, and a crowd
  // arriving in the same batch cannot push it out.
  for (const auto id : fresh) {
    const auto found = connections_.find(id);
    if (found != connections_.end()) step(*found->second, POLLIN);
  }
  std::vector<ConnectionView> open;
  open.reserve(connections_.size());
  for (const auto& [id, c] : connections_) open.push_back({id, c->address, c->phase, c->since});
  for (const auto id : overCaps(open, limits_)) {
    close(id);
    ++counters_.overCap;
  }
}

void FrontEnd::step(Connection& c, short events) {
  const std::uint64_t id = c.id;
  if (c.phase == Phase::Working) return;
  if (c.phase == Phase::Writing) {
    if (!flush(c)) close(id);
    return;
  }
  if (events & (POLLERR | POLLNVAL)) {
    close(id);
    return;
  }
  if (c.phase == Phase::Handshake) {
    const TlsLink::Io io = c.tls->handshake();
    c.tlsWantsWrite = io == TlsLink::Io::WantWrite;
    if (io == TlsLink::Io::Closed) {
      close(id);
      return;
    }
    if (io != TlsLink::Io::Done) return;
    // The head deadline started at accept and goes on counting.
    c.phase = Phase::Head;
  }
  if (!receive(c)) {
    close(id);
    return;
  }
  advance(c);
}

// Reads what the socket holds, up to what one request may be. False when
// the connection is gone.
bool FrontEnd::receive(Connection& c) {
  const std::size_t room = limits_.maxHeaderBytes + limits_.maxBodyBytes + 1;
  char buffer[kReadChunk];
  while (c.in.size() < room) {
    const int want = static_cast<int>(std::min(sizeof buffer, room - c.in.size()));
    int got = 0;
    if (c.tls) {
      TlsLink::Io io;
      got = c.tls->read(buffer, want, io);
      c.tlsWantsWrite = io == TlsLink::Io::WantWrite;
      if (io == TlsLink::Io::Closed) c.peerClosed = true;
      if (got == 0) break;
    } else {
      const ssize_t n = ::recv(c.fd, buffer, static_cast<std::size_t>(want), 0);
      if (n == 0) c.peerClosed = true;
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c.peerClosed = true;
        break;
      }
      got = static_cast<int>(n);
    }
    c.in.append(buffer, static_cast<std::size_t>(got));
  }
  // A peer that half-closed after a complete request still gets its
  // answer; one that closed mid-request is gone.
  return !c.peerClosed || frameRequest(c.in, limits_).state == Framing::State::Complete;
}

// Moves a reading connection on by what its buffer holds.
void FrontEnd::advance(Connection& c) {
  if (c.phase != Phase::Idle && c.phase != Phase::Head && c.phase != Phase::Body) return;
  if (c.in.empty()) return;
  if (c.phase == Phase::Idle) enter(c, Phase::Head);
  const Framing framing = frameRequest(c.in, limits_);
  if (framing.state == Framing::State::Refuse) {
    ++counters_.badRequest;
    startWriting(c, refusal(framing.status, framing.reason), true);
    return;
  }
  if (framing.state == Framing::State::NeedMore) {
    if (framing.request && c.phase == Phase::Head) enter(c, Phase::Body);
    return;
  }
  c.in.erase(0, framing.headBytes + framing.bodyBytes);
  c.version = framing.request->getVersion();
  c.keepAlive = framing.request->getKeepAlive() && !c.peerClosed;
  enter(c, Phase::Working);
  if (handler_->isProbe(*framing.request)) {
    // Probes are answered here: they must not queue behind searches.
    answered(c, handler_->answer(*framing.request));
    return;
  }
  {
    std::lock_guard<std::mutex> hold(lock_);
    jobs_.push_back({c.id, framing.request});
  }
  jobReady_.notify_one();
}

void FrontEnd::takeAnswers() {
  std::deque<Done> done;
  {
    std::lock_guard<std::mutex> hold(lock_);
    done.swap(done_);
  }
  for (auto& d : done) {
    const auto found = connections_.find(d.connection);
    if (found != connections_.end()) answered(*found->second, d.answer);
  }
}

void FrontEnd::answered(Connection& c, const Answer& answer) {
  startWriting(c, frame(answer, c.version, c.keepAlive), !c.keepAlive);
}

void FrontEnd::startWriting(Connection& c, std::string bytes, bool closeAfter) {
  c.out = std::move(bytes);
  c.written = 0;
  c.closeAfterWrite = closeAfter;
  enter(c, Phase::Writing);
  if (!flush(c)) close(c.id);
}

// Writes what the socket takes. False when the connection is to close
// (answer sent with Connection: close, or the peer gone).
bool FrontEnd::flush(Connection& c) {
  while (c.written < c.out.size()) {
    const char* from = c.out.data() + c.written;
    const std::size_t left = c.out.size() - c.written;
    if (c.tls) {
      TlsLink::Io io;
      const int sent = c.tls->write(from, static_cast<int>(std::min<std::size_t>(left, 1 << 20)), io);
      c.tlsWantsRead = io == TlsLink::Io::WantRead;
      if (io == TlsLink::Io::Closed) return false;
      if (sent == 0) return true;
      c.written += static_cast<std::size_t>(sent);
    } else {
      const ssize_t sent = ::send(c.fd, from, left, MSG_NOSIGNAL);
      if (sent < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.written += static_cast<std::size_t>(sent);
    }
  }
  c.out.clear();
  c.written = 0;
  if (c.closeAfterWrite || c.peerClosed) return false;
  enter(c, Phase::Idle);  // a pipelined request in `in` is taken on the next turn
  return true;
}

void FrontEnd::expire(SteadyClock::time_point now) {
  std::vector<std::uint64_t> late;
  for (const auto& [id, c] : connections_) {
    if (c->deadline && *c->deadline <= now) late.push_back(id);
  }
  for (const auto id : late) {
    const Phase phase = connections_.at(id)->phase;
    auto& counter = phase == Phase::Body    ? counters_.bodyTimeout
                    : phase == Phase::Idle  ? counters_.idleTimeout
                    : phase == Phase::Writing ? counters_.writeTimeout
                                              : counters_.headerTimeout;
    ++counter;
    close(id);
  }
  counters_.open = connections_.size();
}

}  // namespace sipwarden::admin
