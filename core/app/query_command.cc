#include "app/query_command.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>

#include "app/cli_user.h"
#include "app/config.h"
#include "query/export.h"
#include "query/export_proof.h"
#include "query/json.h"
#include "query/reader.h"
#include "query/table.h"

namespace sipwarden::app {
namespace {

using query::QueryError;

constexpr const char* kUsage =
    "usage: sipwarden query messages|conversations|calls (--db FILE|URL | --config FILE)\n"
    "           [--participant URI] [--from URI] [--to URI] [--since WHEN] [--until WHEN]\n"
    "           [--text QUERY] [--verdict blocked|modified|delivered|failed] [--rule NAME] [--tag K=V]\n"
    "           [--call-id ID] [--disposition D] [--unreadable] [--limit N] [--cursor C]\n"
    "           [--format table|json|csv] [--utc]\n"
    "       sipwarden query conversation ID (--db FILE|URL | --config FILE) [--format table|json] [--utc]\n"
    "       sipwarden query audit|stats (--db FILE|URL | --config FILE) [--since WHEN] [--until WHEN] [--limit N] [--format ...]\n"
    "       sipwarden export (--conversation ID | --participant URI) [--since WHEN] [--until WHEN]\n"
    "           --format eml|json|html --out DIR (--db FILE|URL | --config FILE) [--checkpoints DIR|FILE]\n"
    "       sipwarden export verify DIR --public-key FILE\n"
    "WHEN: 7d, 12h, 30m, 2w, or 2026-11-20[T10:00[:00]][Z] (local time unless Z or --utc)\n";

struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};


struct Options {
  std::string db;
  std::string format = "table";
  bool utc = false;
  std::vector<std::pair<std::string, std::string>> filters;
  std::vector<std::string> positional;
  std::string out;            // export
  std::string conversation;   // export
  std::string checkpoints;    // export: DIR|FILE of signed checkpoints, for proofs
};

Options parseOptions(const std::vector<std::string>& args, std::size_t from) {
  Options o;
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw Usage(arg + ": missing value");
      return args[++i];
    };
    if (arg == "--db") {
      o.db = value();
    } else if (arg == "--config") {
      const std::string file = value();
      const auto config = loadConfigFile(file);
      o.db = config.archive.url;
      if (o.db.empty()) throw ConfigError(file + ": archive.url (or archive.path) is not set");
      // An export from the hop's config proves its messages against the
      // hop's own checkpoints (--checkpoints overrides).
      if (o.checkpoints.empty()) o.checkpoints = config.archive.checkpoints.dir;
    } else if (arg == "--format") {
      o.format = value();
    } else if (arg == "--utc") {
      o.utc = true;
    } else if (arg == "--out") {
      o.out = value();
    } else if (arg == "--conversation") {
      o.conversation = value();
    } else if (arg == "--checkpoints") {
      o.checkpoints = value();

    } else if (arg == "--unreadable") {
      o.filters.emplace_back("unreadable", "true");  // a switch: takes no value
    } else if (arg.starts_with("--") && arg.size() > 2) {
      std::string name = arg.substr(2);
      for (char& c : name) c = c == '-' ? '_' : c;  // --call-id -> call_id
      o.filters.emplace_back(name, value());
    } else if (!arg.starts_with("-")) {
      o.positional.push_back(arg);
    } else {
      throw Usage(arg + ": unknown option");
    }
  }
  if (o.db.empty()) throw Usage("--db FILE or --config FILE is required");
  return o;
}

std::int64_t parseId(const std::string& text, const char* what) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw Usage(std::string(what) + ": expected a conversation id (a number), got '" + text + "'");
  }
  return std::stoll(text);
}

template <typename Row>
int printPage(const query::Page<Row>& page, const Options& o, const query::TableStyle& style) {
  if (o.format == "json") {
    std::cout << query::toJson(page) << "\n";
  } else if (o.format == "csv") {
    std::cout << query::toCsv(page.rows, style);
  } else {
    std::cout << query::toTable(page.rows, style);
    if (page.rows.empty()) std::cout << "(no results)\n";
  }
  if (!page.nextCursor.empty() && o.format != "json") {
    std::cerr << "more results: add --cursor " << page.nextCursor << "\n";
  }
  return 0;
}

