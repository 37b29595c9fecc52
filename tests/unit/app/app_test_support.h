#pragma once
// For tests of the app's commands: a scratch directory for their files
// (configs, keys, cases), a command run with its output captured, and an
// archive to run it on.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "query/query_test_support.h"

namespace sipwarden::app::testing {

// A fresh directory under the temporary directory, removed with its files.
class ScratchDir {
 public:
  ScratchDir() : path_((std::filesystem::temp_directory_path() / "sipwarden-app-XXXXXX").string()) {
    if (!::mkdtemp(path_.data())) throw std::runtime_error("mkdtemp " + path_ + " failed");
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `text` to NAME (which may name subdirectories) and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const std::filesystem::path file = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }

 private:
  std::string path_;
};

// What a command (main's handler for "query", "archive", ...) returned and printed.
struct Printed {
  int status;
  std::string out;
  std::string err;
};

inline Printed runCommand(int (*command)(const std::vector<std::string>&), const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int status = command(args);
  std::string out = ::testing::internal::GetCapturedStdout();
  return {status, std::move(out), ::testing::internal::GetCapturedStderr()};
}

// An archive with two conversations: alice to bob (call-1) and carol to dave
// (call-2), a second apart, on 2026-11-02.
class TwoConversations : public ::testing::Test {
 protected:
  static constexpr std::int64_t kT = 1'793'610'000'000;  // 2026-11-02T09:00:00Z
  void SetUp() override {
    db.add(kT, "alice@example.com", "bob@example.com", "the quarterly report is ready", "call-1");
    db.add(kT + 1000, "carol@example.com", "dave@example.com", "lunch?", "call-2");
  }
  query::testing::TempArchive db;
};

}  // namespace sipwarden::app::testing
