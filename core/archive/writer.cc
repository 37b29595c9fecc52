#include "archive/writer.h"

#include "archive/clean_text.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <vector>

#include "archive/sqlite_store.h"

namespace sipwarden::archive {

void WriterCounters::recordCommit(std::uint64_t micros) {
  lastCommitMicros.store(micros, std::memory_order_relaxed);
  commitMicrosTotal.fetch_add(micros, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kCommitBucketMicros.size(); ++i) {
    if (micros <= kCommitBucketMicros[i]) {
      commitBuckets[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
}
namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.archive"); }

}  // namespace

Writer::Writer(WriterSettings settings)
    : settings_(std::move(settings)),
      store_(openStore(settings_.url, StoreOptions{settings_.conversationGapMs, settings_.maxPages, settings_.hopId})) {
  if (auto* sqlite = dynamic_cast<SqliteStore*>(store_.get())) {
    // The checkpoint thread keeps the WAL short; the writer's own automatic
    // checkpoint stays only as a backstop for a WAL the thread cannot catch
    // up with (400 MB).
    sqlite3_exec(sqlite->handle(), "PRAGMA wal_autocheckpoint=100000", nullptr, nullptr, nullptr);
    checkpointThread_ = std::thread([this, path = parseArchiveLocation(settings_.url).target] { checkpointLoop(path); });
  }
  if (!settings_.checkpoints.keyPath.empty()) {
    try {
      checkpointer_ = std::make_unique<Checkpointer>(settings_.checkpoints, settings_.hopId);
      const std::optional<ChainHeads> heads = store_->chainHeads(settings_.hopId);
      const ChainHeads& signedHeads = checkpointer_->signedAtStart();
      if (heads && (heads->rows < signedHeads.rows || heads->lastId < signedHeads.lastId)) {
        log().error("the archive (row %Ld, %Ld rows) is behind its last signed checkpoint (row %Ld, %Ld rows) in %s: "
                    "rows were removed or an older copy was restored; archive verify --checkpoints will report it",
                    heads->lastId, heads->rows, signedHeads.lastId, signedHeads.rows, checkpointer_->path());
      }
      // What was committed since the last checkpoint (a hop killed before
      // it could sign) is signed now.
      if (heads) checkpointer_->publish(*heads, true);
      // The hop's own retention purges are signed: a purge by hand cannot
      // pass for one.
      store_->setRecordSigner([checkpointer = checkpointer_.get()](const std::string& hash) {
        return checkpointer->signRecord(hash);
      });
    } catch (...) {
      drainAndStop();  // the checkpoint thread runs already
      throw;
    }
  }
  store_->setPurgeIdentity("hop:" + (settings_.hopId.empty() ? std::string("archive") : settings_.hopId),
                           "retention " + std::to_string(settings_.retentionDays) + " days");
  thread_ = std::thread([this] { run(); });
}

Writer::~Writer() { drainAndStop(); }

namespace {

// Every text field clean before it is hashed and stored (clean_text.h): the
// same bytes in both backends, and no client can fail a batch with a byte
// PostgreSQL refuses. The raw body keeps its bytes.
void cleanRecord(MessageRecord& r) {
  for (std::string* field :
       {&r.direction, &r.sender, &r.senderName, &r.recipient, &r.recipientName, &r.callId, &r.contentType, &r.text,
        &r.originalText, &r.verdict, &r.rules, &r.tags, &r.source, &r.transport, &r.participants,
        &r.receivedContentType, &r.contentEncoding, &r.unreadable}) {
    makeCleanText(*field);
  }
}

}  // namespace

bool Writer::submit(MessageRecord record, std::shared_ptr<CommitWaiter> waiter) {
  cleanRecord(record);
  Job job;
  job.record = std::move(record);
  job.waiter = std::move(waiter);
  return enqueue(std::move(job));
}

void Writer::finalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender, int code) {
  Job job;
  // Cleaned as submit() cleaned the row's, so that they still match.
  job.record.callId = cleanText(callId);
  job.record.cseq = cseq;
  job.record.sender = cleanText(sender);
  job.record.finalCode = code;
  job.finalCodeOnly = true;
  enqueue(std::move(job));
}

bool Writer::submitCall(CallRecord record) {
  Job job;
  job.finalCodeOnly = true;  // like a final code: never refused for health alone
  job.action = [record = std::move(record)](Store& store) { store.upsertCall(record); };
  return enqueue(std::move(job));
}

bool Writer::submitFileTransfer(FileTransferRecord record) {
  Job job;
  job.finalCodeOnly = true;
  job.action = [record = std::move(record)](Store& store) { store.insertFileTransfer(record); };
  return enqueue(std::move(job));
}

void Writer::closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) {
  Job job;
  job.finalCodeOnly = true;
  job.action = [nowMs, timeoutMs](Store& store) { store.closeStaleCalls(nowMs, timeoutMs); };
  enqueue(std::move(job));
}

bool Writer::enqueue(Job job) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> hold(lock_);
    // Refuse new rows while the archive fails: what waits for a commit must
    // learn at once that none is coming (the failure mode decides).
    const bool failing = !healthy_ && !job.finalCodeOnly && std::chrono::steady_clock::now() < refuseUntil_;
    const bool full = queue_.size() >= settings_.queueLimit || failing;
    if (stopping_ || full) {
      counters_.refused.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(job));
    // The writer sleeps for one of two things: work in an empty queue, or a
    // full batch while it lets one fill (batch_ms). Waking it for every other
    // row costs the SIP thread a futex call per message and the writer a
    // context switch to find its batch still short.
    wake = queue_.size() == 1 || queue_.size() >= settings_.batchRows;
  }
  if (wake) wake_.notify_one();
  return true;
}

