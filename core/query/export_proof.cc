#include "query/export_proof.h"

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "archive/hash_chain.h"
#include "archive/checkpoint.h"
#include "archive/merkle.h"
#include "query/connection.h"
#include "query/json.h"

namespace sipwarden::query {
namespace {

constexpr const char* kProofsFile = "proofs.json";
constexpr const char* kLabel = "sipwarden-export-proofs-v1";

std::string fromBase64(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  return std::string((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ArchiveReadError("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A record's strings by their name in proofs.json, for writing (const
// MessageRecord) and reading back (MessageRecord).
template <class Record>
auto recordStrings(Record& r) {
  using Field = decltype(&r.direction);
  return std::array<std::pair<const char*, Field>, 18>{{
      {"direction", &r.direction},     {"sender", &r.sender},
      {"sender_name", &r.senderName},  {"recipient", &r.recipient},
      {"recipient_name", &r.recipientName}, {"call_id", &r.callId},
      {"content_type", &r.contentType}, {"text", &r.text},
      {"original_text", &r.originalText}, {"verdict", &r.verdict},
      {"rules", &r.rules},             {"tags", &r.tags},
      {"source", &r.source},           {"transport", &r.transport},
      {"raw_body", &r.rawBody},        {"received_content_type", &r.receivedContentType},
      {"content_encoding", &r.contentEncoding}, {"unreadable", &r.unreadable}}};
}

// Every string of a record as base64: proofs.json must give back the exact
// bytes that were hashed, whatever they are.
std::string recordJson(const MessageRecord& r) {
  std::string out = "{\"time_ms\":" + std::to_string(r.timeMs) + ",\"cseq\":" + std::to_string(r.cseq);
  for (const auto& [name, value] : recordStrings(r)) out += std::string(",\"") + name + "\":\"" + base64(*value) + "\"";
  return out + "}";
}

std::string conversationJson(const ConversationRow& c) {
  return "{\"id\":" + std::to_string(c.id) + ",\"kind\":\"" + base64(c.kind) + "\",\"call_id\":\"" + base64(c.callId) +
         "\",\"participants\":\"" + base64(c.participants) + "\",\"started_ms\":" + std::to_string(c.startedMs) +
         ",\"last_ms\":" + std::to_string(c.lastMs) + ",\"messages\":" + std::to_string(c.messages) +
         ",\"blocked\":" + std::to_string(c.blocked) + ",\"modified\":" + std::to_string(c.modified) +
         ",\"legal_hold\":" + (c.legalHold ? "true" : "false") + "}";
}

// A chain as the proofs need it: each leaf's id and raw hash, in order.
struct Chain {
  std::vector<std::pair<std::int64_t, std::string>> leaves;
  std::vector<std::string> leafHashes;
  std::map<std::int64_t, std::uint64_t> indexOf;
  std::int64_t conversationsFromId = 0;
};

Chain readChain(Connection& db, const std::string& hop) {
  Chain chain;
  const bool postgres = db.dialect() == Dialect::kPostgres;
  auto rows = postgres ? db.query("SELECT id, hash FROM messages WHERE hop_id = ? UNION ALL SELECT id, hash FROM "
                                  "tombstones WHERE hop_id = ? ORDER BY 1",
                                  {hop, hop})
                       : db.query("SELECT id, hash FROM messages UNION ALL SELECT id, hash FROM tombstones ORDER BY 1", {});
  while (rows->step()) {
    chain.indexOf[rows->integer(0)] = chain.leaves.size();
    chain.leaves.emplace_back(rows->integer(0), archive::fromHex(rows->text(1)));
    chain.leafHashes.push_back(archive::merkle::leafHash(chain.leaves.back().second));
  }
  auto from = postgres ? db.query("SELECT conversations_from_id FROM chain_head WHERE hop_id = ?", {hop})
                       : db.query("SELECT conversations_from_id FROM chain_head WHERE id = 1", {});
  if (from->step()) chain.conversationsFromId = from->integer(0);
  return chain;
}

// Every signed checkpoint of FILE or DIR (signatures are checked by the
// reader of the export, who has the public key).
std::vector<std::pair<archive::Checkpoint, std::string>> readCheckpoints(const std::string& fileOrDir) {
  std::vector<std::pair<archive::Checkpoint, std::string>> all;
  for (const std::string& file : archive::checkpointFiles(fileOrDir)) {
    std::istringstream lines(readAll(file));
    for (std::string line; std::getline(lines, line);) {
      std::string error;
      if (auto checkpoint = archive::parseCheckpointLine(line, error); checkpoint && checkpoint->version >= 2) {
        all.emplace_back(std::move(*checkpoint), line);
      }
    }
  }
  return all;
}

}  // namespace

void ExportProofs::add(const std::string& fileName, const Transcript& transcript) {
  File file{fileName, transcript.conversation, {}};
  for (const MessageRow& m : transcript.messages) file.messages.emplace_back(m.id, m.finalCode);
  files_.push_back(std::move(file));
}

ExportProofs::Result ExportProofs::finish(const std::string& dir) {
  std::unique_ptr<Connection> db = openConnection(url_);
  const bool postgres = db->dialect() == Dialect::kPostgres;
  std::vector<std::pair<archive::Checkpoint, std::string>> checkpoints;
  try {
    checkpoints = readCheckpoints(checkpoints_);
  } catch (const archive::ArchiveError& error) {
    throw ArchiveReadError(error.what());
  }
  // Newest first: the proofs lead to the newest checkpoint the archive
  // extends.
  std::sort(checkpoints.begin(), checkpoints.end(),
            [](const auto& a, const auto& b) { return a.first.heads.rows > b.first.heads.rows; });
  struct Entry {
    std::int64_t id;
    int finalCode;
    const File* file;
    std::string hop;
    MessageRecord record;
    std::int64_t conversationId;
    std::string hash;
    std::string conversationPrevious;
  };
  std::vector<Entry> entries;
  const std::string select = std::string("SELECT ") + archive::MessageChainCheck::rowColumns(postgres) +
                             (postgres ? ", hop_id" : ", ''") + " FROM messages WHERE id = ?";
  for (const File& file : files_) {
    for (const auto& [id, finalCode] : file.messages) {
      auto row = db->query(select, {id});
      if (!row->step()) throw ArchiveReadError("message " + std::to_string(id) + " left the archive during the export");
      entries.push_back(Entry{id, finalCode, &file, row->text(26), archive::MessageChainCheck::recordOf(*row),
                              row->integer(24), row->text(22), row->text(25)});
    }
  }
  std::map<std::string, Chain> chains;
  std::map<std::string, std::size_t> checkpointOf;  // hop -> index in `checkpoints`
  for (const Entry& entry : entries) {
    if (chains.count(entry.hop)) continue;
    Chain& chain = chains[entry.hop] = readChain(*db, entry.hop);
    for (std::size_t i = 0; i < checkpoints.size(); ++i) {
      const archive::Checkpoint& checkpoint = checkpoints[i].first;
      if (postgres && checkpoint.hop != entry.hop) continue;
      const auto size = static_cast<std::uint64_t>(checkpoint.heads.rows);
      if (size == 0 || size > chain.leafHashes.size()) continue;
      if (archive::toHex(archive::merkle::rootOf(chain.leafHashes, size)) == checkpoint.heads.treeRoot) {
        checkpointOf[entry.hop] = i;
        break;
      }
    }
  }
  Result result;
  std::map<std::string, std::vector<std::uint64_t>> wanted;
  for (const Entry& entry : entries) {
    const Chain& chain = chains[entry.hop];
    const auto found = checkpointOf.find(entry.hop);
    if (found == checkpointOf.end() ||
        chain.indexOf.at(entry.id) >= static_cast<std::uint64_t>(checkpoints[found->second].first.heads.rows)) {
      result.unproven.push_back(entry.id);
      continue;
    }
    wanted[entry.hop].push_back(chain.indexOf.at(entry.id));
  }
  std::map<std::string, std::map<std::uint64_t, std::vector<std::string>>> proofs;
  for (const auto& [hop, indexes] : wanted) {
    const auto size = static_cast<std::uint64_t>(checkpoints[checkpointOf[hop]].first.heads.rows);
    const auto paths = archive::merkle::inclusionProofs(chains[hop].leafHashes, indexes, size);
    for (std::size_t i = 0; i < indexes.size(); ++i) proofs[hop][indexes[i]] = paths[i];
  }
  std::string out = std::string("{\"format\":\"") + kLabel + "\",\"export_format\":\"" +
                    (format_ == ExportFormat::Eml ? "eml" : format_ == ExportFormat::Json ? "json" : "html") +
                    "\",\n\"checkpoints\":[";
  std::map<std::size_t, std::size_t> written;  // index in `checkpoints` -> index in the file
  for (const auto& [hop, index] : checkpointOf) {
    out += (written.empty() ? "" : ",") + jsonString(checkpoints[index].second);
    written[index] = written.size();
    result.checkpointTime = isoUtc(checkpoints[index].first.timeMs);
  }
  out += "],\n\"files\":[";
  for (std::size_t i = 0; i < files_.size(); ++i) {
    out += std::string(i ? ",\n" : "\n") + "{\"name\":" + jsonString(files_[i].name) +
           ",\"conversation\":" + conversationJson(files_[i].conversation) + "}";
  }
  out += "],\n\"messages\":[";
  bool first = true;
  for (const Entry& entry : entries) {
    const Chain& chain = chains[entry.hop];
    const std::uint64_t index = chain.indexOf.at(entry.id);
    const auto found = checkpointOf.find(entry.hop);
    const bool proven = found != checkpointOf.end() &&
                        index < static_cast<std::uint64_t>(checkpoints[found->second].first.heads.rows);
    out += std::string(first ? "\n" : ",\n") + "{\"id\":" + std::to_string(entry.id) +
           ",\"file\":" + jsonString(entry.file->name) + ",\"final_code\":" + std::to_string(entry.finalCode) +
           ",\"conversation_id\":" + std::to_string(entry.conversationId) +
           ",\"covers_conversation\":" + (entry.id >= chain.conversationsFromId ? "true" : "false") +
           ",\"conversation_previous\":\"" + entry.conversationPrevious + "\"" +
           ",\"hash\":\"" + entry.hash + "\",\"previous_hash\":\"" +
           (index == 0 ? std::string() : archive::toHex(chain.leaves[index - 1].second)) +
           "\",\"leaf_index\":" + std::to_string(index) + ",\"record\":" + recordJson(entry.record);
    if (proven) {
      out += ",\"checkpoint\":" + std::to_string(written.at(found->second)) + ",\"proof\":[";
      const auto& path = proofs[entry.hop][index];
      for (std::size_t i = 0; i < path.size(); ++i) out += std::string(i ? "," : "") + "\"" + archive::toHex(path[i]) + "\"";
      out += "]";
    }
    out += "}";
    first = false;
    if (proven) ++result.proven;
  }
  out += "]}\n";
  std::ofstream file(std::filesystem::path(dir) / kProofsFile, std::ios::binary | std::ios::trunc);
  file << out;
  if (!file.flush()) throw ArchiveReadError("cannot write " + dir + "/" + kProofsFile);
  return result;
}

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

ExportVerifyReport failed(ExportVerifyReport report, std::string problem) {
  report.ok = false;
  report.problem = std::move(problem);
  return report;
}

std::size_t occurrences(const std::string& haystack, const std::string& needle) {
  if (needle.empty()) return 0;
  std::size_t count = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++count;
  return count;
}

std::string rendered(const Transcript& t, const std::string& format) {
  if (format == "eml") return renderEml(t);
  if (format == "html") return renderHtml(t);
  return toJson(t) + "\n";
}

// How a message's text appears in a file of `format`.
std::string textAsRendered(const MessageRow& m, const std::string& format) {
  return format == "json" ? jsonString(m.text) : htmlEscape(m.text);
}

}  // namespace

ExportVerifyReport verifyExport(const std::string& dir, const std::string& publicKey) {
  ExportVerifyReport report;
  std::optional<archive::CheckpointKey> key;
  try {
    key.emplace(archive::CheckpointKey::loadPublic(publicKey));
  } catch (const archive::ArchiveError& error) {
    throw ArchiveReadError(error.what());
  }
  const std::string text = readAll((std::filesystem::path(dir) / kProofsFile).string());
  Object::Ptr root;
  try {
    root = Poco::JSON::Parser().parse(text).extract<Object::Ptr>();
  } catch (const Poco::Exception& error) {
    return failed(report, std::string(kProofsFile) + " is not JSON: " + error.displayText());
  } catch (const std::exception&) {
    return failed(report, std::string(kProofsFile) + " is not a JSON object");
  }
  try {
    if (!root || root->optValue<std::string>("format", "") != kLabel) {
      return failed(report, std::string(kProofsFile) + " is not a sipwarden export proof");
    }
    const std::string format = root->getValue<std::string>("export_format");
    std::vector<archive::Checkpoint> checkpoints;
    const Array::Ptr lines = root->getArray("checkpoints");
    for (std::size_t i = 0; lines && i < lines->size(); ++i) {
      std::string error;
      auto checkpoint = archive::parseCheckpointLine(lines->getElement<std::string>(static_cast<unsigned>(i)), error);
      if (!checkpoint || checkpoint->version < 2) return failed(report, "checkpoint " + std::to_string(i + 1) + " is unreadable: " + error);
      if (!key->verify(*checkpoint)) {
        return failed(report, "checkpoint " + std::to_string(i + 1) + " has a bad signature: it was not signed with this key, or it was edited");
      }
      checkpoints.push_back(std::move(*checkpoint));
      ++report.checkpoints;
    }
    // Each message: its record hashes to its hash, and the hash is in the
    // signed tree at its place.
    std::map<std::string, Transcript> transcripts;
    const Array::Ptr files = root->getArray("files");
    for (std::size_t i = 0; files && i < files->size(); ++i) {
      const Object::Ptr file = files->getObject(static_cast<unsigned>(i));
      const Object::Ptr c = file->getObject("conversation");
      ConversationRow conversation;
      conversation.id = c->getValue<std::int64_t>("id");
      conversation.kind = fromBase64(c->getValue<std::string>("kind"));
      conversation.callId = fromBase64(c->getValue<std::string>("call_id"));
      conversation.participants = fromBase64(c->getValue<std::string>("participants"));
      conversation.startedMs = c->getValue<std::int64_t>("started_ms");
      conversation.lastMs = c->getValue<std::int64_t>("last_ms");
      conversation.messages = c->getValue<std::int64_t>("messages");
      conversation.blocked = c->getValue<std::int64_t>("blocked");
      conversation.modified = c->getValue<std::int64_t>("modified");
      conversation.legalHold = c->getValue<bool>("legal_hold");
      const std::string name = file->getValue<std::string>("name");
      // A conversation's one file, named as the exporter names it: two
      // files of one conversation would each pass the link check alone.
      if (name != "conversation-" + std::to_string(conversation.id) + "." + format || transcripts.count(name)) {
        return failed(report, "file " + name + " is not the one file of conversation " + std::to_string(conversation.id));
      }
      transcripts[name].conversation = conversation;
    }
    // A message is bound to its place in the chain (its leaf) and, since
    // schema 008, to its conversation: each leaf once, in chain order within
    // a file, in the file of its own conversation.
    struct Place {
      std::int64_t timeMs;
      std::string hop;
      std::uint64_t leaf;
    };
    std::map<std::string, Place> lastOf;  // per file
    // Each row written since schema 008 links the row before it in its
    // conversation: within a file those links must form one unbroken line.
    struct Link {
      std::int64_t id;
      std::string hash;
      std::string previous;
    };
    std::map<std::string, std::vector<Link>> links;
    std::set<std::pair<std::string, std::uint64_t>> leavesSeen;  // hop, leaf
    std::map<std::string, std::int64_t> conversationOfFile;
    for (const auto& [name, transcript] : transcripts) conversationOfFile[name] = transcript.conversation.id;
    const Array::Ptr messages = root->getArray("messages");
    for (std::size_t i = 0; messages && i < messages->size(); ++i) {
      const Object::Ptr m = messages->getObject(static_cast<unsigned>(i));
      const std::int64_t id = m->getValue<std::int64_t>("id");
      const std::string file = m->getValue<std::string>("file");
      const std::string where = "message " + std::to_string(id) + " (" + file + ")";
      if (!transcripts.count(file)) return failed(report, where + " names a file the export does not list");
      if (!m->has("proof")) return failed(report, where + " is newer than the checkpoint: it has no proof");
      const Object::Ptr r = m->getObject("record");
      MessageRecord record;
      record.timeMs = r->getValue<std::int64_t>("time_ms");
      record.cseq = static_cast<std::uint32_t>(r->getValue<std::int64_t>("cseq"));
      for (const auto& [field, value] : recordStrings(record)) *value = fromBase64(r->getValue<std::string>(field));
      const std::int64_t conversationId = m->getValue<std::int64_t>("conversation_id");
      const bool covers = m->getValue<bool>("covers_conversation");
      const std::string conversationPrevious = m->getValue<std::string>("conversation_previous");
      const std::string hash = archive::rowHash(m->getValue<std::string>("previous_hash"), record,
                                                covers ? conversationId : 0,
                                                covers ? conversationPrevious : std::string());
      if (hash != m->getValue<std::string>("hash")) {
        return failed(report, where + ": its content does not match its hash: it was changed after the export");
      }
      const auto index = m->getValue<std::uint64_t>("checkpoint");
      if (index >= checkpoints.size()) return failed(report, where + " names a checkpoint the export does not hold");
      const archive::Checkpoint& checkpoint = checkpoints[index];
      std::vector<std::string> proof;
      const Array::Ptr path = m->getArray("proof");
      for (std::size_t p = 0; path && p < path->size(); ++p) {
        proof.push_back(archive::fromHex(path->getElement<std::string>(static_cast<unsigned>(p))));
      }
      const auto leaf = m->getValue<std::uint64_t>("leaf_index");
      if (!leavesSeen.insert({checkpoint.hop, leaf}).second) {
        return failed(report, where + " repeats the chain's row at leaf " + std::to_string(leaf) +
                                  " that another message of the export already is");
      }
      // A transcript is in time order, then archive order (query/reader.cc):
      // the proven times and places must be too.
      if (const auto last = lastOf.find(file); last != lastOf.end()) {
        const Place& before = last->second;
        if (record.timeMs < before.timeMs ||
            (record.timeMs == before.timeMs && checkpoint.hop == before.hop && leaf <= before.leaf)) {
          return failed(report, where + " is out of order in its file: messages were reordered");
        }
      }
      lastOf[file] = Place{record.timeMs, checkpoint.hop, leaf};
      if (covers) {
        links[file].push_back(Link{id, hash, conversationPrevious});
        if (conversationId <= 0) return failed(report, where + " names no conversation");
        // The file's header shows the conversation's participants (and a
        // session's Call-ID): they must be the proven messages'.
        const ConversationRow& header = transcripts[file].conversation;
        const std::string participants = std::min(record.sender, record.recipient) + "," +
                                         std::max(record.sender, record.recipient);
        if (header.participants != participants || (header.kind == "session" && header.callId != record.callId) ||
            (header.kind != "session" && header.kind != "pager")) {
          return failed(report, where + " is not between the participants (or in the call) its file's header names");
        }
        if (conversationId != conversationOfFile[file]) {
          return failed(report, where + " belongs to conversation " + std::to_string(conversationId) +
                                    ", not to the file's conversation " + std::to_string(conversationOfFile[file]));
        }
      } else {
        ++report.unboundMessages;
      }
      if (!archive::merkle::verifyInclusion(archive::merkle::leafHash(archive::fromHex(hash)), leaf,
                                            static_cast<std::uint64_t>(checkpoint.heads.rows), proof,
                                            archive::fromHex(checkpoint.heads.treeRoot))) {
        return failed(report, where + " is not in the archive the checkpoint signed: its proof does not lead to the signed root");
      }
      MessageRow row;
      row.id = id;
      row.conversationId = conversationId;
      row.timeMs = record.timeMs;
      row.direction = record.direction;
      row.sender = record.sender;
      row.senderName = record.senderName;
      row.recipient = record.recipient;
      row.recipientName = record.recipientName;
      row.callId = record.callId;
      row.contentType = record.contentType;
      row.text = record.text;
      if (!record.originalText.empty()) row.originalText = record.originalText;
      row.verdict = record.verdict;
      row.rules = record.rules;
      row.tags = record.tags;
      row.finalCode = static_cast<int>(m->getValue<std::int64_t>("final_code"));
      row.rawBody = record.rawBody;
      row.receivedContentType = record.receivedContentType;
      row.contentEncoding = record.contentEncoding;
      row.unreadable = record.unreadable;
      transcripts[file].messages.push_back(std::move(row));
      ++report.messages;
    }
    // No message of a conversation left out between two exported ones: every
    // message's predecessor is in the file, except the first's (the
    // conversation's start, or earlier messages purged or not exported).
    for (const auto& [name, line] : links) {
      std::set<std::string> hashes;
      std::set<std::string> predecessors;
      for (const Link& link : line) hashes.insert(link.hash);
      const Link* head = nullptr;
      for (const Link& link : line) {
        if (!link.previous.empty() && !predecessors.insert(link.previous).second) {
          return failed(report, "message " + std::to_string(link.id) + " (" + name +
                                    ") follows the same message as another: the conversation was forged");
        }
        if (hashes.count(link.previous)) continue;
        if (head == nullptr) {
          head = &link;
          continue;
        }
        return failed(report, "the message before message " + std::to_string(link.id) + " in its conversation (" + name +
                                  ") is not in the export: a message was left out");
      }
      if (head != nullptr && !head->previous.empty()) ++report.earlierMessagesOmitted;
    }
    // Each file, byte for byte, as its proven messages render.
    for (const auto& [name, transcript] : transcripts) {
      std::string actual;
      try {
        actual = readAll((std::filesystem::path(dir) / name).string());
      } catch (const ArchiveReadError&) {
        return failed(report, name + " is missing from the export");
      }
      const std::string expected = rendered(transcript, format);
      if (actual == expected) {
        ++report.files;
        continue;
      }
      for (const MessageRow& m : transcript.messages) {
        const std::string fragment = textAsRendered(m, format);
        if (occurrences(actual, fragment) < occurrences(expected, fragment)) {
          return failed(report, "message " + std::to_string(m.id) + " (" + name +
                                    ") differs from its proven text: the file was changed after the export");
        }
      }
      const auto mismatch = std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end());
      return failed(report, name + " differs from what its proven messages render to, at byte " +
                                std::to_string(mismatch.first - expected.begin()) +
                                ": the file was changed after the export");
    }
    // Nothing exported that proofs.json does not cover.
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("conversation-") && !transcripts.count(name)) {
        return failed(report, name + " is in the export but has no proofs");
      }
    }
  } catch (const Poco::Exception& error) {
    return failed(report, std::string(kProofsFile) + " is malformed: " + error.displayText());
  } catch (const std::exception& error) {
    return failed(report, std::string(kProofsFile) + " is malformed: " + error.what());
  }
  return report;
}

}  // namespace sipwarden::query
