#pragma once
// A real temporary archive for query tests, written through archive::SqliteStore
// exactly as the hop's writer writes it.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "archive/sqlite_store.h"
#include "archive/test_records.h"

namespace sipwarden::query::testing {

class TempArchive {
 public:
  TempArchive() {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("sipwarden-query-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".db"))
                .string();
    remove();
    store_ = std::make_unique<archive::SqliteStore>(path_);
  }
  ~TempArchive() {
    store_.reset();
    remove();
  }
  const std::string& path() const { return path_; }
  archive::SqliteStore& store() { return *store_; }

  // One message in its own transaction.
  void add(std::int64_t timeMs, const std::string& from, const std::string& to, const std::string& text,
           const std::string& callId, bool session = true, const std::string& verdict = "delivered",
           const std::string& original = "", const std::string& rules = "", const std::string& tags = "") {
    MessageRecord r = archive::testing::textMessage(callId, ++cseq_, timeMs, text, from, to);
    r.originalText = original;
    r.verdict = verdict;
    r.rules = rules;
    r.tags = tags;
    r.session = session;
    store_->begin();
    store_->insertMessage(r);
    store_->commit();
  }

 private:
  void remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  std::string path_;
  std::unique_ptr<archive::SqliteStore> store_;
  std::uint32_t cseq_ = 0;
};

}  // namespace sipwarden::query::testing
