// The admin block of the config: defaults, the loopback rule, tokens from
// the config and from files, and errors that name the key path.
#include "admin/settings.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "admin/auth.h"

namespace sipwarden::admin {
namespace {

AdminSettings parse(const std::string& json) {
  Poco::JSON::Parser parser;
  return parseAdminSettings(*parser.parse(json).extract<Poco::JSON::Object::Ptr>());
}

std::string errorOf(const std::string& json) {
  try {
    parse(json);
  } catch (const SettingsError& error) {
    return error.what();
  }
  return "no error";
}

constexpr const char* kToken = R"({"name": "carol", "role": "auditor", "token": "0123456789abcdef"})";

TEST(AdminSettings, DefaultsToLoopback8080) {
  const auto s = parse(std::string(R"({"tokens": [)") + kToken + "]}");
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.port, 8080);
  ASSERT_EQ(s.tokens.size(), 1u);
  EXPECT_EQ(s.tokens[0].role, Role::Auditor);
}

TEST(AdminSettings, RefusesARemoteAddressWithoutTheOverride) {
  const std::string tokens = std::string(R"("tokens": [)") + kToken + "]";
  EXPECT_EQ(errorOf(R"({"listen": "0.0.0.0:8080", )" + tokens + "}").rfind("admin.listen: '0.0.0.0' is not a loopback", 0), 0u);
  EXPECT_EQ(parse(R"({"listen": "0.0.0.0:8080", "allow_remote": true, )" + tokens + "}").host, "0.0.0.0");
  EXPECT_EQ(parse(R"({"listen": "[::1]:9000", )" + tokens + "}").host, "::1");
}

TEST(AdminSettings, ErrorsNameTheKey) {
  EXPECT_EQ(errorOf(R"({"tokens": [{"name": "a", "role": "root", "token": "0123456789abcdef"}]})"),
            "admin.tokens[0].role: expected metrics or auditor, got 'root'");
  EXPECT_EQ(errorOf(R"({"tokens": [{"name": "a", "role": "metrics", "token": "short"}]})"),
            "admin.tokens[0].token: a token needs at least 16 characters");
  EXPECT_EQ(errorOf(R"({"tokens": []})"), "admin.tokens: expected at least one token (or admin.token_file)");
  EXPECT_EQ(errorOf(std::string(R"({"listen": "127.0.0.1:99999", "tokens": [)") + kToken + "]}"),
            "admin.listen: bad port '99999'");
  EXPECT_EQ(errorOf(std::string(R"({"colour": 1, "tokens": [)") + kToken + "]}").rfind("admin.colour: unknown key", 0), 0u);
  EXPECT_EQ(errorOf(std::string(R"({"tokens": [)") + kToken + "," + kToken + "]}"),
            "admin.tokens: the name 'carol' is used twice");
}

TEST(AdminSettings, ConnectionLimitsHaveDefaultsAndNameTheirKey) {
  const std::string tokens = std::string(R"("tokens": [)") + kToken + "]";
  const auto defaults = parse("{" + tokens + "}").limits;
  EXPECT_EQ(defaults.headerTimeoutMs, 5000);
  EXPECT_EQ(defaults.bodyTimeoutMs, 10000);
  EXPECT_EQ(defaults.idleTimeoutMs, 10000);
  EXPECT_EQ(defaults.writeTimeoutMs, 30000);
  EXPECT_EQ(defaults.maxConnections, 256);
  EXPECT_EQ(defaults.maxConnectionsPerAddress, 32);
  EXPECT_EQ(defaults.maxHeaderBytes, 16384u);
  EXPECT_EQ(defaults.maxBodyBytes, 65536u);
  const auto set = parse(R"({"header_timeout_ms": 800, "body_timeout_ms": 900, "idle_timeout_ms": 1000,
                             "write_timeout_ms": 1100, "max_connections": 20, "max_connections_per_address": 4,
                             "max_header_bytes": 2048, "max_body_bytes": 0, )" + tokens + "}").limits;
  EXPECT_EQ(set.headerTimeoutMs, 800);
  EXPECT_EQ(set.bodyTimeoutMs, 900);
  EXPECT_EQ(set.idleTimeoutMs, 1000);
  EXPECT_EQ(set.writeTimeoutMs, 1100);
  EXPECT_EQ(set.maxConnections, 20);
  EXPECT_EQ(set.maxConnectionsPerAddress, 4);
  EXPECT_EQ(set.maxHeaderBytes, 2048u);
  EXPECT_EQ(set.maxBodyBytes, 0u);
  EXPECT_EQ(errorOf(R"({"header_timeout_ms": 0, )" + tokens + "}"),
            "admin.header_timeout_ms: expected an integer from 100 to 600000");
  EXPECT_EQ(errorOf(R"({"max_connections": "lots", )" + tokens + "}"),
            "admin.max_connections: expected an integer from 1 to 10000");
  EXPECT_EQ(errorOf(R"({"max_connections_per_address": 1.5, )" + tokens + "}"),
            "admin.max_connections_per_address: expected an integer from 1 to 10000");
}

TEST(AdminSettings, ReadsTokenFiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("sipwarden-tokens-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokens") << "# name role token\nprom metrics aaaaaaaaaaaaaaaaaaaa\n\ncarol auditor bbbbbbbbbbbbbbbbbbbb\n";
  std::ofstream(dir / "one") << "cccccccccccccccccccc\n";
  const auto s = parse(R"({"token_file": ")" + (dir / "tokens").string() +
                       R"(", "tokens": [{"name": "dan", "role": "auditor", "token_file": ")" + (dir / "one").string() +
                       R"("}]})");
  ASSERT_EQ(s.tokens.size(), 3u);
  EXPECT_EQ(s.tokens[0].secret, "cccccccccccccccccccc");
  EXPECT_EQ(s.tokens[1].name, "prom");
  EXPECT_EQ(s.tokens[2].role, Role::Auditor);
  std::ofstream(dir / "bad") << "carol auditor\n";
  EXPECT_EQ(errorOf(R"({"token_file": ")" + (dir / "bad").string() + R"("})").rfind("admin.token_file (", 0), 0u);
  std::filesystem::remove_all(dir);
}

TEST(Authenticator, AcceptsOnlyAConfiguredBearerToken) {
  Authenticator auth({{"prom", Role::Metrics, "aaaaaaaaaaaaaaaaaaaa"}, {"carol", Role::Auditor, "bbbbbbbbbbbbbbbbbbbb"}});
  const auto carol = auth.check("Bearer bbbbbbbbbbbbbbbbbbbb");
  ASSERT_TRUE(carol.has_value());
  EXPECT_EQ(carol->name, "carol");
  EXPECT_EQ(carol->role, Role::Auditor);
  EXPECT_TRUE(auth.check("bearer aaaaaaaaaaaaaaaaaaaa").has_value());  // the scheme is case-insensitive
  EXPECT_FALSE(auth.check("").has_value());
  EXPECT_FALSE(auth.check("Bearer ").has_value());
  EXPECT_FALSE(auth.check("Bearer bbbbbbbbbbbbbbbbbbb").has_value());  // a prefix
  EXPECT_FALSE(auth.check("Bearer bbbbbbbbbbbbbbbbbbbbb").has_value());
  EXPECT_FALSE(auth.check("Basic bbbbbbbbbbbbbbbbbbbb").has_value());
  EXPECT_TRUE(constantTimeEqual("abc", "abc"));
  EXPECT_FALSE(constantTimeEqual("abc", "abd"));
  EXPECT_FALSE(constantTimeEqual("abc", "abcd"));
}

}  // namespace
}  // namespace sipwarden::admin
