#pragma once
// An empty archive on either backend for tests that run on both: a
// temporary SQLite file, or a fresh schema in the PostgreSQL server named by
// SIPWARDEN_TEST_PG_URL (scripts/test.sh starts one on loopback). Raw SQL
// for tampering and for checks goes through the backend's own client.
// Also the fixture such tests derive from, a temporary directory, and an
// SQLite file at an old schema version.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "archive/migrations.h"
#include "archive/pg.h"
#include "archive/store.h"

namespace sipwarden::archive::testing {

inline const char* postgresServer() {
  const char* url = std::getenv("SIPWARDEN_TEST_PG_URL");
  return url && *url ? url : nullptr;
}

class TestArchive {
 public:
  explicit TestArchive(const std::string& backend) : postgres_(backend == "postgres") {
    static int counter = 0;
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    if (postgres_) {
      const std::string server = postgresServer();
      admin_ = std::make_unique<pg::Connection>(server);
      admin_->script("DROP SCHEMA IF EXISTS " + name + " CASCADE; CREATE SCHEMA " + name);
      schema_ = name;
      // Every unqualified table name resolves in this test's schema.
      url_ = server + (server.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + name;
      raw_ = std::make_unique<pg::Connection>(url_);
    } else {
      url_ = (std::filesystem::temp_directory_path() / ("sipwarden-backend-" + name + ".db")).string();
      removeFile();
    }
  }
  ~TestArchive() {
    raw_.reset();
    if (admin_) {
      try {
        admin_->script("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
      } catch (const ArchiveError&) {
      }
    } else {
      removeFile();
    }
  }
  TestArchive(const TestArchive&) = delete;
  TestArchive& operator=(const TestArchive&) = delete;

  bool postgres() const { return postgres_; }
  const std::string& url() const { return url_; }
  std::unique_ptr<Store> open(const std::string& hop = "hop-a", std::int64_t gapMs = 30 * 60 * 1000) const {
    return openStore(url_, StoreOptions{gapMs, 0, hop});
  }

  void exec(const std::string& sql) {
    if (postgres_) {
      raw_->script(sql);
      return;
    }
    sqlite3* db = openFile();
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw ArchiveError(message);
  }
  std::int64_t scalar(const std::string& sql) {
    if (postgres_) return raw_->run(sql).integer(0, 0);
    sqlite3* db = openFile();
    sqlite3_stmt* statement = nullptr;
    std::int64_t value = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      value = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }

 private:
  sqlite3* openFile() const {
    sqlite3* db = nullptr;
    sqlite3_open(url_.c_str(), &db);
    sqlite3_busy_timeout(db, 5000);
    return db;
  }
  void removeFile() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(url_ + suffix);
  }

  bool postgres_;
  std::string url_;
  std::string schema_;
  std::unique_ptr<pg::Connection> admin_;
  std::unique_ptr<pg::Connection> raw_;
};

// The fixture of a test on both backends, instantiated with
// ::testing::Values("sqlite", "postgres"): an empty archive each. Without a
// PostgreSQL server the postgres cases fail rather than pass unseen.
class BothBackends : public ::testing::TestWithParam<std::string> {
 protected:
  // A fixture that sets up more calls this first and returns on
  // HasFatalFailure().
  void SetUp() override {
    if (postgres() && postgresServer() == nullptr) {
      GTEST_FAIL() << "SIPWARDEN_TEST_PG_URL is not set (scripts/test.sh sets it)";
    }
    archive_ = std::make_unique<TestArchive>(GetParam());
  }
  bool postgres() const { return GetParam() == "postgres"; }
  TestArchive& archive() { return *archive_; }
  const TestArchive& archive() const { return *archive_; }

 private:
  std::unique_ptr<TestArchive> archive_;
};

// A directory of its own for one test (keys, checkpoint files), removed
// with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("sipwarden-test-dir-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Applies the SQLite migrations up to `version` to `db`, as an archive that
// an older sipwarden left behind; the test then sets user_version and writes
// that version's rows itself.
inline void migrateSqliteTo(sqlite3* db, int version) {
  for (const Migration& migration : migrations()) {
    if (migration.version > version) break;
    ASSERT_EQ(sqlite3_exec(db, migration.sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  }
}

}  // namespace sipwarden::archive::testing
