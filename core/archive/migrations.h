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

// Sorted by version, starting at 1: schemas/*.sql (SQLite).
const std::vector<Migration>& migrations();
// The same for schemas/postgresql/*.sql; versions count on their own.
const std::vector<Migration>& postgresMigrations();

}  // namespace sipwarden::archive