std::size_t Writer::queueDepth() const {
  std::lock_guard<std::mutex> hold(lock_);
  return queue_.size();
}

void Writer::drainAndStop() {
  {
    std::lock_guard<std::mutex> hold(lock_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // Everything is committed: the last heads are signed.
  if (checkpointer_) checkpointer_->stop();
  {
    std::lock_guard<std::mutex> hold(checkpointLock_);
    checkpointStopping_ = true;
  }
  checkpointWake_.notify_one();
  if (checkpointThread_.joinable()) checkpointThread_.join();
}

void Writer::checkpointLoop(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    log().warning("no checkpoint connection (%s): only the writer's backstop checkpoints run",
                  std::string(sqlite3_errmsg(db)));
    sqlite3_close(db);
    return;
  }
  // A connection that has not read the database yet does not know it is in
  // WAL mode, and its checkpoints do nothing.
  sqlite3_exec(db, "PRAGMA journal_mode", nullptr, nullptr, nullptr);
  // PASSIVE never waits for the writer or readers: it copies what it can,
  // and the writer restarts the WAL from its start once all is copied.
  int lastCopied = 0;
  std::unique_lock<std::mutex> hold(checkpointLock_);
  while (!checkpointWake_.wait_for(hold, std::chrono::milliseconds(100), [&] { return checkpointStopping_; })) {
    hold.unlock();
    int logFrames = 0;
    int copiedFrames = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copiedFrames);
    // copiedFrames counts from the WAL's start: a change means this call copied.
    if (rc == SQLITE_OK && copiedFrames > 0 && copiedFrames != lastCopied) {
      counters_.checkpoints.fetch_add(1, std::memory_order_relaxed);
    }
    lastCopied = copiedFrames;
    hold.lock();
  }
  sqlite3_close(db);
}

void Writer::publishHeads() {
  // A SELECT of one row per batch, on this thread's connection: the heads
  // this writer just committed. Never fatal to the writer.
  try {
    if (const std::optional<ChainHeads> heads = store_->chainHeads(settings_.hopId)) checkpointer_->publish(*heads);
  } catch (const ArchiveError& error) {
    checkpointer_->publishFailed();
    log().warning("cannot read the chain heads for a checkpoint: %s", std::string(error.what()));
  }
}

void Writer::purgeExpired() {
  const auto now = std::chrono::system_clock::now();
  const std::int64_t nowMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::int64_t cutoff = nowMs - static_cast<std::int64_t>(settings_.retentionDays) * 86400000LL;
  std::int64_t total = 0;
  try {
    // Small transactions: the write lock is never held for long, and queued
    // messages get their turn between batches.
    for (;;) {
      store_->begin();
      const std::int64_t purged = store_->purgeBatch(cutoff, nowMs, 500);
      store_->commit();
      total += purged;
      if (purged < 500 || stopping_) break;
      std::lock_guard<std::mutex> hold(lock_);
      if (!queue_.empty()) break;  // finish later; traffic first
    }
  } catch (const ArchiveError& error) {
    try {
      store_->rollback();
    } catch (const ArchiveError&) {
    }
    log().error("retention purge failed: %s", std::string(error.what()));
  }
  if (total > 0) log().information("retention: purged %Ld messages older than %d days", total, settings_.retentionDays);
}

