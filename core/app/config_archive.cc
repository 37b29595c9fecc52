// The "archive" block: where messages are kept, how they are batched and
// kept, and the signed checkpoints over them.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "app/config_blocks.h"
#include "archive/store.h"

namespace sipwarden::app {
namespace {

using config::Reader;

// archive.checkpoints (docs/archive.md, "Signed checkpoints"). The key is
// checked here, like ssh checks its keys, so that a key others can read
// stops the hop at start with the setting named.
archive::CheckpointSettings readCheckpoints(Reader& block) {
  block.refuseUnknown({"key", "dir", "every_rows", "every_seconds", "syslog", "post_url"});
  archive::CheckpointSettings settings;
  if (!block.has("key")) block.fail("key", "expected the path of the private key (sipwarden archive keygen)");
  if (!block.has("dir")) block.fail("dir", "expected the directory the checkpoints are written to");
  settings.keyPath = block.getString("key", "");
  settings.dir = block.getString("dir", "");
  if (settings.keyPath.empty()) block.fail("key", "expected the path of the private key");
  if (settings.dir.empty()) block.fail("dir", "expected a directory");
  struct stat info {};
  if (::stat(settings.keyPath.c_str(), &info) != 0) block.fail("key", settings.keyPath + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) block.fail("key", settings.keyPath + " is not a file");
  if ((info.st_mode & 077) != 0) {
    block.fail("key", settings.keyPath +
                          " may be read by group or others: chmod 600 it (like ssh, a key others can read is refused)");
  }
  std::error_code error;
  if (!std::filesystem::is_directory(settings.dir, error)) block.fail("dir", settings.dir + " is not a directory");
  settings.everyRows = block.getInteger("every_rows", settings.everyRows, 1, 100000000);
  settings.every = std::chrono::seconds(block.getInteger("every_seconds", settings.every.count(), 1, 86400));
  settings.syslog = block.getBool("syslog", settings.syslog);
  if (block.has("post_url")) {
    settings.postUrl = block.getString("post_url", "");
    const bool http = settings.postUrl.starts_with("http://") || settings.postUrl.starts_with("https://");
    if (!http || settings.postUrl.find_first_of(" \r\n") != std::string::npos) {
      block.fail("post_url", "expected an http:// or https:// URL");
    }
  }
  return settings;
}

// url (any backend) or path (a SQLite file), never both.
void readLocation(Reader& block, archive::WriterSettings& settings) {
  if (block.has("url") && block.has("path")) block.fail("url", "give url or path, not both");
  if (block.has("url")) {
    settings.url = block.getString("url", "");
    try {
      archive::parseArchiveLocation(settings.url);
    } catch (const archive::ArchiveError& error) {
      block.fail("url", error.what());
    }
  } else {
    settings.url = block.requireString("path");
    if (settings.url.empty()) block.fail("path", "expected the SQLite file's path");
  }
}

}  // namespace

void readArchive(Reader& top, archive::WriterSettings& settings) {
  Reader* block = top.getObject("archive");
  if (!block) return;
  block->refuseUnknown({"url", "path", "hop_id", "batch_rows", "batch_ms", "queue_limit", "conversation_gap_minutes",
                        "max_pages", "retention_days", "checkpoints"});
  readLocation(*block, settings);
  if (block->has("hop_id")) {
    settings.hopId = block->getString("hop_id", "");
    if (settings.hopId.empty()) block->fail("hop_id", "expected a non-empty name");
  }
  settings.batchRows = static_cast<std::size_t>(
      block->getInteger("batch_rows", static_cast<std::int64_t>(settings.batchRows), 1, 100000));
  settings.batchTime = std::chrono::milliseconds(block->getInteger("batch_ms", settings.batchTime.count(), 0, 10000));
  settings.queueLimit = static_cast<std::size_t>(
      block->getInteger("queue_limit", static_cast<std::int64_t>(settings.queueLimit), 1, 10000000));
  if (block->has("conversation_gap_minutes")) {
    settings.conversationGapMs = block->getInteger("conversation_gap_minutes", 0, 1, 100000) * 60000;
  }
  settings.retentionDays = static_cast<int>(block->getInteger("retention_days", settings.retentionDays, 0, 36500));
  settings.maxPages = block->getInteger("max_pages", settings.maxPages, 0, 1LL << 40);
  if (Reader* checkpoints = block->getObject("checkpoints")) settings.checkpoints = readCheckpoints(*checkpoints);
}

}  // namespace sipwarden::app
