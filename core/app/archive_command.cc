#include "app/archive_command.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>

#include "app/cli_user.h"
#include "app/config.h"
#include "archive/checkpoint.h"
#include "archive/migrate.h"
#include "archive/store.h"

namespace sipwarden::app {
namespace {

constexpr const char* kUsage =
    "usage: sipwarden archive verify (--db FILE|URL | --config FILE) [--checkpoints DIR|FILE --public-key FILE]\n"
    "       sipwarden archive keygen --out FILE\n"
    "       sipwarden archive hold (--db FILE|URL | --config FILE) (--participant AOR | --conversation ID) [--release] [--reason TEXT]\n"
    "       sipwarden archive purge (--db FILE|URL | --config FILE) --older-than-days N\n"
    "       sipwarden archive migrate --from sqlite:///FILE --to postgresql://... [--hop ID]\n";

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The copied chain keeps its hashes; by default it is named after the file.
int migrateCommand(const std::vector<std::string>& args) {
  std::string from;
  std::string to;
  std::string hop;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const bool hasValue = i + 1 < args.size();
    if (args[i] == "--from" && hasValue) {
      from = args[++i];
    } else if (args[i] == "--to" && hasValue) {
      to = args[++i];
    } else if (args[i] == "--hop" && hasValue) {
      hop = args[++i];
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (from.empty() || to.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  if (hop.empty()) hop = "migrated:" + std::filesystem::path(archive::parseArchiveLocation(from).target).stem().string();
  const auto counts = archive::migrateArchive(from, to, hop, [](const std::string& line) { std::cout << "  " << line << "\n"; });
  std::cout << "copied " << counts.messages << " messages in " << counts.conversations << " conversations and "
            << counts.calls << " calls into " << archive::redactedLocation(to) << " as hop " << hop << "\n";
  const std::unique_ptr<archive::Store> target = archive::openStore(to, archive::StoreOptions{});
  const archive::VerifyReport report = target->verify();
  if (!report.ok) {
    std::cout << "the copy does not verify: " << report.problem << "\n";
    return 3;
  }
  std::cout << "verified: " << report.rows << " messages in " << report.chains << " chains intact; the file is unchanged\n";
  return 0;
}

// FILE gets the private key (mode 0600, never over an existing file),
// FILE.pub the public one, which is what verify needs.
int keygenCommand(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[1] != "--out" || args[2].empty()) {
    std::cerr << kUsage;
    return 2;
  }
  try {
    archive::CheckpointKey::generate(args[2]);
  } catch (const archive::ArchiveError& error) {
    std::cerr << "sipwarden archive keygen: " << error.what() << "\n";
    return 1;
  }
  std::cout << "wrote the Ed25519 private key to " << args[2] << " (mode 0600: only the hop may read it) and its public key to "
            << args[2] << ".pub (for archive verify --public-key)\n";
  return 0;
}

}  // namespace

int archiveCommand(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "migrate") return migrateCommand(args);
  if (!args.empty() && args[0] == "keygen") return keygenCommand(args);
  if (args.empty() || (args[0] != "verify" && args[0] != "hold" && args[0] != "purge")) {
    std::cerr << kUsage;
    return 2;
  }
  std::string path;
  std::string kind;
  std::string value;
  std::string reason;
  bool release = false;
  int olderThanDays = -1;
  std::string checkpoints;
  std::string publicKey;
  std::string configCheckpoints;  // from --config: used unless given
  std::string configPublicKey;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const bool hasValue = i + 1 < args.size();
    if (args[i] == "--db" && hasValue) {
      path = args[++i];
    } else if (args[i] == "--config" && hasValue) {
      const auto config = loadConfigFile(args[++i]);
      path = config.archive.url;
      if (path.empty()) throw ConfigError(args[i] + ": archive.url (or archive.path) is not set");
      // The hop's own checkpoints, and the public key keygen wrote beside
      // its private key: `verify --config` checks what the hop signed.
      configCheckpoints = config.archive.checkpoints.dir;
      if (!config.archive.checkpoints.keyPath.empty()) configPublicKey = config.archive.checkpoints.keyPath + ".pub";
    } else if (args[i] == "--participant" && hasValue) {
      kind = "participant";
      value = args[++i];
      if (value.starts_with("sip:")) value = value.substr(4);
    } else if (args[i] == "--conversation" && hasValue) {
      kind = "conversation";
      value = args[++i];
    } else if (args[i] == "--release") {
      release = true;
    } else if (args[i] == "--reason" && hasValue) {
      reason = args[++i];
    } else if (args[i] == "--checkpoints" && hasValue && args[0] == "verify") {
      checkpoints = args[++i];
    } else if (args[i] == "--public-key" && hasValue && args[0] == "verify") {
      publicKey = args[++i];
    } else if (args[i] == "--older-than-days" && hasValue) {
      olderThanDays = std::stoi(args[++i]);
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (args[0] == "verify" && checkpoints.empty() && publicKey.empty() && !configCheckpoints.empty()) {
    checkpoints = configCheckpoints;
    publicKey = configPublicKey;
  }
  if (path.empty() || checkpoints.empty() != publicKey.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  // Read before the archive is opened: a wrong path is a usage error, never
  // an OK without checkpoints.
  std::optional<archive::CheckpointKey> key;
  std::vector<std::string> checkpointFiles;
  if (!checkpoints.empty()) {
    try {
      key.emplace(archive::CheckpointKey::loadPublic(publicKey));
      checkpointFiles = archive::checkpointFiles(checkpoints);
    } catch (const archive::ArchiveError& error) {
      std::cerr << "sipwarden archive verify: " << error.what() << "\n";
      return 2;
    }
  }
  const std::unique_ptr<archive::Store> opened = archive::openStore(path, archive::StoreOptions{});
  archive::Store& store = *opened;
  const std::string shown = archive::redactedLocation(path);
  if (args[0] == "hold") {
    if (kind.empty()) {
      std::cerr << kUsage;
      return 2;
    }
    store.setHold(kind, value, !release, nowMs(), localUser(), reason);
    std::cout << (release ? "released legal hold on " : "legal hold on ") << kind << " " << value << "\n";
    return 0;
  }
  if (args[0] == "purge") {
    if (olderThanDays < 0) {
      std::cerr << kUsage;
      return 2;
    }
    const std::int64_t cutoff = nowMs() - static_cast<std::int64_t>(olderThanDays) * 86400000LL;
    // Recorded in the audit trail as a purge by hand, unsigned: verify
    // names it, so a purge of recent rows is seen for what it is.
    store.setPurgeIdentity(localUser(), "by hand, older than " + std::to_string(olderThanDays) + " days");
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
  archive::VerifyReport report = store.verify();
  if (report.ok && key) archive::verifyCheckpoints(store, checkpointFiles, *key, report);
  if (report.ok) {
    std::cout << shown << ": OK, " << report.rows << " messages, " << report.chains
              << (report.chains == 1 ? " chain" : " chains") << " intact; " << report.outcomes
              << " final codes sealed";
    if (key) std::cout << "; extends all " << report.checkpoints << " signed checkpoints";
    if (report.unsealedCodes > 0) {
      std::cout << " (" << report.unsealedCodes << " older final codes predate schema 005 and are not covered)";
    }
    std::cout << "; audit trail: " << report.auditRecords << " records chained, " << report.holds
              << " holds and " << report.purgedRows << " purged rows accounted for by " << report.purgeRecords
              << " purge records";
    if (report.unchainedAudit > 0) std::cout << " (" << report.unchainedAudit << " records predate schema 008)";
    if (report.conversationsFromId > 1) {
      std::cout << "; conversations are covered from row " << report.conversationsFromId << " on (schema 008)";
    }
    std::cout << "\n";
    // Purges by hand are lawful only if someone meant them: each is named.
    for (const std::string& purge : report.handPurges) std::cout << "  purge by hand: " << purge << "\n";
    if (!key) {
      const auto signedPurges = std::count_if(report.purgeSeals.begin(), report.purgeSeals.end(),
                                              [](const archive::PurgeRecordSeal& seal) { return !seal.signature.empty(); });
      if (signedPurges > 0) {
        std::cout << "  " << signedPurges
                  << " purge records carry a hop's signature, not checked without --checkpoints and --public-key\n";
      }
    }
    // Final codes that changed after they were final: the newest is shown.
    for (const std::string& codes : report.changedFinalCodes) std::cout << "  final code changed: " << codes << "\n";
    return 0;
  }
  if (report.badCheckpoint > 0) {
    std::cout << shown << ": TAMPERED at " << report.problem;
    if (report.firstBadId > 0) std::cout << "; the first suspect row is " << report.firstBadId;
    std::cout << " (" << report.rows << " rows and " << report.checkpoints << " checkpoints checked before)\n";
    return 3;
  }
  std::cout << shown << ": TAMPERED at ";
  if (report.firstBadId > 0) {
    std::cout << "row " << report.firstBadId;
  } else {
    std::cout << "the audit trail or the final codes";
  }
  std::cout << " (" << report.rows << " rows checked): " << report.problem << "\n";
  return 3;
}

}  // namespace sipwarden::app
