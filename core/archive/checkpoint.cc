// Over 500 lines because a checkpoint is one format read and written in one
// place: key files, the signed serialization, the append-only file with its
// recovery, the syslog and HTTP(S) copies, and the verification against a
// store all depend on the same field order.
#include "archive/checkpoint.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "archive/hash_chain.h"
#include "archive/merkle.h"

namespace sipwarden::archive {
namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.archive"); }

// Length-prefixed as in chain.cc ("5:hello"), so no choice of contents can
// make two checkpoints sign the same bytes.
void appendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out.push_back(':');
  out.append(field);
}
void appendNumber(std::string& out, std::int64_t value) { appendField(out, std::to_string(value)); }

std::string base64(const unsigned char* bytes, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(std::max(written, 0)));
  return out;
}

// Strict: only canonical base64 of exactly `expected` bytes.
std::optional<std::string> fromBase64(const std::string& text, std::size_t expected) {
  if (text.size() != 4 * ((expected + 2) / 3)) return std::nullopt;
  std::string out(text.size(), '\0');
  const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (decoded < 0) return std::nullopt;
  out.resize(expected);  // EVP_DecodeBlock counts the padding as zero bytes
  if (base64(reinterpret_cast<const unsigned char*>(out.data()), out.size()) != text) return std::nullopt;
  return out;
}

