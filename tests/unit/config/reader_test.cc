// The config reader: key paths at the top, in blocks and in lists, both ways
// to fail, unknown keys refused up front or when nobody read them, and the
// typed getters' bounds.
#include "config/reader.h"

#include <gtest/gtest.h>

#include "config/config_test_support.h"

namespace sipwarden::config {
namespace {

using testing::jsonObject;
using testing::thrownError;

TEST(ConfigReader, PathsNameTheKeyFromTheTop) {
  Reader top(jsonObject(R"({"timers": {"t1_ms": 5}, "listen": [1]})"), "", OnError::Throw);
  EXPECT_EQ(top.pathOf("listen"), "listen");
  EXPECT_EQ(thrownError([&] { top.getStrings("listen", {}); }), "listen[0]: expected a string");
  Reader* timers = top.getObject("timers");
  ASSERT_NE(timers, nullptr);
  EXPECT_EQ(timers->path(), "timers");
  EXPECT_EQ(thrownError([&] { timers->getInteger("t1_ms", 500, 10, 10000); }),
            "timers.t1_ms: expected an integer from 10 to 10000");
  EXPECT_EQ(timers->pathOf(""), "timers");
}

TEST(ConfigReader, MissingKeysYieldTheFallback) {
  Reader block(jsonObject("{}"), "plugins[0]", OnError::Throw);
  EXPECT_EQ(block.getString("s", "x"), "x");
  EXPECT_EQ(block.getInteger("i", 7, 0, 10), 7);
  EXPECT_EQ(block.getNumber("n", 2.5, 0, 10), 2.5);
  EXPECT_TRUE(block.getBool("b", true));
  EXPECT_EQ(block.getStrings("l", {"a"}), std::vector<std::string>{"a"});
  EXPECT_EQ(block.getChoice("c", {"on", "off"}, "off"), "off");
  EXPECT_EQ(block.getObject("o"), nullptr);
  EXPECT_TRUE(block.getObjects("os").empty());
  EXPECT_FALSE(block.getArray("a", "expected a list"));
  EXPECT_EQ(block.getJson("j"), "");
  EXPECT_EQ(thrownError([&] { block.requireString("name"); }), "plugins[0].name: expected a string");
}

TEST(ConfigReader, WrongTypesAndBoundsNameTheKey) {
  Reader block(jsonObject(R"({"s": 1, "i": 1.5, "big": 11, "n": "x", "far": 4000.25, "b": "yes", "l": {}, "c": "maybe",
                             "a": 3})"),
               "plugins[1]", OnError::Throw);
  EXPECT_EQ(thrownError([&] { block.getString("s", ""); }), "plugins[1].s: expected a string");
  EXPECT_EQ(thrownError([&] { block.getInteger("i", 0, 0, 10); }), "plugins[1].i: expected an integer");
  EXPECT_EQ(thrownError([&] { block.getInteger("big", 0, 0, 10); }), "plugins[1].big: expected an integer from 0 to 10");
  EXPECT_EQ(thrownError([&] { block.getNumber("n", 0, 0, 10); }), "plugins[1].n: expected a number");
  EXPECT_EQ(thrownError([&] { block.getNumber("far", 0, 0, 3600.5); }), "plugins[1].far: expected a number from 0 to 3600.5");
  EXPECT_EQ(thrownError([&] { block.getNumber("far", 0, 0, 5); }), "plugins[1].far: expected a number from 0 to 5");
  EXPECT_EQ(thrownError([&] { block.getBool("b", false); }), "plugins[1].b: expected true or false");
  EXPECT_EQ(thrownError([&] { block.getStrings("l", {}); }), "plugins[1].l: expected a list of strings");
  EXPECT_EQ(thrownError([&] { block.getChoice("c", {"on", "off"}, "on"); }), "plugins[1].c: expected on|off");
  EXPECT_EQ(thrownError([&] { block.getArray("a", "expected a list of plugin blocks"); }),
            "plugins[1].a: expected a list of plugin blocks");
  EXPECT_EQ(thrownError([&] { block.getObject("s", "expected an object {x}"); }), "plugins[1].s: expected an object {x}");
}

TEST(ConfigReader, ValuesOfTheRightTypeAreRead) {
  Reader block(jsonObject(R"({"s": "t", "i": 10, "n": 3, "b": false, "one": "x", "l": ["a", "b"], "o": {"k": [1]}})"),
               "", OnError::Throw);
  EXPECT_EQ(block.getString("s", ""), "t");
  EXPECT_EQ(block.getInteger("i", 0, 0, 10), 10);
  EXPECT_EQ(block.getNumber("n", 0, 0, 10), 3.0);
  EXPECT_FALSE(block.getBool("b", true));
  EXPECT_EQ(block.getStrings("one", {}), std::vector<std::string>{"x"});
  EXPECT_EQ(block.getStrings("l", {}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(block.getJson("o"), R"({"k":[1]})");
  EXPECT_EQ(block.kind("o"), Reader::Kind::Object);
}

TEST(ConfigReader, KnownKeysAreRefusedUpFrontWithTheList) {
  Reader top(jsonObject(R"({"tcp": {"max_conns": 5}})"), "", OnError::Throw);
  EXPECT_EQ(thrownError([&] { top.refuseUnknown({"tcp", "timers"}); }), "no error");
  Reader* tcp = top.getObject("tcp");
  EXPECT_EQ(thrownError([&] { tcp->refuseUnknown({"max_connections", "idle_timeout_ms"}); }),
            "tcp.max_conns: unknown key (expected one of: idle_timeout_ms, max_connections)");
}

TEST(ConfigReader, RecordingKeepsTheFirstErrorAndGoesOn) {
  Reader block(jsonObject(R"({"a": 1, "b": "x"})"), "plugins[2]", OnError::Record);
  EXPECT_FALSE(block.failed());
  EXPECT_EQ(block.getString("a", "fallback"), "fallback");
  EXPECT_EQ(block.getInteger("b", 9, 0, 10), 9);
  EXPECT_TRUE(block.failed());
  EXPECT_EQ(block.firstError(), "plugins[2].a: expected a string");
}

TEST(ConfigReader, UnreadKeysAreUnknownHereAndInChildren) {
  Reader block(jsonObject(R"({"name": "n", "lists": [{"file": "a"}, {"file": "b", "typo": 1}]})"), "plugins[0]",
               OnError::Record);
  block.getString("name", "");
  const auto lists = block.getObjects("lists");
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[1]->path(), "plugins[0].lists[1]");
  for (Reader* list : lists) list->getString("file", "");
  block.refuseUnread();
  EXPECT_EQ(block.firstError(), "plugins[0].lists[1].typo: unknown key");

  Reader marked(jsonObject(R"({"plugin": "x", "extra": 1})"), "plugins[1]", OnError::Record);
  marked.markRead("plugin");
  marked.refuseUnread();
  EXPECT_EQ(marked.firstError(), "plugins[1].extra: unknown key");
}

TEST(ConfigReader, ListsOfObjectsAcceptOneObjectAndRefuseOtherElements) {
  Reader block(jsonObject(R"({"one": {"k": 1}, "mixed": [{}, 2], "none": 3})"), "x", OnError::Record);
  ASSERT_EQ(block.getObjects("one").size(), 1u);
  EXPECT_TRUE(block.getObjects("mixed").empty());
  EXPECT_EQ(block.firstError(), "x.mixed[1]: expected an object");
  Reader other(jsonObject(R"({"none": 3})"), "y", OnError::Record);
  EXPECT_TRUE(other.getObjects("none", "expected a list of {a}").empty());
  EXPECT_EQ(other.firstError(), "y.none: expected a list of {a}");
}

TEST(ConfigReader, DefaultsStandInForAbsentStringsOnly) {
  Reader block(jsonObject(R"({"set": "mine", "child": {}})"), "plugins[0]", OnError::Record);
  block.setDefault("on_unreadable", "flag");
  block.setDefault("set", "chain");
  EXPECT_EQ(block.getString("on_unreadable", "block"), "flag");
  EXPECT_EQ(block.getChoice("on_unreadable", {"block", "flag", "pass"}, "block"), "flag");
  EXPECT_EQ(block.getString("set", "block"), "mine");
  EXPECT_EQ(block.getObject("child")->getString("on_unreadable", "block"), "block") << "a child block has no defaults";
  EXPECT_FALSE(block.failed());
}

}  // namespace
}  // namespace sipwarden::config
