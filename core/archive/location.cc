#include "archive/pg.h"
#include "archive/postgres_store.h"
#include "archive/sqlite_store.h"
#include "archive/store.h"

namespace sipwarden::archive {

ArchiveLocation parseArchiveLocation(const std::string& url) {
  ArchiveLocation location;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    location.kind = ArchiveLocation::Kind::kPostgres;
    location.target = url;
    return location;
  }
  if (url.starts_with("sqlite://")) {
    location.target = url.substr(9);  // sqlite:///abs/path -> /abs/path
  } else if (url.starts_with("sqlite:")) {
    location.target = url.substr(7);  // sqlite:relative/path
  } else if (const auto scheme = url.find("://"); scheme != std::string::npos) {
    throw ArchiveError("unknown archive scheme '" + url.substr(0, scheme) +
                       "': use sqlite:///path/to/file.db or postgresql://user@host/db");
  } else {
    location.target = url;
  }
  if (location.target.empty()) throw ArchiveError("the archive URL names no file");
  return location;
}

std::string redactedLocation(const std::string& url) { return pg::redact(url); }

std::unique_ptr<Store> openStore(const std::string& url, const StoreOptions& options) {
  const ArchiveLocation location = parseArchiveLocation(url);
  if (location.postgres()) return std::make_unique<PostgresStore>(location.target, options);
  return std::make_unique<SqliteStore>(location.target, options.conversationGapMs, options.maxPages);
}

}  // namespace sipwarden::archive