int runQuery(const std::vector<std::string>& args) {
  if (args.empty()) throw Usage("what to query?");
  const std::string what = args[0];
  Options o = parseOptions(args, 1);
  if (o.format != "table" && o.format != "json" && o.format != "csv") throw Usage("--format: expected table, json or csv");
  const query::TableStyle style{o.utc};
  query::Reader reader(o.db);
  const std::int64_t now = query::nowMillis();
  if (what == "conversation") {
    if (o.positional.size() != 1 || !o.filters.empty()) throw Usage("query conversation takes one ID and no filters");
    const std::int64_t id = parseId(o.positional[0], "conversation");
    const auto transcript = reader.conversation(id);
    reader.recordAudit(localUser(), "conversation", "id=" + std::to_string(id),
                       transcript ? static_cast<std::int64_t>(transcript->messages.size()) : 0);
    if (!transcript) {
      std::cerr << "sipwarden: no conversation " << id << "\n";
      return 1;
    }
    if (o.format == "json") {
      std::cout << query::toJson(*transcript) << "\n";
    } else {
      std::cout << query::toTranscript(*transcript, style);
    }
    return 0;
  }
  if (!o.positional.empty()) throw Usage("unexpected argument '" + o.positional[0] + "'");
  const query::Filters filters = query::parseFilters(o.filters, now, !o.utc);
  const std::string description = query::describe(filters);
  if (what == "messages") {
    const auto page = reader.messages(filters);
    reader.recordAudit(localUser(), what, description, static_cast<std::int64_t>(page.rows.size()));
    return printPage(page, o, style);
  }
  if (what == "conversations") {
    const auto page = reader.conversations(filters);
    reader.recordAudit(localUser(), what, description, static_cast<std::int64_t>(page.rows.size()));
    return printPage(page, o, style);
  }
  if (what == "calls") {
    const auto page = reader.calls(filters);
    reader.recordAudit(localUser(), what, description, static_cast<std::int64_t>(page.rows.size()));
    return printPage(page, o, style);
  }
  if (what == "stats") {
    const auto stats = reader.stats(filters);
    reader.recordAudit(localUser(), what, description, 1);
    if (o.format == "json") {
      std::cout << query::toJson(stats) << "\n";
    } else {
      std::cout << "messages       " << stats.messages << " (" << stats.delivered << " delivered, " << stats.blocked
                << " blocked, " << stats.modified << " modified, " << stats.failed << " failed)\n"
                << "conversations  " << stats.conversations << "\n"
                << "calls          " << stats.calls << " (" << stats.answeredCalls << " answered)\n";
      if (stats.firstMs) {
        std::cout << "from           " << query::formatTime(*stats.firstMs, o.utc) << "\n"
                  << "to             " << query::formatTime(*stats.lastMs, o.utc) << "\n";
      }
    }
    return 0;
  }
  if (what == "audit") {
    const auto page = reader.audit(filters);
    reader.recordAudit(localUser(), what, description, static_cast<std::int64_t>(page.rows.size()));
    return printPage(page, o, style);
  }
  throw Usage("unknown list '" + what + "'");
}

// `export verify DIR --public-key FILE`: needs no archive.
int runExportVerify(const std::vector<std::string>& args) {
  std::string dir;
  std::string publicKey;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--public-key" && i + 1 < args.size()) {
      publicKey = args[++i];
    } else if (dir.empty() && !args[i].starts_with("-")) {
      dir = args[i];
    } else {
      throw Usage("export verify DIR --public-key FILE");
    }
  }
  if (dir.empty() || publicKey.empty()) throw Usage("export verify DIR --public-key FILE");
  const query::ExportVerifyReport report = query::verifyExport(dir, publicKey);
  if (!report.ok) {
    std::cout << dir << ": FAILED: " << report.problem << "\n";
    return 3;
  }
  std::cout << dir << ": OK, " << report.messages << " messages in " << report.files
            << " files proven against " << report.checkpoints << " signed checkpoint"
            << (report.checkpoints == 1 ? "" : "s");
  if (report.unboundMessages > 0) {
    std::cout << " (" << report.unboundMessages
              << " written before schema 008: their conversation is not proven)";
  }
  if (report.earlierMessagesOmitted > 0) {
    std::cout << "; in " << report.earlierMessagesOmitted
              << " files the conversation began before the first exported message (purged, or not exported)";
  }
  std::cout << "; messages after a conversation's last exported one are not proven absent\n";
  return 0;
}

