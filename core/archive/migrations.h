#pragma once
// The archive's schema migrations, embedded from schemas/ at build time.

#include <string>
#include <vector>

namespace sipwarden::archive {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Sorted by version, starting at 1.
const std::vector<Migration>& migrations();

}  // namespace sipwarden::archive