std::string jsonString(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escaped;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string opensslError(const std::string& what) { return what + " (OpenSSL)"; }

void writeAll(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ArchiveError("cannot write " + path + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

void syncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw ArchiveError("cannot open " + dir + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw ArchiveError("cannot sync " + dir + ": " + std::strerror(errno));
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One checkpoint to a collector: a POST of the line, 5 seconds at most, on
// the checkpoint thread. HTTPS checks the server's certificate and name
// against the system's CAs.
void postCheckpoint(const std::string& url, const std::string& line) {
  try {
    const Poco::URI uri(url);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      static const Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_RELAXED, 9, true);
      session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    session->setTimeout(Poco::Timespan(5, 0));
    const std::string target = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, target, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(line.size()));
    session->sendRequest(request) << line;
    Poco::Net::HTTPResponse response;
    session->receiveResponse(response);
    if (response.getStatus() / 100 != 2) {
      throw ArchiveError("POST to " + url + " answered " + std::to_string(static_cast<int>(response.getStatus())));
    }
  } catch (const Poco::Exception& error) {
    throw ArchiveError("POST to " + url + ": " + error.displayText());
  }
}

}  // namespace

std::string canonicalCheckpoint(const Checkpoint& c) {
  std::string out = "sipwarden-checkpoint-v1\n";
  appendNumber(out, c.version);
  appendField(out, c.hop);
  appendNumber(out, c.timeMs);
  appendNumber(out, c.heads.lastId);
  appendField(out, c.heads.lastHash);
  appendNumber(out, c.heads.rows);
  appendNumber(out, c.heads.outcomesLastId);
  appendField(out, c.heads.outcomesLastHash);
  appendNumber(out, c.heads.outcomesRows);
  // Version 2 (schema 008): the audit trail's head and the Merkle root.
  if (c.version >= 2) {
    appendNumber(out, c.heads.auditLastId);
    appendField(out, c.heads.auditLastHash);
    appendNumber(out, c.heads.auditRows);
    appendField(out, c.heads.treeRoot);
  }
  return out;
}

std::string checkpointLine(const Checkpoint& c) {
  return "{\"v\":" + std::to_string(c.version) + ",\"hop\":" + jsonString(c.hop) +
         ",\"time_ms\":" + std::to_string(c.timeMs) + ",\"last_id\":" + std::to_string(c.heads.lastId) +
         ",\"last_hash\":" + jsonString(c.heads.lastHash) + ",\"rows\":" + std::to_string(c.heads.rows) +
         ",\"outcomes_last_id\":" + std::to_string(c.heads.outcomesLastId) +
         ",\"outcomes_last_hash\":" + jsonString(c.heads.outcomesLastHash) +
         ",\"outcomes_rows\":" + std::to_string(c.heads.outcomesRows) +
         (c.version >= 2 ? ",\"audit_last_id\":" + std::to_string(c.heads.auditLastId) +
                               ",\"audit_last_hash\":" + jsonString(c.heads.auditLastHash) +
                               ",\"audit_rows\":" + std::to_string(c.heads.auditRows) +
                               ",\"tree_root\":" + jsonString(c.heads.treeRoot)
                         : std::string()) +
         ",\"sig\":" + jsonString(c.signature) + "}";
}

std::optional<Checkpoint> parseCheckpointLine(const std::string& line, std::string& error) {
  static const std::set<std::string> kKeysV1 = {"v",    "hop",          "time_ms", "last_id", "last_hash",
                                                "rows", "outcomes_last_id", "outcomes_last_hash", "outcomes_rows", "sig"};
  static const std::set<std::string> kKeysV2 = [] {
    std::set<std::string> keys = kKeysV1;
    keys.insert({"audit_last_id", "audit_last_hash", "audit_rows", "tree_root"});
    return keys;
  }();
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    object = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    error = "not JSON: " + e.displayText();
    return std::nullopt;
  } catch (const std::exception& e) {
    error = std::string("not a JSON object: ") + e.what();
    return std::nullopt;
  }
  if (!object) {
    error = "not a JSON object";
    return std::nullopt;
  }
  const bool second = object->has("v") && object->get("v").isInteger() && object->get("v").convert<std::int64_t>() == 2;
  const std::set<std::string>& kKeys = second ? kKeysV2 : kKeysV1;
  for (const auto& [key, value] : *object) {
    if (!kKeys.count(key)) {
      error = "unknown key \"" + key + "\"";
      return std::nullopt;
    }
  }
  for (const std::string& key : kKeys) {
    if (!object->has(key)) {
      error = "no \"" + key + "\"";
      return std::nullopt;
    }
  }
  Checkpoint c;
  try {
    auto integer = [&](const char* key) {
      const Poco::Dynamic::Var value = object->get(key);
      if (!value.isInteger()) throw ArchiveError(std::string("\"") + key + "\" is not an integer");
      const std::int64_t number = value.convert<std::int64_t>();
      if (number < 0) throw ArchiveError(std::string("\"") + key + "\" is negative");
      return number;
    };
    auto text = [&](const char* key) {
      const Poco::Dynamic::Var value = object->get(key);
      if (!value.isString()) throw ArchiveError(std::string("\"") + key + "\" is not a string");
      return value.extract<std::string>();
    };
    c.version = static_cast<int>(integer("v"));
    if (c.version != 1 && c.version != 2) {
      throw ArchiveError("version " + std::to_string(c.version) + " is not 1 or 2");
    }
    c.hop = text("hop");
    c.timeMs = integer("time_ms");
    c.heads.lastId = integer("last_id");
    c.heads.lastHash = text("last_hash");
    c.heads.rows = integer("rows");
    c.heads.outcomesLastId = integer("outcomes_last_id");
    c.heads.outcomesLastHash = text("outcomes_last_hash");
    c.heads.outcomesRows = integer("outcomes_rows");
    if (c.version >= 2) {
      c.heads.auditLastId = integer("audit_last_id");
      c.heads.auditLastHash = text("audit_last_hash");
      c.heads.auditRows = integer("audit_rows");
      c.heads.treeRoot = text("tree_root");
    }
    c.signature = text("sig");
  } catch (const ArchiveError& e) {
    error = e.what();
    return std::nullopt;
  } catch (const Poco::Exception& e) {
    error = e.displayText();
    return std::nullopt;
  }
  return c;
}

CheckpointKey::~CheckpointKey() { EVP_PKEY_free(key_); }

CheckpointKey CheckpointKey::loadPrivate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw ArchiveError("cannot open checkpoint key " + path + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw ArchiveError("checkpoint key " + path + " is not a regular file");
  }
  if ((info.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    throw ArchiveError("checkpoint key " + path + " has mode " + mode +
                       ": group and others must have no access (chmod 600)");
  }
  FILE* file = ::fdopen(fd, "r");
  if (file == nullptr) {
    ::close(fd);
    throw ArchiveError("cannot read checkpoint key " + path);
  }
  EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (key == nullptr) throw ArchiveError(opensslError("checkpoint key " + path + " is not a PEM private key"));
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    throw ArchiveError("checkpoint key " + path + " is not an Ed25519 key");
  }
  return CheckpointKey(key);
}

CheckpointKey CheckpointKey::loadPublic(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) throw ArchiveError("cannot open public key " + path + ": " + std::strerror(errno));
  EVP_PKEY* key = PEM_read_PUBKEY(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (key == nullptr) throw ArchiveError(opensslError("public key " + path + " is not a PEM public key"));
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    throw ArchiveError("public key " + path + " is not an Ed25519 key");
  }
  return CheckpointKey(key);
}

