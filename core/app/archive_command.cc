#include "app/archive_command.h"

#include <chrono>
#include <iostream>

#include "app/config.h"
#include "archive/store.h"

namespace sipwarden::app {
namespace {

constexpr const char* kUsage =
    "usage: sipwarden archive verify (--db FILE | --config FILE)\n"
    "       sipwarden archive hold (--db FILE | --config FILE) (--participant AOR | --conversation ID) [--release]\n"
    "       sipwarden archive purge (--db FILE | --config FILE) --older-than-days N\n";

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int archiveCommand(const std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "verify" && args[0] != "hold" && args[0] != "purge")) {
    std::cerr << kUsage;
    return 2;
  }
  std::string path;
  std::string kind;
  std::string value;
  bool release = false;
  int olderThanDays = -1;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const bool hasValue = i + 1 < args.size();
    if (args[i] == "--db" && hasValue) {
      path = args[++i];
    } else if (args[i] == "--config" && hasValue) {
      path = loadConfigFile(args[++i]).archive.path;
      if (path.empty()) throw ConfigError(args[i] + ": archive.path is not set");
    } else if (args[i] == "--participant" && hasValue) {
      kind = "participant";
      value = args[++i];
      if (value.starts_with("sip:")) value = value.substr(4);
    } else if (args[i] == "--conversation" && hasValue) {
      kind = "conversation";
      value = args[++i];
    } else if (args[i] == "--release") {
      release = true;
    } else if (args[i] == "--older-than-days" && hasValue) {
      olderThanDays = std::stoi(args[++i]);
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  archive::Store store(path);
  if (args[0] == "hold") {
    if (kind.empty()) {
      std::cerr << kUsage;
      return 2;
    }
    store.setHold(kind, value, !release, nowMs());
    std::cout << (release ? "released legal hold on " : "legal hold on ") << kind << " " << value << "\n";
    return 0;
  }
  if (args[0] == "purge") {
    if (olderThanDays < 0) {
      std::cerr << kUsage;
      return 2;
    }
    const std::int64_t cutoff = nowMs() - static_cast<std::int64_t>(olderThanDays) * 86400000LL;
    std::int64_t total = 0;
    for (;;) {
      store.begin();
      const std::int64_t purged = store.purgeBatch(cutoff, nowMs(), 500);
      store.commit();
      total += purged;
      if (purged < 500) break;
    }
    std::cout << "purged " << total << " messages older than " << olderThanDays << " days (held ones kept)\n";
    return 0;
  }
  const archive::VerifyReport report = store.verify();
  if (report.ok) {
    std::cout << path << ": OK, " << report.rows << " messages, chain intact; " << report.outcomes
              << " final codes sealed";
    if (report.unsealedCodes > 0) {
      std::cout << " (" << report.unsealedCodes << " older final codes predate schema 005 and are not covered)";
    }
    std::cout << "\n";
    return 0;
  }
  std::cout << path << ": TAMPERED at row " << report.firstBadId << " (" << report.rows
            << " rows checked): " << report.problem << "\n";
  return 3;
}

}  // namespace sipwarden::app
