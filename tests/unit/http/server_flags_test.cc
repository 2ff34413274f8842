// The HTTP settings every service main declares through ServerFlags: the
// flags a binary asks for (and only those), each binary's own environment
// names and help lines, ServerOptions' defaults, and the same checks.
#include "cocktail/http/server_flags.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/testing/temp_dir.h"

namespace cocktail::http {
namespace {

core::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

core::Status parse(core::Options& o, const ServerFlags& flags, std::vector<const char*> argv,
                   ServerOptions& out, std::map<std::string, std::string> env = {}) {
  argv.insert(argv.begin(), "prog");
  auto parsed = o.parse(static_cast<int>(argv.size()), argv.data(), env_of(std::move(env)));
  EXPECT_TRUE(parsed.error.empty()) << parsed.error;
  return read_server_flags(o, flags, out);
}

TEST(ServerFlags, DefaultsAreServerOptionsAndTheListenAddressOfTheBinary) {
  ServerFlags flags("127.0.0.1:8083");
  flags.max_body_bytes = FlagText{"MAX_BODY_BYTES", "largest request body"};
  flags.cors_origins = FlagText{"CORS_ORIGINS", "origins"};
  core::Options o("prog", "test");
  add_server_flags(o, flags);
  ServerOptions server;
  server.io_threads = 7;  // a default the flags replace
  ASSERT_TRUE(parse(o, flags, {}, server).ok());
  const ServerOptions defaults;
  EXPECT_EQ(server.host, "127.0.0.1");
  EXPECT_EQ(server.port, 8083);
  EXPECT_EQ(server.io_threads, defaults.io_threads);
  EXPECT_EQ(server.max_connections, defaults.max_connections);
  EXPECT_EQ(server.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(server.shutdown_timeout, defaults.shutdown_timeout);
  EXPECT_EQ(server.access_log, defaults.access_log);
  EXPECT_TRUE(server.cors.allowed_origins.empty());
  const std::string help = o.help();
  for (const char* line : {"--http <text>   [env HTTP_LISTEN]   (default: 127.0.0.1:8083)",
                           "--io-threads <integer>   [env HTTP_IO_THREADS]   (default: 2)",
                           "--max-body-bytes <integer>   [env MAX_BODY_BYTES]   (default: 1048576)",
                           "--max-connections <integer>   [env HTTP_MAX_CONNECTIONS]   (default: 10000)",
                           "--shutdown-timeout-ms <integer>   [env SHUTDOWN_TIMEOUT_MS]   (default: 5000)",
                           "--access-log <true|false>   [env ACCESS_LOG]   (default: true)"}) {
    EXPECT_NE(help.find(line), std::string::npos) << line << "\n" << help;
  }
}

TEST(ServerFlags, FlagsAndTheBinarysOwnEnvironmentNamesAreRead) {
  ServerFlags flags("127.0.0.1:8081");
  flags.io_threads = FlagText{"IO_THREADS", "HTTP I/O threads."};
  flags.cors_origins = FlagText{"CORS_ORIGINS", "origins"};
  core::Options o("prog", "test");
  add_server_flags(o, flags);
  ServerOptions server;
  ASSERT_TRUE(parse(o, flags, {"--http", "[::1]:9000", "--access-log=false", "--shutdown-timeout-ms", "250"},
                    server, {{"IO_THREADS", "4"}, {"CORS_ORIGINS", "http://a.test,http://b.test"}})
                  .ok());
  EXPECT_EQ(server.host, "::1");
  EXPECT_EQ(server.port, 9000);
  EXPECT_EQ(server.io_threads, 4);
  EXPECT_FALSE(server.access_log);
  EXPECT_EQ(server.shutdown_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(server.cors.allowed_origins, (std::vector<std::string>{"http://a.test", "http://b.test"}));
  EXPECT_NE(o.help().find("HTTP I/O threads."), std::string::npos);
}

TEST(ServerFlags, ASettingLeftOutIsNeitherDeclaredNorRead) {
  ServerFlags flags("127.0.0.1:8082");
  flags.io_threads.reset();
  flags.max_connections.reset();
  flags.shutdown_timeout.reset();
  flags.access_log.reset();
  core::Options o("prog", "test");
  add_server_flags(o, flags);
  EXPECT_EQ(o.help().find("--io-threads"), std::string::npos);
  EXPECT_EQ(o.help().find("--access-log"), std::string::npos);
  ServerOptions server;
  server.io_threads = 1;
  server.shutdown_timeout = std::chrono::milliseconds(1000);
  ASSERT_TRUE(parse(o, flags, {}, server).ok());
  EXPECT_EQ(server.port, 8082);
  EXPECT_EQ(server.io_threads, 1);
  EXPECT_EQ(server.shutdown_timeout, std::chrono::milliseconds(1000));
  const char* argv[] = {"prog", "--io-threads", "3"};
  core::Options again("prog", "test");
  add_server_flags(again, flags);
  EXPECT_FALSE(again.parse(3, argv, env_of({})).error.empty());  // an unknown flag here
}

TEST(ServerFlags, OutOfRangeValuesAreRefusedNamingTheFlag) {
  ServerFlags flags("127.0.0.1:8080");
  flags.max_body_bytes = FlagText{"MAX_BODY_BYTES", "body"};
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
      {{"--http", "localhost:80"}, "--http"},
      {{"--http", "127.0.0.1"}, "--http"},
      {{"--io-threads", "0"}, "--io-threads"},
      {{"--io-threads", "65"}, "--io-threads"},
      {{"--max-connections", "0"}, "--max-connections"},
      {{"--max-body-bytes", "0"}, "--max-body-bytes"},
      {{"--shutdown-timeout-ms", "-1"}, "--shutdown-timeout-ms"},
  };
  for (const auto& [args, flag] : cases) {
    core::Options o("prog", "test");
    add_server_flags(o, flags);
    ServerOptions server;
    const auto status = parse(o, flags, args, server);
    ASSERT_FALSE(status.ok()) << flag;
    EXPECT_NE(status.error().message.find(flag), std::string::npos) << status.error().message;
  }
}

TEST(ServerFlags, ATokenFlagReadsItsFileOrNamesTheFlag) {
  testing::TempDir dir("server-flags");
  testing::write_file(dir.file("token"), "  s3cret \nignored\n");
  testing::write_file(dir.file("empty"), "\n");
  auto read = [&](const std::string& path) {
    core::Options o("prog", "test");
    o.add_string("--token-file", "TOKEN_FILE", "", "token");
    const char* argv[] = {"prog", "--token-file", path.c_str()};
    EXPECT_TRUE(o.parse(3, argv, env_of({})).error.empty());
    return read_token_flag(o, "--token-file");
  };
  auto token = read(dir.file("token"));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, std::optional<std::string>("s3cret"));
  auto none = read("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (const auto& bad : {dir.file("empty"), dir.file("missing")}) {
    auto refused = read(bad);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().field, "--token-file");
    EXPECT_EQ(refused.error().message.rfind("--token-file: ", 0), 0u) << refused.error().message;
  }
}

}  // namespace
}  // namespace cocktail::http