void Writer::run() {
  std::vector<Job> batch;
  std::vector<const MessageRecord*> rows;
  auto nextPurge = std::chrono::steady_clock::now();
  // Idle, the heads are still read every checkpoint interval: searches,
  // holds and purges by other connections move the audit trail's head.
  auto nextHeads = std::chrono::steady_clock::now() + settings_.checkpoints.every;
  for (;;) {
    {
      std::unique_lock<std::mutex> hold(lock_);
      while (!stopping_ && queue_.empty()) {
        const auto now = std::chrono::steady_clock::now();
        if (settings_.retentionDays > 0 && now >= nextPurge) {
          hold.unlock();
          purgeExpired();
          if (checkpointer_) publishHeads();
          hold.lock();
          nextPurge = std::chrono::steady_clock::now() + settings_.purgeInterval;
          continue;
        }
        if (checkpointer_ && now >= nextHeads) {
          hold.unlock();
          publishHeads();
          hold.lock();
          nextHeads = std::chrono::steady_clock::now() + settings_.checkpoints.every;
          continue;
        }
        if (settings_.retentionDays > 0 && checkpointer_) {
          wake_.wait_until(hold, std::min(nextPurge, nextHeads));
        } else if (settings_.retentionDays > 0) {
          wake_.wait_until(hold, nextPurge);
        } else if (checkpointer_) {
          wake_.wait_until(hold, nextHeads);
        } else {
          wake_.wait(hold);
        }
      }
      if (queue_.empty() && stopping_) return;
      // Group commit: let the batch fill for up to batchTime.
      const auto deadline = std::chrono::steady_clock::now() + settings_.batchTime;
      wake_.wait_until(hold, deadline, [&] { return stopping_ || queue_.size() >= settings_.batchRows; });
      const std::size_t take = std::min(queue_.size(), settings_.batchRows);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + take));
      queue_.erase(queue_.begin(), queue_.begin() + take);
    }
    const auto start = std::chrono::steady_clock::now();
    try {
      rows.clear();
      for (const auto& job : batch) {
        if (!job.action && !job.finalCodeOnly) rows.push_back(&job.record);
      }
      store_->begin(rows);
      // The write lock is held from here to the commit, so what remains is
      // short and cannot wait on another connection. Now, not before the
      // lock (which may take seconds), each waiter is claimed: one that
      // already gave up (its sender got 503) loses its row, one that is
      // claimed waits for this commit instead of giving up.
      std::uint64_t abandoned = 0;
      for (auto& job : batch) {
        if (job.waiter && !job.waiter->claim()) {
          job.abandoned = true;
          ++abandoned;
        }
      }
      counters_.abandoned.fetch_add(abandoned, std::memory_order_relaxed);
      // The messages first, as one batch (a shared backend writes them in a
      // few statements), then codes and call records in queue order: a
      // code always follows its row, so it finds it.
      rows.clear();
      for (const auto& job : batch) {
        if (!job.abandoned && !job.action && !job.finalCodeOnly) rows.push_back(&job.record);
      }
      const std::vector<bool> inserted = store_->insertMessages(rows);
      const auto written = static_cast<std::uint64_t>(std::count(inserted.begin(), inserted.end(), true));
      const std::uint64_t duplicates = inserted.size() - written;
      for (const auto& job : batch) {
        if (job.abandoned) continue;
        if (job.action) {
          job.action(*store_);
        } else if (job.finalCodeOnly) {
          store_->updateFinalCode(job.record.callId, job.record.cseq, job.record.sender, job.record.finalCode);
        }
      }
      store_->commit();
      if (!healthy_) log().information("archive writable again");
      healthy_ = true;
      for (auto& job : batch) {
        if (job.waiter && !job.abandoned) job.waiter->committed(true);
      }
      if (checkpointer_ && (written > 0 || std::any_of(batch.begin(), batch.end(), [](const Job& job) {
                              return job.finalCodeOnly && !job.action && !job.abandoned;
                            }))) {
        publishHeads();
      }
      counters_.committed.fetch_add(written, std::memory_order_relaxed);
      counters_.duplicates.fetch_add(duplicates, std::memory_order_relaxed);
      counters_.batches.fetch_add(1, std::memory_order_relaxed);
      counters_.recordCommit(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count()));
      batch.clear();
    } catch (const ArchiveError& error) {
      try {
        store_->rollback();
      } catch (const ArchiveError&) {
      }
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      if (healthy_) log().error("archive write failed, retrying: %s", std::string(error.what()));
      healthy_ = false;
      // Whoever waits for a commit is told now (a compliance sender gets its
      // 503); rows nobody waits for are kept and retried after a pause.
      std::vector<Job> retry;
      for (auto& job : batch) {
        if (job.waiter) {
          if (!job.abandoned) job.waiter->committed(false);
        } else {
          retry.push_back(std::move(job));
        }
      }
      batch.clear();
      std::unique_lock<std::mutex> hold(lock_);
      refuseUntil_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      queue_.insert(queue_.begin(), std::make_move_iterator(retry.begin()), std::make_move_iterator(retry.end()));
      if (stopping_) {
        log().error("stopping with %z messages not archived", queue_.size());
        return;
      }
      wake_.wait_for(hold, std::chrono::seconds(1), [&] { return stopping_; });
    }
  }
}

}  // namespace sipwarden::archive
