#pragma once
// Verifiable exports (issue 18): beside the EML, JSON or HTML files,
// `sipwarden export --checkpoints DIR` writes proofs.json: for every
// exported message its row as chained (every field the hash covers), the
// hash before it, its place in the hop's message chain and an RFC 9162
// inclusion proof against the Merkle root of the newest signed checkpoint
// the archive extends, with that checkpoint. `sipwarden export verify DIR
// --public-key FILE` then checks an export without the archive: each
// checkpoint's signature, each message's hash and proof, and each exported
// file byte for byte against what its proven messages render to.
//
// Each row written since schema 008 also links the row before it in its
// conversation, so a message left out between two exported ones is named.
// What is not proven: a message's final code (a second chain without a
// tree), the conversation's summary fields (start, counts, hold), and
// messages left out after the last exported one (the tree commits to no
// conversation's newest row); earlier messages left out are reported.

#include <cstdint>
#include <string>
#include <vector>

#include "query/export.h"
#include "query/reader.h"

namespace sipwarden::query {

// Collects what an export wrote, then writes proofs.json. Used by
// `sipwarden export` after each transcript it exported.
class ExportProofs {
 public:
  ExportProofs(std::string url, std::string checkpoints, ExportFormat format)
      : url_(std::move(url)), checkpoints_(std::move(checkpoints)), format_(format) {}
  void add(const std::string& fileName, const Transcript& transcript);
  struct Result {
    std::int64_t proven = 0;
    std::vector<std::int64_t> unproven;  // newer than the newest checkpoint
    std::string checkpointTime;          // of the newest checkpoint used, ISO UTC
  };
  // Writes DIR/proofs.json. Throws ArchiveReadError when the checkpoints
  // cannot be read or the archive does not extend them.
  Result finish(const std::string& dir);

 private:
  struct File {
    std::string name;
    ConversationRow conversation;
    std::vector<std::pair<std::int64_t, int>> messages;  // id, final code
  };
  std::string url_;
  std::string checkpoints_;
  ExportFormat format_;
  std::vector<File> files_;
};

struct ExportVerifyReport {
  bool ok = true;
  std::string problem;
  std::int64_t messages = 0;
  std::int64_t files = 0;
  std::int64_t checkpoints = 0;
  // Messages written before schema 008: their hash does not cover their
  // conversation, so which file they belong in is not proven.
  std::int64_t unboundMessages = 0;
  // Files whose first message is not its conversation's first: earlier
  // messages were purged, or not exported.
  std::int64_t earlierMessagesOmitted = 0;
};

// Checks DIR against `publicKey` (a PEM file) without the archive. Throws
// ArchiveReadError only when DIR or the key cannot be read at all.
ExportVerifyReport verifyExport(const std::string& dir, const std::string& publicKey);

}  // namespace sipwarden::query
