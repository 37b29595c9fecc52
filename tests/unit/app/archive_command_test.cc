// `sipwarden archive ...` from the shell: the command line of verify, hold,
// purge and keygen, and what each prints over a real archive file.
#include "app/archive_command.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "app/app_test_support.h"
#include "config/config_test_support.h"

namespace sipwarden::app {
namespace {

using config::testing::thrownError;
using testing::runCommand;
using testing::ScratchDir;

testing::Printed archive(const std::vector<std::string>& args) { return runCommand(archiveCommand, args); }

class ArchiveCommand : public testing::TwoConversations {
 protected:
  ScratchDir dir;
};

TEST_F(ArchiveCommand, IncompleteCommandLinesPrintTheUsageAndExitWith2) {
  const std::vector<std::string> cases[] = {
      {},
      {"check"},
      {"verify"},
      {"verify", "--db"},
      {"verify", "--db", db.path(), "--checkpoints", dir.path()},
      {"verify", "--db", db.path(), "--public-key", dir.path() + "/hop.key.pub"},
      {"hold", "--db", db.path()},
      {"hold", "--db", db.path(), "--checkpoints", dir.path(), "--participant", "alice@example.com"},
      {"purge", "--db", db.path()},
      {"keygen"},
      {"keygen", "--out"},
      {"migrate", "--from", "sqlite:///a.db"},
      {"migrate", "--from", "sqlite:///a.db", "--to", "postgresql://x/y", "--hops", "h"},
  };
  for (const auto& args : cases) {
    const auto result = archive(args);
    EXPECT_EQ(result.status, 2) << ::testing::PrintToString(args);
    EXPECT_EQ(result.err.rfind("usage: sipwarden archive verify", 0), 0u) << ::testing::PrintToString(args);
    EXPECT_EQ(result.out, "");
  }
}

TEST_F(ArchiveCommand, VerifyReportsAnIntactArchive) {
  const auto result = archive({"verify", "--db", db.path()});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out.rfind(db.path() + ": OK, 2 messages, ", 0), 0u) << result.out;
}

TEST_F(ArchiveCommand, VerifyFindsTheArchiveInTheHopsConfig) {
  const std::string config = dir.write("hop.json", R"({"archive": {"path": ")" + db.path() + R"("}})");
  const auto result = archive({"verify", "--config", config});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out.rfind(db.path() + ": OK, 2 messages, ", 0), 0u) << result.out;
  const std::string bare = dir.write("bare.json", "{}");
  EXPECT_EQ(thrownError([&] { archiveCommand({"verify", "--config", bare}); }),
            bare + ": archive.url (or archive.path) is not set");
}

TEST_F(ArchiveCommand, AMissingPublicKeyIsAUsageError) {
  const auto result =
      archive({"verify", "--db", db.path(), "--checkpoints", dir.path(), "--public-key", dir.path() + "/none.pub"});
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.err.rfind("sipwarden archive verify: ", 0), 0u) << result.err;
  EXPECT_EQ(result.out, "") << "never an OK without the checkpoints";
}

TEST_F(ArchiveCommand, KeygenWritesBothKeysAndNeverOverwrites) {
  const std::string key = dir.path() + "/hop.key";
  const auto first = archive({"keygen", "--out", key});
  EXPECT_EQ(first.status, 0) << first.err;
  EXPECT_TRUE(std::filesystem::exists(key));
  EXPECT_TRUE(std::filesystem::exists(key + ".pub"));
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto second = archive({"keygen", "--out", key});
  EXPECT_EQ(second.status, 1);
  EXPECT_EQ(second.err.rfind("sipwarden archive keygen: ", 0), 0u) << second.err;
}

TEST_F(ArchiveCommand, HeldConversationsSurviveAPurge) {
  const auto held = archive({"hold", "--db", db.path(), "--participant", "sip:alice@example.com", "--reason", "case 7"});
  EXPECT_EQ(held.status, 0) << held.err;
  EXPECT_EQ(held.out, "legal hold on participant alice@example.com\n") << "the sip: prefix is dropped";
  const auto purged = archive({"purge", "--db", db.path(), "--older-than-days", "0"});
  EXPECT_EQ(purged.status, 0) << purged.err;
  EXPECT_EQ(purged.out, "purged 1 messages older than 0 days (held ones kept)\n");
  const auto released = archive({"hold", "--db", db.path(), "--participant", "alice@example.com", "--release"});
  EXPECT_EQ(released.out, "released legal hold on participant alice@example.com\n");
  const auto verified = archive({"verify", "--db", db.path()});
  EXPECT_EQ(verified.status, 0) << verified.out;
  EXPECT_NE(verified.out.find("  purge by hand: "), std::string::npos) << "the purge is named: " << verified.out;
}

}  // namespace
}  // namespace sipwarden::app
