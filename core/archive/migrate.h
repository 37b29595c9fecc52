#pragma once
// `sipwarden archive migrate`: copies a SQLite archive into a PostgreSQL one,
// keeping every id, hash and final-code record, so that the copied chain
// verifies as it did in the file. The SQLite chain becomes one hop's chain
// (`hopId`) in the shared archive. The file is left as it was.

#include <cstdint>
#include <functional>
#include <string>

namespace sipwarden::archive {

struct MigrateCounts {
  std::int64_t conversations = 0, messages = 0, tombstones = 0, outcomes = 0, calls = 0, fileTransfers = 0,
               holds = 0, audit = 0;
};

// Throws ArchiveError: an unsupported pair of backends, a target that
// already holds an archive (ids would collide), or a failure on either side
// (nothing is committed then: the copy is one transaction).
MigrateCounts migrateArchive(const std::string& fromUrl, const std::string& toUrl, const std::string& hopId,
                             const std::function<void(const std::string&)>& progress);

}  // namespace sipwarden::archive
