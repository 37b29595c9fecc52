// The archive's tamper-evidence records that verify reads from places an
// attacker may write: a checkpoint line (the checkpoint file), a stored
// Merkle frontier (chain_head.frontier), and the query text of hold and
// purge records (the audit table). None may crash or hang the verifier;
// a frontier that parses must serialize back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "archive/audit_trail.h"
#include "archive/checkpoint.h"
#include "archive/merkle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (const auto checkpoint = sipwarden::archive::parseCheckpointLine(input, error)) {
    (void)sipwarden::archive::canonicalCheckpoint(*checkpoint);
  }
  if (const auto frontier = sipwarden::archive::merkle::Frontier::parse(input)) {
    if (frontier->serialize() != input) std::abort();
    (void)frontier->root();
  }
  for (const char* action : {"purge", "hold", "release"}) {
    sipwarden::archive::VerifyReport report;
    sipwarden::archive::AuditTrailCheck trail(report, 1);
    const sipwarden::archive::AuditEntry entry{0, "fuzz", action, input, 3};
    trail.record(1, entry, sipwarden::archive::auditHash("", 1, entry), "");
    trail.holds({});
    trail.tombstones({{1, "a"}, {2, "b"}, {3, "c"}});
  }
  return 0;
}