void CheckpointKey::generate(const std::string& path) {
  const std::string publicPath = path + ".pub";
  for (const std::string& existing : {path, publicPath}) {
    if (std::filesystem::exists(existing)) {
      throw ArchiveError(existing + " exists: an existing key is never overwritten (old checkpoints may need it)");
    }
  }
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) throw ArchiveError(opensslError("cannot generate an Ed25519 key"));
  const CheckpointKey owned(key);
  // O_EXCL: never over an existing key (it may be what old checkpoints need).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    throw ArchiveError("cannot create " + path + ": " + std::strerror(errno) +
                       (errno == EEXIST ? " (an existing key is never overwritten)" : ""));
  }
  ::fchmod(fd, 0600);  // whatever the umask
  FILE* file = ::fdopen(fd, "w");
  const bool wrote = file != nullptr && PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
                     std::fflush(file) == 0 && ::fsync(fd) == 0;
  if (file != nullptr) {
    std::fclose(file);
  } else {
    ::close(fd);
  }
  if (!wrote) {
    std::filesystem::remove(path);
    throw ArchiveError("cannot write " + path);
  }
  FILE* pub = std::fopen(publicPath.c_str(), "wxe");
  const bool wrotePublic = pub != nullptr && PEM_write_PUBKEY(pub, key) == 1 && std::fflush(pub) == 0;
  if (pub != nullptr) std::fclose(pub);
  if (!wrotePublic) throw ArchiveError("cannot write " + publicPath);
}

std::string CheckpointKey::signMessage(const std::string& message) const {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  unsigned char signature[64];
  std::size_t length = sizeof signature;
  // Ed25519 hashes internally: no digest is named, and the message goes in
  // one call.
  const bool ok = context != nullptr && EVP_DigestSignInit(context, nullptr, nullptr, nullptr, key_) == 1 &&
                  EVP_DigestSign(context, signature, &length, reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size()) == 1 &&
                  length == sizeof signature;
  EVP_MD_CTX_free(context);
  if (!ok) throw ArchiveError(opensslError("cannot sign"));
  return base64(signature, sizeof signature);
}

bool CheckpointKey::verifyMessage(const std::string& message, const std::string& signatureBase64) const {
  const auto signature = fromBase64(signatureBase64, 64);
  if (!signature) return false;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok = context != nullptr && EVP_DigestVerifyInit(context, nullptr, nullptr, nullptr, key_) == 1 &&
                  EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature->data()),
                                   signature->size(), reinterpret_cast<const unsigned char*>(message.data()),
                                   message.size()) == 1;
  EVP_MD_CTX_free(context);
  return ok;
}

void CheckpointKey::sign(Checkpoint& checkpoint) const { checkpoint.signature = signMessage(canonicalCheckpoint(checkpoint)); }

bool CheckpointKey::verify(const Checkpoint& checkpoint) const {
  return verifyMessage(canonicalCheckpoint(checkpoint), checkpoint.signature);
}

// A label of its own, so a record's signature can never pass for a
// checkpoint's, nor the other way round.
std::string CheckpointKey::signRecord(const std::string& hash) const {
  return signMessage("sipwarden-audit-record-v1\n" + hash);
}

bool CheckpointKey::verifyRecord(const std::string& hash, const std::string& signature) const {
  return verifyMessage("sipwarden-audit-record-v1\n" + hash, signature);
}

