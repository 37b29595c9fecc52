#include "archive/audit_trail.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <charconv>

namespace sipwarden::archive {
namespace {

std::string encode(const std::string& value) {
  std::string out;
  Poco::URI::encode(value, "&=+#?%", out);
  return out;
}

std::map<std::string, std::string> decodeQuery(const std::string& query) {
  std::map<std::string, std::string> fields;
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, end - start);
    const std::size_t equals = pair.find('=');
    std::string key = pair.substr(0, equals);
    std::string value;
    if (equals != std::string::npos) {
      try {
        Poco::URI::decode(pair.substr(equals + 1), value);
      } catch (const Poco::Exception&) {
        value = pair.substr(equals + 1);
      }
    }
    fields[key] = value;
    start = end + 1;
  }
  return fields;
}

std::string digestOf(const std::vector<std::string>& hashes) {
  std::string all;
  for (const std::string& hash : hashes) all += hash;
  return sha256Hex(all);
}

// "1-20,25" -> ids; false for anything else (or more than `limit` ids).
bool parseRanges(const std::string& text, std::vector<std::int64_t>& ids, std::size_t limit) {
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const std::size_t dash = part.find('-');
    std::int64_t low = 0;
    std::int64_t high = 0;
    const std::string lowText = part.substr(0, dash);
    const std::string highText = dash == std::string::npos ? lowText : part.substr(dash + 1);
    if (std::from_chars(lowText.data(), lowText.data() + lowText.size(), low).ptr != lowText.data() + lowText.size() ||
        std::from_chars(highText.data(), highText.data() + highText.size(), high).ptr !=
            highText.data() + highText.size() ||
        lowText.empty() || highText.empty() || low > high || static_cast<std::size_t>(high - low) >= limit) {
      return false;
    }
    for (std::int64_t id = low; id <= high; ++id) {
      if (ids.size() >= limit) return false;
      ids.push_back(id);
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

std::string holdRecordQuery(const std::string& kind, const std::string& value, const std::string& reason) {
  return "kind=" + encode(kind) + "&value=" + encode(value) + "&reason=" + encode(reason);
}

std::string purgeRecordQuery(const std::string& rule, std::int64_t cutoffMs,
                             const std::vector<std::pair<std::int64_t, std::string>>& idsAndHashes) {
  std::string ranges;
  std::vector<std::string> hashes;
  for (std::size_t i = 0; i < idsAndHashes.size();) {
    std::size_t j = i;
    while (j + 1 < idsAndHashes.size() && idsAndHashes[j + 1].first == idsAndHashes[j].first + 1) ++j;
    if (!ranges.empty()) ranges += ',';
    ranges += std::to_string(idsAndHashes[i].first);
    if (j > i) ranges += "-" + std::to_string(idsAndHashes[j].first);
    for (std::size_t k = i; k <= j; ++k) hashes.push_back(idsAndHashes[k].second);
    i = j + 1;
  }
  return "rule=" + encode(rule) + "&cutoff_ms=" + std::to_string(cutoffMs) + "&ids=" + ranges +
         "&digest=" + digestOf(hashes);
}

void AuditTrailCheck::fail(std::int64_t id, std::string problem) {
  if (!report_.ok) return;
  report_.ok = false;
  report_.firstBadId = id;
  report_.problem = std::move(problem);
}

bool AuditTrailCheck::record(std::int64_t id, const AuditEntry& entry, const std::string& storedHash,
                             const std::string& signature) {
  if (id < fromId_) {
    // Records from before schema 008 were written without a hash. One with
    // a hash down here was chained, and from_id was raised over it to take
    // it out of the chain.
    if (!storedHash.empty()) {
      fail(0, "audit record " + std::to_string(id) + " is chained but lies below the trail's start (audit_head.from_id " +
                  std::to_string(fromId_) + "): the start was moved to take records out of the chain");
      return false;
    }
    ++report_.unchainedAudit;
    return true;
  }
  ++chained_;
  ++report_.auditRecords;
  if (auditHash(previous_, id, entry) != storedHash) {
    fail(0, "audit record " + std::to_string(id) +
                 " does not match its hash: it was edited, or a record before it was inserted or deleted");
    return false;
  }
  previous_ = storedHash;
  lastId_ = id;
  if (entry.action == "hold" || entry.action == "release") {
    const auto fields = decodeQuery(entry.query);
    const auto kind = fields.find("kind");
    const auto value = fields.find("value");
    if (kind == fields.end() || value == fields.end()) {
      fail(0, "audit record " + std::to_string(id) + " is a hold record without its kind and value");
      return false;
    }
    if (entry.action == "hold") {
      held_.insert({kind->second, value->second});
    } else {
      held_.erase({kind->second, value->second});
    }
  } else if (entry.action == "purge") {
    const auto fields = decodeQuery(entry.query);
    Purge purge{id, {}, fields.count("digest") ? fields.at("digest") : ""};
    // A purge batch lists at most a few thousand ids; the bound keeps a
    // forged "1-999999999999" from taking the verifier's memory.
    if (!fields.count("ids") || !parseRanges(fields.at("ids"), purge.ids, 1'000'000) ||
        static_cast<std::int64_t>(purge.ids.size()) != entry.results) {
      fail(0, "audit record " + std::to_string(id) + " is a purge record whose list of rows cannot be read");
      return false;
    }
    report_.purgeRecords++;
    report_.purgeSeals.push_back(PurgeRecordSeal{id, storedHash, signature, entry.who});
    if (signature.empty()) {
      const std::int64_t cutoff = fields.count("cutoff_ms") ? std::atoll(fields.at("cutoff_ms").c_str()) : 0;
      report_.handPurges.push_back("record " + std::to_string(id) + " by " + entry.who + ": " +
                                   std::to_string(purge.ids.size()) + " rows older than " +
                                   std::to_string((entry.timeMs - cutoff) / 86400000) + " days");
    }
    purgeLists_.push_back(std::move(purge));
  }
  return true;
}

void AuditTrailCheck::head(std::int64_t headId, const std::string& headHash, std::int64_t headRows) {
  if (!report_.ok) return;
  if (headId == lastId_ && headHash == previous_ && headRows == chained_) return;
  fail(0, "the audit trail ends at record " + std::to_string(lastId_) + " but the archive recorded record " +
                        std::to_string(headId) + " (" + std::to_string(headRows) +
                        " records) as its last: records were deleted or the head was altered");
}

void AuditTrailCheck::holds(const std::set<std::pair<std::string, std::string>>& table) {
  if (!report_.ok) return;
  report_.holds = static_cast<std::int64_t>(held_.size());
  for (const auto& hold : held_) {
    if (!table.count(hold)) {
      fail(0, "the legal hold on " + hold.first + " " + hold.second +
                  " is in the audit trail but not in the holds table: it was deleted without a release record");
      return;
    }
  }
  for (const auto& hold : table) {
    if (!held_.count(hold)) {
      fail(0, "the legal hold on " + hold.first + " " + hold.second + " has no hold record in the audit trail");
      return;
    }
  }
}

void AuditTrailCheck::tombstones(const std::vector<std::pair<std::int64_t, std::string>>& tombstones) {
  if (!report_.ok) return;
  std::map<std::int64_t, const std::string*> hashOf;
  for (const auto& [id, hash] : tombstones) hashOf[id] = &hash;
  std::set<std::int64_t> accounted;
  for (const Purge& purge : purgeLists_) {
    std::vector<std::string> hashes;
    for (const std::int64_t id : purge.ids) {
      const auto tombstone = hashOf.find(id);
      if (tombstone == hashOf.end()) {
        fail(id, "purge record " + std::to_string(purge.record) + " lists row " + std::to_string(id) +
                     ", which has no tombstone: the tombstone was deleted");
        return;
      }
      if (!accounted.insert(id).second) {
        fail(id, "row " + std::to_string(id) + " is listed by two purge records");
        return;
      }
      hashes.push_back(*tombstone->second);
    }
    if (digestOf(hashes) != purge.digest) {
      fail(purge.ids.empty() ? 0 : purge.ids.front(),
           "the tombstones purge record " + std::to_string(purge.record) +
               " lists do not have the hashes it recorded: a tombstone was replaced");
      return;
    }
  }
  report_.purgedRows = static_cast<std::int64_t>(accounted.size());
  for (const auto& [id, hash] : tombstones) {
    if (!accounted.count(id)) {
      fail(id, "row " + std::to_string(id) +
                   " is a tombstone that no purge record accounts for: it was deleted by hand, not purged");
      return;
    }
  }
}

}  // namespace sipwarden::archive
