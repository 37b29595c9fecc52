#include "archive/writer.h"

#include <Poco/Logger.h>

#include <vector>

namespace sipwarden::archive {
namespace {

Poco::Logger& log() { return Poco::Logger::get("sipwarden.archive"); }

}  // namespace

Writer::Writer(WriterSettings settings)
    : settings_(std::move(settings)),
      store_(std::make_unique<Store>(settings_.path, settings_.conversationGapMs)),
      thread_([this] { run(); }) {}

Writer::~Writer() { drainAndStop(); }

bool Writer::submit(MessageRecord record) {
  {
    std::lock_guard<std::mutex> hold(lock_);
    if (stopping_ || queue_.size() >= settings_.queueLimit) {
      counters_.refused.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(record));
  }
  wake_.notify_one();
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
}

void Writer::run() {
  std::vector<MessageRecord> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> hold(lock_);
      wake_.wait(hold, [&] { return stopping_ || !queue_.empty(); });
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
      store_->begin();
      std::uint64_t written = 0;
      for (const auto& record : batch) written += store_->insertMessage(record) ? 1 : 0;
      store_->commit();
      counters_.committed.fetch_add(written, std::memory_order_relaxed);
      counters_.duplicates.fetch_add(batch.size() - written, std::memory_order_relaxed);
      counters_.batches.fetch_add(1, std::memory_order_relaxed);
      counters_.lastCommitMicros.store(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count()));
      if (!healthy_) log().information("archive writable again");
      healthy_ = true;
      batch.clear();
    } catch (const ArchiveError& error) {
      try {
        store_->rollback();
      } catch (const ArchiveError&) {
      }
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      if (healthy_) log().error("archive write failed, retrying: %s", std::string(error.what()));
      healthy_ = false;
      // Put the batch back in front and retry after a pause.
      std::unique_lock<std::mutex> hold(lock_);
      queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
      batch.clear();
      if (stopping_) {
        log().error("stopping with %z messages not archived", queue_.size());
        return;
      }
      wake_.wait_for(hold, std::chrono::seconds(1), [&] { return stopping_; });
    }
  }
}

}  // namespace sipwarden::archive
