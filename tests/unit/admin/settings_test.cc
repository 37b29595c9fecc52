// The admin block of the config: defaults, the loopback rule, tokens from
// the config and from files, and errors that name the key path.
#include "admin/settings.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "admin/auth.h"
#include "config/config_test_support.h"

namespace sipwarden::admin {
namespace {

using config::testing::jsonObject;

AdminSettings parse(const std::string& json) {
  config::Reader block(jsonObject(json), "admin", config::OnError::Throw);
  return readAdminSettings(block);
}

std::string errorOf(const std::string& json) {
  return config::testing::thrownError([&] { parse(json); });
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

TEST(AdminSettings, BlocksOfTheWrongShapeNameTheirPath) {
  const std::string tokens = std::string(R"("tokens": [)") + kToken + "]";
  EXPECT_EQ(errorOf(R"({"tls": "x", )" + tokens + "}"), "admin.tls: expected an object {certificate, private_key}");
  EXPECT_EQ(errorOf(R"({"tls": {"certificate": "a.pem"}, )" + tokens + "}"), "admin.tls.private_key: required");
  EXPECT_EQ(errorOf(R"({"tls": {"certificate": "a.pem", "key": "a.key"}, )" + tokens + "}"),
            "admin.tls.key: unknown key (expected one of: certificate, private_key)");
  EXPECT_EQ(errorOf(std::string(R"({"tokens": )") + kToken + "}"),
            "admin.tokens: expected a list of {name, role, token | token_file}");
  EXPECT_EQ(errorOf(R"({"tokens": ["carol"]})"), "admin.tokens[0]: expected an object {name, role, token | token_file}");
  EXPECT_EQ(errorOf(R"({"tokens": [{"role": "auditor", "token": "0123456789abcdef"}]})"),
            "admin.tokens[0].name: expected a string");
  EXPECT_EQ(errorOf(R"({"tokens": [{"name": "a", "role": "auditor", "token": "0123456789abcdef", "token_file": "f"}]})"),
            "admin.tokens[0]: expected one of token or token_file");
  EXPECT_EQ(errorOf(R"({"threads": "8", )" + tokens + "}"), "admin.threads: expected an integer from 1 to 64");
  EXPECT_EQ(errorOf(R"({"allow_remote": 1, )" + tokens + "}"), "admin.allow_remote: expected true or false");
  EXPECT_EQ(errorOf(R"({"listen": "8080", )" + tokens + "}"), "admin.listen: expected HOST:PORT, got '8080'");
}

TEST(AdminSettings, ConnectionLimitsHaveDefaultsAndNameTheirKey) {
  const std::string tokens = std::string(R"("tokens": [)") + kToken + "]";
  // headerTimeoutMs, bodyTimeoutMs, idleTimeoutMs, writeTimeoutMs, maxConnections,
  // maxConnectionsPerAddress, maxHeaderBytes, maxBodyBytes
  EXPECT_EQ(parse("{" + tokens + "}").limits, (ConnectionLimits{5000, 10000, 10000, 30000, 256, 32, 16384, 65536}));
  EXPECT_EQ(parse(R"({"header_timeout_ms": 800, "body_timeout_ms": 900, "idle_timeout_ms": 1000,
                      "write_timeout_ms": 1100, "max_connections": 20, "max_connections_per_address": 4,
                      "max_header_bytes": 2048, "max_body_bytes": 0, )" + tokens + "}").limits,
            (ConnectionLimits{800, 900, 1000, 1100, 20, 4, 2048, 0}));
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