Checkpointer::Checkpointer(const CheckpointSettings& settings, const std::string& hop)
    : settings_(settings),
      hop_(hop.empty() ? "archive" : hop),
      key_(CheckpointKey::loadPrivate(settings.keyPath)) {
  // The hop name becomes a file name: nothing that could leave the directory.
  std::string name = hop_;
  for (char& c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' || c == '@')) c = '_';
  }
  if (name.empty() || name[0] == '.') name = "_" + name;
  if (settings_.dir.empty()) throw ArchiveError("no checkpoint directory");
  path_ = (std::filesystem::path(settings_.dir) / (name + ".checkpoints")).string();
  const bool existed = std::filesystem::exists(path_);
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd_ < 0) throw ArchiveError("cannot open checkpoint file " + path_ + ": " + std::strerror(errno));
  try {
    if (!existed) syncDirectory(settings_.dir);
    // The last checkpoint: what has been signed already. A line cut short
    // (the machine stopped mid-write: it was never synced whole) is cut
    // off, so that the file holds whole checkpoints only.
    std::ifstream in(path_, std::ios::binary);
    std::string line;
    std::string last;
    off_t size = 0;
    off_t wholeLines = 0;
    for (char c; in.get(c);) {
      ++size;
      if (c == '\n') {
        wholeLines = size;
        if (!line.empty()) last = line;
        line.clear();
      } else {
        line.push_back(c);
      }
    }
    if (wholeLines != size) {
      if (::ftruncate(fd_, wholeLines) == 0) {
        log().warning("checkpoint file %s ended in a cut line (%Ld bytes), removed", path_,
                      static_cast<std::int64_t>(size - wholeLines));
      } else {
        // An append-only file: end the line; verify will name it.
        log().error("checkpoint file %s ends in a cut line that cannot be removed (%s)", path_,
                    std::string(std::strerror(errno)));
        writeAll(fd_, "\n", path_);
      }
    }
    std::string error;
    if (!last.empty()) {
      if (const auto previous = parseCheckpointLine(last, error)) signed_ = previous->heads;
    }
    signedAtStart_ = signed_;
  } catch (...) {
    ::close(fd_);
    throw;
  }
  thread_ = std::thread([this] { run(); });
}

Checkpointer::~Checkpointer() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

void Checkpointer::publish(const ChainHeads& heads, bool now) {
  bool due = false;
  {
    std::lock_guard<std::mutex> hold(lock_);
    latest_ = heads;
    urgent_ = urgent_ || now;
    due = now || heads.rows - signed_.rows >= settings_.everyRows;
  }
  if (due) wake_.notify_one();
}

