// The SDK's PluginConfig over JSON: nested blocks with their own key paths
// and unknown-key checks, raw JSON values, value kinds, paths and watches.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include "pipeline/plugin_config.h"

namespace sipwarden::pipeline {
namespace {

JsonPluginConfig configOf(const std::string& json, const std::string& baseDir = "") {
  return JsonPluginConfig(Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>(), "plugins[3]", baseDir);
}

TEST(PluginConfig, ChildrenCarryTheirPathAndReportUnknownKeys) {
  auto config = configOf(R"({"lexicons": [{"name": "a"}, {"name": "b", "typo": 1}]})");
  const auto children = config.getObjects("lexicons");
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[1]->path(), "plugins[3].lexicons[1]");
  EXPECT_EQ(children[0]->getString("name", ""), "a");
  EXPECT_EQ(children[1]->getString("name", ""), "b");
  EXPECT_FALSE(config.failed());
  config.rejectUnread();
  EXPECT_EQ(config.firstError(), "plugins[3].lexicons[1].typo: unknown key");
}

TEST(PluginConfig, AChildsErrorIsTheBlocksError) {
  auto config = configOf(R"({"scripts": {"file": 5}})");
  const auto children = config.getObjects("scripts");  // a single object is a list of one
  ASSERT_EQ(children.size(), 1u);
  children[0]->getString("file", "");
  EXPECT_TRUE(config.failed());
  EXPECT_EQ(config.firstError(), "plugins[3].scripts.file: expected a string");
}

TEST(PluginConfig, ObjectsMustBeObjects) {
  auto config = configOf(R"({"scripts": [{"file": "a"}, "b"]})");
  EXPECT_TRUE(config.getObjects("scripts").empty());
  EXPECT_EQ(config.firstError(), "plugins[3].scripts[1]: expected an object");
}

TEST(PluginConfig, JsonAndKinds) {
  auto config = configOf(R"({"o": {"k": [1, "x"]}, "l": [], "s": "t", "i": 3, "n": 1.5, "b": true, "z": null})");
  EXPECT_EQ(config.getJson("o"), R"({"k":[1,"x"]})");
  EXPECT_EQ(config.getJson("missing"), "");
  EXPECT_EQ(config.kind("o"), PluginConfig::Kind::Object);
  EXPECT_EQ(config.kind("l"), PluginConfig::Kind::List);
  EXPECT_EQ(config.kind("s"), PluginConfig::Kind::String);
  EXPECT_EQ(config.kind("i"), PluginConfig::Kind::Integer);
  EXPECT_EQ(config.kind("n"), PluginConfig::Kind::Number);
  EXPECT_EQ(config.kind("b"), PluginConfig::Kind::Bool);
  EXPECT_EQ(config.kind("z"), PluginConfig::Kind::Null);
  EXPECT_EQ(config.kind("missing"), PluginConfig::Kind::Missing);
}

TEST(PluginConfig, RelativePathsFollowTheConfigFile) {
  auto config = configOf(R"({"a": "policies/x.lua", "b": "/etc/y.lua", "c": "../z.lua"})", "/etc/sipwarden");
  EXPECT_EQ(config.getPath("a", ""), "/etc/sipwarden/policies/x.lua");
  EXPECT_EQ(config.getPath("b", ""), "/etc/y.lua");
  EXPECT_EQ(config.getPath("c", ""), "/etc/z.lua");
  EXPECT_EQ(configOf(R"({"a": "x.lua"})").getPath("a", ""), "x.lua");
}

TEST(PluginConfig, WatchedFilesIncludeTheChildren) {
  auto config = configOf(R"({"scripts": [{"file": "a"}]})");
  config.watchFile("/groups.json");
  config.getObjects("scripts")[0]->watchFile("/a.lua");
  EXPECT_EQ(config.watchedFiles(), (std::vector<std::string>{"/groups.json", "/a.lua"}));
}

}  // namespace
}  // namespace sipwarden::pipeline
