#include "cocktail/core/options.h"

#include <gtest/gtest.h>

#include <map>

#include "cocktail/core/log.h"
#include "cocktail/core/log_options.h"

namespace cocktail::core {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

Options make() {
  Options o("prog", "A test program.");
  o.add_string("--db", "CATALOG_DB", "catalog.db", "catalog file")
      .add_int("--threads", "THREADS", 2, "threads")
      .add_double("--ratio", "", 0.5, "ratio")
      .add_bool("--dev", "DEV", false, "development mode")
      .add_string("--sub", "SUB_ENDPOINTS", "", "endpoints");
  return o;
}

TEST(Options, DefaultsEnvironmentAndFlagsInPrecedence) {
  Options o = make();
  const char* argv[] = {"prog", "--threads", "8"};
  auto p = o.parse(3, argv, env_of({{"CATALOG_DB", "/tmp/x.db"}, {"THREADS", "4"}}));
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(o.get("--db"), "/tmp/x.db");
  EXPECT_TRUE(o.is_set("--db"));
  EXPECT_EQ(o.get_int("--threads"), 8);
  EXPECT_DOUBLE_EQ(o.get_double("--ratio"), 0.5);
  EXPECT_FALSE(o.is_set("--ratio"));
  EXPECT_FALSE(o.get_bool("--dev"));
}

TEST(Options, EqualsFormBoolSwitchAndList) {
  Options o = make();
  const char* argv[] = {"prog", "--db=a.db", "--dev", "--sub", "tcp://a:1, tcp://b:2,"};
  auto p = o.parse(5, argv, env_of({}));
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(o.get("--db"), "a.db");
  EXPECT_TRUE(o.get_bool("--dev"));
  EXPECT_EQ(o.get_list("--sub"), (std::vector<std::string>{"tcp://a:1", "tcp://b:2"}));
}

TEST(Options, BadValuesNameTheSetting) {
  Options o = make();
  const char* argv[] = {"prog"};
  auto p = o.parse(1, argv, env_of({{"THREADS", "many"}}));
  EXPECT_NE(p.error.find("--threads"), std::string::npos);
  EXPECT_NE(p.error.find("THREADS"), std::string::npos);

  Options o2 = make();
  const char* argv2[] = {"prog", "--nope"};
  EXPECT_NE(o2.parse(2, argv2, env_of({})).error.find("unknown option --nope"), std::string::npos);

  Options o3 = make();
  const char* argv3[] = {"prog", "--db"};
  EXPECT_NE(o3.parse(2, argv3, env_of({})).error.find("needs a value"), std::string::npos);
}

TEST(Options, CommandsAndHelp) {
  Options o("tool", "Tool.");
  o.add_command("migrate", "migrate it").add_string("--db", "CATALOG_DB", "", "file");
  const char* argv[] = {"tool", "migrate", "--db", "x"};
  auto p = o.parse(4, argv, env_of({}));
  ASSERT_TRUE(p.error.empty());
  EXPECT_EQ(o.positional().front(), "migrate");
  const char* bad[] = {"tool", "explode"};
  EXPECT_FALSE(o.parse(2, bad, env_of({})).error.empty());
  const char* help[] = {"tool", "--help"};
  EXPECT_TRUE(o.parse(2, help, env_of({})).help_requested);
  EXPECT_NE(o.help().find("CATALOG_DB"), std::string::npos);
  EXPECT_NE(o.help().find("migrate"), std::string::npos);
}

TEST(Options, AUsageErrorNamesTheProgramAndExitsTwo) {
  Options o = make();
  EXPECT_EXIT(o.exit_usage_error("--threads must be at least 1"), ::testing::ExitedWithCode(2),
              "prog: --threads must be at least 1 \\(see prog --help\\)");
}

TEST(LogLevelOption, SetsTheLevelOrNamesTheFlag) {
  Options o("prog", "test");
  add_log_level_option(o);
  const char* argv[] = {"prog", "--log-level", "warn"};
  ASSERT_TRUE(o.parse(3, argv, env_of({})).error.empty());
  const log::Level before = log::level();
  ASSERT_TRUE(apply_log_level(o).ok());
  EXPECT_EQ(log::level(), log::Level::kWarn);
  log::set_level(before);

  Options bad("prog", "test");
  add_log_level_option(bad, "levels");
  ASSERT_TRUE(bad.parse(1, argv, env_of({{"LOG_LEVEL", "loud"}})).error.empty());
  const auto status = apply_log_level(bad);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "--log-level");
  EXPECT_NE(bad.help().find("levels"), std::string::npos);
}

}  // namespace
}  // namespace cocktail::core