void Checkpointer::stop() {
  {
    std::lock_guard<std::mutex> hold(lock_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::run() {
  std::unique_lock<std::mutex> hold(lock_);
  auto deadline = std::chrono::steady_clock::now() + settings_.every;
  for (;;) {
    wake_.wait_until(hold, deadline, [&] {
      return stopping_ || urgent_ ||
             (latest_ && latest_->rows - signed_.rows >= settings_.everyRows && *latest_ != signed_);
    });
    const bool last = stopping_;
    urgent_ = false;
    if (latest_ && *latest_ != signed_) {
      const ChainHeads heads = *latest_;
      hold.unlock();
      bool inFile = false;
      try {
        write(heads, inFile);
      } catch (const ArchiveError& error) {
        log().error("checkpoint %s: %s", std::string(inFile ? "written, but a copy failed" : "not written"),
                    std::string(error.what()));
        failures_.fetch_add(1, std::memory_order_relaxed);
      }
      hold.lock();
      if (inFile) {
        signed_ = heads;
        written_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (last) return;
    deadline = std::chrono::steady_clock::now() + settings_.every;
  }
}

void Checkpointer::write(const ChainHeads& heads, bool& inFile) {
  Checkpoint checkpoint;
  checkpoint.version = 2;
  checkpoint.hop = hop_;
  checkpoint.timeMs = nowMs();
  checkpoint.heads = heads;
  key_.sign(checkpoint);
  const std::string line = checkpointLine(checkpoint);
  // One write of the whole line (O_APPEND), then its fsync: a checkpoint
  // that is reported written is on disk.
  writeAll(fd_, line + "\n", path_);
  if (::fsync(fd_) != 0) throw ArchiveError("cannot sync " + path_ + ": " + std::strerror(errno));
  inFile = true;
  if (settings_.syslog) ::syslog(LOG_AUTHPRIV | LOG_NOTICE, "sipwarden checkpoint %s", line.c_str());
  // After the file: a collector that is down costs its copy (logged and
  // counted), not the checkpoint; the next one covers everything before.
  if (!settings_.postUrl.empty()) postCheckpoint(settings_.postUrl, line);
}

std::vector<std::string> checkpointFiles(const std::string& fileOrDir) {
  std::vector<std::string> files;
  std::error_code error;
  if (std::filesystem::is_directory(fileOrDir, error)) {
    for (const auto& entry : std::filesystem::directory_iterator(fileOrDir, error)) {
      if (entry.path().extension() == ".checkpoints") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw ArchiveError("no *.checkpoints file in " + fileOrDir);
    return files;
  }
  if (!std::filesystem::is_regular_file(fileOrDir, error)) throw ArchiveError("no checkpoint file " + fileOrDir);
  return {fileOrDir};
}

namespace {

void failCheckpoint(VerifyReport& report, std::int64_t number, const std::string& file, std::int64_t badRow,
                    const std::string& problem) {
  report.ok = false;
  report.badCheckpoint = number;
  report.firstBadId = badRow;
  report.problem = "checkpoint " + std::to_string(number) + ": " + problem + " (" +
                   std::filesystem::path(file).filename().string() + " line " + std::to_string(number) + ")";
}

// One file's checkpoints against the archive. False at the first fault.
bool verifyFile(Store& store, const std::string& file, const CheckpointKey& key, VerifyReport& report) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ArchiveError("cannot read " + file);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < content.size()) {
    const std::size_t end = content.find('\n', start);
    if (end == std::string::npos) {
      // A line the hop did not finish (killed mid-write): never signed
      // as a whole, so it proves nothing and hides nothing.
      lines.push_back(std::string());
      break;
    }
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  Checkpoint previous;
  bool havePrevious = false;
  std::int64_t lastMatchingRow = 0;
  std::string hop;
  std::optional<ChainHeads> current;
  bool leavesRead = false;
  std::vector<std::pair<std::int64_t, std::string>> leaves;
  merkle::Frontier tree;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto number = static_cast<std::int64_t>(i + 1);
    if (lines[i].empty()) continue;  // the unfinished last line
    std::string error;
    const auto checkpoint = parseCheckpointLine(lines[i], error);
    if (!checkpoint) {
      failCheckpoint(report, number, file, 0, "unreadable: " + error);
      return false;
    }
    if (!key.verify(*checkpoint)) {
      failCheckpoint(report, number, file, 0, "bad signature: it was not signed with this key, or it was edited");
      return false;
    }
    ++report.checkpoints;
    const ChainHeads& signedHeads = checkpoint->heads;
    if (havePrevious && checkpoint->hop != hop) {
      failCheckpoint(report, number, file, 0, "names hop '" + checkpoint->hop + "' in a file of hop '" + hop + "'");
      return false;
    }
    if (havePrevious && (signedHeads.rows < previous.heads.rows || signedHeads.lastId < previous.heads.lastId ||
                         signedHeads.outcomesRows < previous.heads.outcomesRows ||
                         signedHeads.outcomesLastId < previous.heads.outcomesLastId)) {
      failCheckpoint(report, number, file, 0,
                     "goes back from the one before it (row " + std::to_string(previous.heads.lastId) + " to " +
                         std::to_string(signedHeads.lastId) +
                         "): the checkpoints were reordered, or the hop was started on an older archive");
      return false;
    }
    if (!current) {
      current = store.chainHeads(checkpoint->hop);
      if (!current) {
        failCheckpoint(report, number, file, 0,
                       "the archive has no chain of hop '" + checkpoint->hop + "': it was deleted");
        return false;
      }
    }
    hop = checkpoint->hop;
    const std::string since =
        lastMatchingRow > 0 ? "after row " + std::to_string(lastMatchingRow) + ", which the checkpoint before matches"
                            : "at or before it";
    if (signedHeads.lastId > 0) {
      const auto stored = store.chainedMessageHash(hop, signedHeads.lastId);
      if (!stored) {
        // Past its head, the archive was rewritten after the last matching
        // checkpoint; short of it, it ends where rows went missing.
        const std::int64_t firstBad = current->lastId >= signedHeads.lastId
                                          ? lastMatchingRow + 1
                                          : std::max(lastMatchingRow, current->lastId) + 1;
        failCheckpoint(report, number, file, firstBad,
                       "row " + std::to_string(signedHeads.lastId) + " (of " + std::to_string(signedHeads.rows) +
                           " signed) is missing; the archive ends at row " + std::to_string(current->lastId) + " (" +
                           std::to_string(current->rows) +
                           " rows): rows were deleted, or the archive was replaced with an older copy");
        return false;
      }
      if (*stored != signedHeads.lastHash) {
        failCheckpoint(report, number, file, lastMatchingRow + 1,
                       "row " + std::to_string(signedHeads.lastId) + " does not have the hash it was signed with: rows " +
                           since + " were rewritten, inserted, deleted or reordered and the chain re-hashed");
        return false;
      }
    }
    if (current->rows < signedHeads.rows || current->lastId < signedHeads.lastId) {
      failCheckpoint(report, number, file, current->lastId + 1,
                     "the archive's chain head (row " + std::to_string(current->lastId) + ", " +
                         std::to_string(current->rows) + " rows) is behind the signed one (row " +
                         std::to_string(signedHeads.lastId) + ", " + std::to_string(signedHeads.rows) +
                         " rows): the head was rewound");
      return false;
    }
    if (signedHeads.outcomesLastId > 0) {
      const auto stored = store.chainedOutcomeHash(hop, signedHeads.outcomesLastId);
      if (!stored || *stored != signedHeads.outcomesLastHash) {
        failCheckpoint(report, number, file, 0,
                       "final-code record " + std::to_string(signedHeads.outcomesLastId) +
                           (stored ? " does not have the hash it was signed with: final-code records were rewritten"
                                   : " is missing: final-code records were deleted"));
        return false;
      }
    }
    if (current->outcomesRows < signedHeads.outcomesRows || current->outcomesLastId < signedHeads.outcomesLastId) {
      failCheckpoint(report, number, file, 0,
                     "the archive's final-code chain (record " + std::to_string(current->outcomesLastId) +
                         ") is behind the signed one (record " + std::to_string(signedHeads.outcomesLastId) +
                         "): the head was rewound");
      return false;
    }
    if (signedHeads.auditLastId > 0) {
      const auto stored = store.chainedAuditHash(signedHeads.auditLastId);
      if (!stored || *stored != signedHeads.auditLastHash) {
        failCheckpoint(report, number, file, 0,
                       "audit record " + std::to_string(signedHeads.auditLastId) +
                           (stored ? " does not have the hash it was signed with: the audit trail was rewritten"
                                   : " is missing: audit records (searches, holds, purges) were deleted"));
        return false;
      }
    }
    if (current->auditRows < signedHeads.auditRows || current->auditLastId < signedHeads.auditLastId) {
      failCheckpoint(report, number, file, 0,
                     "the archive's audit trail (record " + std::to_string(current->auditLastId) +
                         ") is behind the signed one (record " + std::to_string(signedHeads.auditLastId) +
                         "): the head was rewound");
      return false;
    }
    if (!signedHeads.treeRoot.empty()) {
      // The tree of the first `rows` leaves, grown along the file (its
      // checkpoints never go back), so the chain is hashed once.
      if (!leavesRead) {
        leaves = store.chainLeaves(hop);
        leavesRead = true;
      }
      while (tree.size() < static_cast<std::uint64_t>(signedHeads.rows) && tree.size() < leaves.size()) {
        tree.append(merkle::leafHash(leaves[tree.size()].second));
      }
      if (tree.size() != static_cast<std::uint64_t>(signedHeads.rows) || toHex(tree.root()) != signedHeads.treeRoot) {
        failCheckpoint(report, number, file, lastMatchingRow + 1,
                       "the Merkle root over the first " + std::to_string(signedHeads.rows) +
                           " rows is not the signed one: rows " + since + " were rewritten, inserted or deleted");
        return false;
      }
    }
    lastMatchingRow = signedHeads.lastId;
    previous = *checkpoint;
    havePrevious = true;
  }
  return true;
}

}  // namespace

std::int64_t verifyCheckpoints(Store& store, const std::vector<std::string>& files, const CheckpointKey& key,
                               VerifyReport& report) {
  const std::int64_t before = report.checkpoints;
  for (const std::string& file : files) {
    if (!verifyFile(store, file, key, report)) break;
  }
  // A purge record signed by a hop whose checkpoints were given must carry
  // that hop's signature: one forged, or copied onto another record, fails.
  // One that names another hop (or no hop) cannot be checked with this key:
  // it is named like a purge by hand.
  std::set<std::string> hops;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    for (std::string line; std::getline(in, line);) {
      std::string error;
      if (const auto checkpoint = parseCheckpointLine(line, error)) hops.insert("hop:" + checkpoint->hop);
    }
  }
  for (const PurgeRecordSeal& seal : report.purgeSeals) {
    if (!report.ok) break;
    if (seal.signature.empty()) continue;
    if (!hops.count(seal.who)) {
      report.handPurges.push_back("record " + std::to_string(seal.id) + " by " + seal.who +
                                  ": signed, but by no hop whose checkpoints were given (not checked)");
      continue;
    }
    if (!key.verifyRecord(seal.hash, seal.signature)) {
      report.ok = false;
      report.firstBadId = 0;
      report.problem = "purge record " + std::to_string(seal.id) + " (by " + seal.who +
                       ") has a signature this key did not make: it was forged";
    }
  }
  return report.checkpoints - before;
}

}  // namespace sipwarden::archive