int runExport(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "verify") return runExportVerify(args);
  Options o = parseOptions(args, 0);
  if (o.out.empty()) throw Usage("--out DIR is required");
  if (!o.positional.empty()) throw Usage("unexpected argument '" + o.positional[0] + "'");
  const query::ExportFormat format = query::parseExportFormat(o.format == "table" ? "" : o.format);
  query::Reader reader(o.db);
  std::string description;
  std::vector<std::int64_t> ids;
  if (!o.conversation.empty()) {
    if (!o.filters.empty()) throw Usage("--conversation takes no other filters");
    ids.push_back(parseId(o.conversation, "--conversation"));
    description = "conversation=" + std::to_string(ids.back());
  } else {
    query::Filters filters = query::parseFilters(o.filters, query::nowMillis(), !o.utc);
    if (filters.participant.empty()) throw Usage("export needs --conversation ID or --participant URI");
    filters.limit = query::kMaxLimit;
    description = query::describe(filters);
    // Every page of the participant's conversations (ids only: the
    // transcripts are read one at a time below).
    for (;;) {
      const auto page = reader.conversations(filters);
      for (const auto& row : page.rows) ids.push_back(row.id);
      if (page.nextCursor.empty()) break;
      filters.cursor = page.nextCursor;
    }
  }
  query::Exporter exporter(o.out, format);
  std::optional<query::ExportProofs> proofs;
  if (!o.checkpoints.empty()) proofs.emplace(o.db, o.checkpoints, format);
  for (const std::int64_t id : ids) {
    const auto transcript = reader.conversation(id);
    if (!transcript) throw query::ArchiveReadError("no conversation " + std::to_string(id));
    exporter.add(*transcript);
    if (proofs) proofs->add(exporter.lastFileName(), *transcript);
  }
  const auto& files = exporter.finish();
  reader.recordAudit(localUser(), "export", description + "&format=" + o.format,
                     static_cast<std::int64_t>(files.size()));
  std::int64_t messages = 0;
  for (const auto& file : files) messages += file.messages;
  std::cout << "exported " << files.size() << " conversations (" << messages << " messages) to " << o.out
            << "; checksums in " << o.out << "/manifest.sha256\n";
  if (proofs) {
    const auto proven = proofs->finish(o.out);
    std::cout << "proofs for " << proven.proven << " messages in " << o.out << "/proofs.json, against the checkpoint of "
              << proven.checkpointTime << "; check them with: sipwarden export verify " << o.out
              << " --public-key FILE\n";
    if (!proven.unproven.empty()) {
      std::cout << proven.unproven.size()
                << " messages are newer than the newest checkpoint and have no proof yet: export again after the "
                   "next checkpoint\n";
      return 4;
    }
  }
  return 0;
}

// The exit codes both commands share: 2 for a bad command line or filter,
// 1 for an archive that cannot be read.
int withExitCodes(int (*command)(const std::vector<std::string>&), const std::vector<std::string>& args) {
  try {
    return command(args);
  } catch (const Usage& error) {
    std::cerr << "sipwarden: " << error.what() << "\n" << kUsage;
    return 2;
  } catch (const QueryError& error) {
    std::cerr << "sipwarden: " << error.what() << "\n";
    return 2;
  } catch (const query::ArchiveReadError& error) {
    std::cerr << "sipwarden: " << error.what() << "\n";
    return 1;
  }
}

}  // namespace

int queryCommand(const std::vector<std::string>& args) { return withExitCodes(runQuery, args); }

int exportCommand(const std::vector<std::string>& args) { return withExitCodes(runExport, args); }

}  // namespace sipwarden::app
