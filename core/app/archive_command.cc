#include "app/archive_command.h"

#include <iostream>

#include "app/config.h"
#include "archive/store.h"

namespace sipwarden::app {
namespace {

constexpr const char* kUsage = "usage: sipwarden archive verify (--db FILE | --config FILE)\n";

}  // namespace

int archiveCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "verify") {
    std::cerr << kUsage;
    return 2;
  }
  std::string path;
  for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--db") {
      path = args[i + 1];
    } else if (args[i] == "--config") {
      path = loadConfigFile(args[i + 1]).archive.path;
      if (path.empty()) throw ConfigError(args[i + 1] + ": archive.path is not set");
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
  const archive::VerifyReport report = store.verify();
  if (report.ok) {
    std::cout << path << ": OK, " << report.rows << " messages, chain intact\n";
    return 0;
  }
  std::cout << path << ": TAMPERED at row " << report.firstBadId << " (" << report.rows
            << " rows checked): " << report.problem << "\n";
  return 3;
}

}  // namespace sipwarden::app
