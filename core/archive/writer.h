#pragma once
// The archive's single writer: a bounded queue fed from the SIP thread and
// one thread that commits it in batches (group commit: a batch closes at
// `batchRows` rows or `batchTime`, whichever comes first). The message path
// never waits on disk. A failed batch is kept and retried, so writing
// resumes by itself when the disk has room again; while it fails, the queue
// fills and submit() starts refusing, which the plugin's failure mode turns
// into delivery without archive or a 503.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "archive/checkpoint.h"
#include "archive/store.h"
#include "sipwarden/archive.h"

namespace sipwarden::archive {

struct WriterSettings {
  // A SQLite file's path or an archive URL (store.h: parseArchiveLocation).
  std::string url;
  std::size_t batchRows = 500;
  std::chrono::milliseconds batchTime{20};
  std::size_t queueLimit = 100000;
  std::int64_t conversationGapMs = 30 * 60 * 1000;
  // SQLite: a size quota in database pages (max_page_count); 0 for none.
  std::int64_t maxPages = 0;
  // Messages and calls older than this are purged (0: keep forever),
  // checked at start and every purgeInterval, in small transactions.
  int retentionDays = 0;
  std::chrono::milliseconds purgeInterval{std::chrono::minutes(10)};
  // The name of this hop's chain in a shared (PostgreSQL) archive.
  std::string hopId{};
  // Signed checkpoints of the chain heads, kept outside the archive
  // (checkpoint.h); off without a key.
  CheckpointSettings checkpoints{};
};

struct WriterCounters {
  std::atomic<std::uint64_t> committed{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> refused{0};  // queue full or archive failed
  // Rows not written because whoever waited for them had given up (the
  // sender was answered 503 before the archive could take the row).
  std::atomic<std::uint64_t> abandoned{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> failures{0};
  // Checkpoints that moved WAL frames into the database file, on the
  // checkpoint thread (never on the writer's commit path).
  std::atomic<std::uint64_t> checkpoints{0};
  std::atomic<std::uint64_t> lastCommitMicros{0};
  // Commit latency histogram for /metrics: batches whose commit took at
  // most kCommitBucketMicros[i] (the first bucket that fits), and the sum.
  static constexpr std::array<std::uint64_t, 10> kCommitBucketMicros = {
      1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};
  std::array<std::atomic<std::uint64_t>, 10> commitBuckets{};
  std::atomic<std::uint64_t> commitMicrosTotal{0};
  void recordCommit(std::uint64_t micros);
};

class Writer final : public ArchiveSink {
 public:
  // Opens the store (throws ArchiveError) and starts the thread.
  explicit Writer(WriterSettings settings);
  ~Writer() override;

  bool submit(MessageRecord record, std::shared_ptr<CommitWaiter> waiter = nullptr) override;
  void finalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender, int code) override;
  bool submitCall(CallRecord record) override;
  bool submitFileTransfer(FileTransferRecord record) override;
  void closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) override;
  bool healthy() const override { return healthy_; }
  // Commits everything queued, then stops the thread.
  void drainAndStop();
  std::size_t queueDepth() const;
  const WriterCounters& counters() const { return counters_; }
  // Null unless checkpoints are configured.
  const Checkpointer* checkpointer() const { return checkpointer_.get(); }

 private:
  struct Job {
    MessageRecord record;
    std::shared_ptr<CommitWaiter> waiter;
    bool finalCodeOnly = false;
    bool abandoned = false;  // its waiter gave up before the row was written
    std::function<void(Store&)> action;  // call records and other writes
  };
  bool enqueue(Job job);
  void run();
  void purgeExpired();
  // SQLite only: copies committed WAL frames into the database file on its
  // own connection, so that a commit never waits for a checkpoint (the WAL's
  // fsync and the copy took up to a second inside COMMIT, and in reject mode
  // every waiting sender with it).
  void checkpointLoop(const std::string& path);
  // After a commit that moved a chain: hands the heads to the checkpointer.
  void publishHeads();

  WriterSettings settings_;
  std::unique_ptr<Store> store_;
  mutable std::mutex lock_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::atomic<bool> healthy_{true};
  // While unhealthy, new rows are refused until this time; then a few are
  // let through to find out whether the archive is writable again.
  std::chrono::steady_clock::time_point refuseUntil_{};
  WriterCounters counters_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::thread thread_;
  std::mutex checkpointLock_;
  std::condition_variable checkpointWake_;
  bool checkpointStopping_ = false;
  std::thread checkpointThread_;
};

}  // namespace sipwarden::archive
