#pragma once
// Signed checkpoints of the archive's chain heads, kept outside the archive
// (issue 18). The running hop signs its two chain heads (messages and final
// codes) with an Ed25519 key only it reads and appends each checkpoint, one
// JSON line, to a file meant for another disk or host (and optionally to
// syslog). `archive verify --checkpoints` then proves that the archive
// extends every checkpoint: whoever can rewrite the archive file but not the
// checkpoints, nor sign new ones, cannot delete, truncate, re-hash or swap
// what a checkpoint covers without `verify` naming it.
//
// The signed bytes (canonicalCheckpoint) are the fields, in a fixed order,
// each length-prefixed as in chain.cc ("5:hello"), after the label
// "sipwarden-checkpoint-v1"; docs/archive.md lists them.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "archive/store.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace sipwarden::archive {

struct Checkpoint {
  int version = 1;
  std::string hop;
  std::int64_t timeMs = 0;
  ChainHeads heads;
  std::string signature;  // base64 of the 64-byte Ed25519 signature
};

// The bytes the signature covers.
std::string canonicalCheckpoint(const Checkpoint& checkpoint);
// One line of JSON, without the newline.
std::string checkpointLine(const Checkpoint& checkpoint);
// Reads a line checkpointLine wrote; nullopt (and why in `error`) for
// anything else: unknown or missing keys, wrong types, a version other than 1.
std::optional<Checkpoint> parseCheckpointLine(const std::string& line, std::string& error);

// An Ed25519 key read from a PEM file. Throws ArchiveError.
class CheckpointKey {
 public:
  // The private key: refused when group or others may read the file (like
  // ssh), or when it is not an Ed25519 key.
  static CheckpointKey loadPrivate(const std::string& path);
  static CheckpointKey loadPublic(const std::string& path);
  // Writes a new key pair: `path` (private, PEM, mode 0600, never over an
  // existing file) and `path`.pub (public, PEM).
  static void generate(const std::string& path);

  CheckpointKey(CheckpointKey&& other) noexcept : key_(other.key_) { other.key_ = nullptr; }
  CheckpointKey& operator=(CheckpointKey&&) = delete;
  CheckpointKey(const CheckpointKey&) = delete;
  ~CheckpointKey();

  // Sets checkpoint.signature over canonicalCheckpoint (private key only).
  void sign(Checkpoint& checkpoint) const;
  bool verify(const Checkpoint& checkpoint) const;
  // An audit record's hash (a purge the hop's retention made), signed so
  // that a purge by hand cannot pass for one: base64.
  std::string signRecord(const std::string& hash) const;
  bool verifyRecord(const std::string& hash, const std::string& signature) const;

 private:
  std::string signMessage(const std::string& message) const;
  bool verifyMessage(const std::string& message, const std::string& signatureBase64) const;
  explicit CheckpointKey(EVP_PKEY* key) : key_(key) {}
  EVP_PKEY* key_;
};

struct CheckpointSettings {
  std::string keyPath;  // empty: no checkpoints
  std::string dir;
  std::int64_t everyRows = 1000;
  std::chrono::seconds every{60};
  bool syslog = false;
  // Also POSTed here (http:// or https://, the line as application/json),
  // after the file; empty for none.
  std::string postUrl;
};

// The hop's checkpoint writer: the archive's writer thread publishes the
// heads after each commit (publish never waits on disk), and a thread of its
// own signs them when `everyRows` rows or `every` passed since the last
// checkpoint and the heads moved, and once more at stop. A failed write is
// logged and counted, and tried again with the next heads.
class Checkpointer {
 public:
  // Loads the key and opens DIR/<hop>.checkpoints (creating it, and syncing
  // the directory then). Throws ArchiveError: a hop configured for
  // checkpoints does not start without them.
  Checkpointer(const CheckpointSettings& settings, const std::string& hop);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Called on the archive's writer thread after a commit, with the heads it
  // committed; `now` signs them at once if they moved (at start).
  void publish(const ChainHeads& heads, bool now = false);
  // The writer thread could not read the heads (counted as a failure).
  void publishFailed() { failures_.fetch_add(1, std::memory_order_relaxed); }
  // Signs the last heads if they moved, then ends the thread.
  void stop();
  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  // The heads of the file's last checkpoint when the hop started.
  const ChainHeads& signedAtStart() const { return signedAtStart_; }
  // For the store's purge records (any thread).
  std::string signRecord(const std::string& hash) const { return key_.signRecord(hash); }
  const std::string& path() const { return path_; }

 private:
  void run();
  // Appends, syncs, then copies to syslog and the POST target; `inFile`
  // is set once the file has it. Throws ArchiveError.
  void write(const ChainHeads& heads, bool& inFile);

  CheckpointSettings settings_;
  std::string hop_;
  std::string path_;
  CheckpointKey key_;
  int fd_ = -1;
  mutable std::mutex lock_;
  std::condition_variable wake_;
  std::optional<ChainHeads> latest_;
  ChainHeads signed_{};  // the heads of the file's last checkpoint
  bool stopping_ = false;
  bool urgent_ = false;
  ChainHeads signedAtStart_{};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::thread thread_;
};

// The checkpoint files `--checkpoints` names: FILE, or every *.checkpoints
// in DIR (sorted). Throws ArchiveError when there is none.
std::vector<std::string> checkpointFiles(const std::string& fileOrDir);

// For `archive verify`, after the chains' own walk passed: every checkpoint
// in `files` is signed by `key`, each file's checkpoints never go back, and
// the archive extends each (its signed rows are there with their signed
// hashes, and the chain heads are at or past them). The first fault marks
// the report failed, naming the checkpoint and the row. Returns how many
// checkpoints were checked.
std::int64_t verifyCheckpoints(Store& store, const std::vector<std::string>& files, const CheckpointKey& key,
                               VerifyReport& report);

}  // namespace sipwarden::archive
