// `sipwarden query` and `sipwarden export` from the shell: how the command
// line is read (options, switches, the archive named by --db or by a
// config's archive block) and the exit codes of each kind of mistake.
#include "app/query_command.h"

#include <gtest/gtest.h>

#include "app/app_test_support.h"
#include "app/config.h"
#include "config/config_test_support.h"

namespace sipwarden::app {
namespace {

using config::testing::thrownError;
using testing::Printed;
using testing::runCommand;
using testing::ScratchDir;

// The first line of what a command printed to stderr (the usage follows).
std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

class QueryCommand : public testing::TwoConversations {
 protected:
  Printed query(std::vector<std::string> args) {
    args.insert(args.end(), {"--db", db.path()});
    return runCommand(queryCommand, args);
  }
};

TEST_F(QueryCommand, MistakesOnTheCommandLineExitWith2AndSayWhat) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{}, "sipwarden: what to query?"},
      {{"messages"}, "sipwarden: --db FILE or --config FILE is required"},
      {{"messages", "--db", db.path(), "--limit"}, "sipwarden: --limit: missing value"},
      {{"messages", "--db", db.path(), "-v"}, "sipwarden: -v: unknown option"},
      {{"messages", "--db", db.path(), "--format", "xml"}, "sipwarden: --format: expected table, json or csv"},
      {{"messages", "extra", "--db", db.path()}, "sipwarden: unexpected argument 'extra'"},
      {{"mesages", "--db", db.path()}, "sipwarden: unknown list 'mesages'"},
      {{"conversation", "--db", db.path()}, "sipwarden: query conversation takes one ID and no filters"},
      {{"conversation", "7", "--db", db.path(), "--participant", "a"},
       "sipwarden: query conversation takes one ID and no filters"},
      {{"conversation", "x7", "--db", db.path()},
       "sipwarden: conversation: expected a conversation id (a number), got 'x7'"},
      {{"messages", "--db", db.path(), "--verdict", "perhaps"},
       "sipwarden: verdict: expected delivered, blocked, modified or failed"},
      {{"messages", "--db", db.path(), "--colour", "blue"}, "sipwarden: colour: unknown filter (expected participant, "
                                                            "from, to, since, until, text, verdict, rule, tag, call_id, "
                                                            "disposition, unreadable, limit, cursor)"},
  };
  for (const auto& [args, message] : cases) {
    const Printed result = runCommand(queryCommand, args);
    EXPECT_EQ(result.status, 2) << message;
    EXPECT_EQ(firstLine(result.err), message);
    EXPECT_EQ(result.out, "");
  }
  EXPECT_NE(runCommand(queryCommand, {}).err.find("usage: sipwarden query"), std::string::npos) << "the usage follows";
}

TEST_F(QueryCommand, OptionsBecomeFiltersAndSwitchesTakeNoValue) {
  const Printed byCall = query({"messages", "--call-id", "call-1", "--format", "json", "--utc"});
  EXPECT_EQ(byCall.status, 0) << byCall.err;
  EXPECT_NE(byCall.out.find("quarterly report"), std::string::npos) << "--call-id is the call_id filter";
  EXPECT_EQ(byCall.out.find("lunch?"), std::string::npos);
  const Printed unreadable = query({"messages", "--unreadable", "--participant", "carol@example.com"});
  EXPECT_EQ(unreadable.status, 0) << unreadable.err;
  EXPECT_NE(unreadable.out.find("(no results)"), std::string::npos) << "--unreadable took no value";
  const Printed csv = query({"messages", "--format", "csv"});
  EXPECT_NE(csv.out.find("lunch?"), std::string::npos);
}

TEST_F(QueryCommand, EachSearchIsAudited) {
  ASSERT_EQ(query({"stats"}).status, 0);
  const Printed audit = query({"audit", "--format", "json"});
  EXPECT_EQ(audit.status, 0) << audit.err;
  EXPECT_NE(audit.out.find("\"cli:"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("\"stats\""), std::string::npos) << audit.out;
}

TEST_F(QueryCommand, AnArchiveThatCannotBeReadExitsWith1) {
  ScratchDir dir;
  const Printed result = runCommand(queryCommand, {"conversation", "1", "--db", dir.path() + "/none.db"});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, "sipwarden: no archive at " + dir.path() + "/none.db\n");
  const Printed missing = query({"conversation", "999"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "sipwarden: no conversation 999\n");
}

TEST_F(QueryCommand, TheArchiveMayBeNamedByTheHopsConfig) {
  ScratchDir dir;
  const std::string config = dir.write("hop.json", R"({"archive": {"path": ")" + db.path() + R"("}})");
  const Printed result = runCommand(queryCommand, {"messages", "--config", config, "--format", "json"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("lunch?"), std::string::npos);
  const std::string bare = dir.write("bare.json", "{}");
  EXPECT_EQ(thrownError([&] { queryCommand({"messages", "--config", bare}); }),
            bare + ": archive.url (or archive.path) is not set");
  const std::string bad = dir.write("bad.json", R"({"archive": {"path": 5}})");
  EXPECT_EQ(thrownError([&] { queryCommand({"messages", "--config", bad}); }), "archive.path: expected a string");
}

TEST_F(QueryCommand, ExportNeedsAnOutputAndAChoiceOfConversations) {
  ScratchDir out;
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--db", db.path()}, "sipwarden: --out DIR is required"},
      {{"--db", db.path(), "--out", out.path()}, "sipwarden: format: expected eml, json or html"},
      {{"--db", db.path(), "--out", out.path(), "--format", "json"}, "sipwarden: export needs --conversation ID or --participant URI"},
      {{"--db", db.path(), "--out", out.path(), "--format", "eml", "--conversation", "one"},
       "sipwarden: --conversation: expected a conversation id (a number), got 'one'"},
      {{"--db", db.path(), "--out", out.path(), "--format", "html", "--conversation", "1", "--participant", "a"},
       "sipwarden: --conversation takes no other filters"},
      {{"--db", db.path(), "--out", out.path(), "stray"}, "sipwarden: unexpected argument 'stray'"},
      {{"verify"}, "sipwarden: export verify DIR --public-key FILE"},
      {{"verify", out.path()}, "sipwarden: export verify DIR --public-key FILE"},
  };
  for (const auto& [args, message] : cases) {
    const Printed result = runCommand(exportCommand, args);
    EXPECT_EQ(result.status, 2) << message;
    EXPECT_EQ(firstLine(result.err), message);
  }
}

TEST_F(QueryCommand, ExportWritesTheParticipantsConversations) {
  ScratchDir out;
  const Printed result =
      runCommand(exportCommand, {"--db", db.path(), "--participant", "alice@example.com", "--format", "json", "--out", out.path()});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "exported 1 conversations (1 messages) to " + out.path() + "; checksums in " + out.path() +
                            "/manifest.sha256\n");
}

}  // namespace
}  // namespace sipwarden::app
