// Options: every setting of a binary is both a command-line flag and an
// environment variable, listed by --help. Precedence: flag, then environment,
// then the default. Values are validated by kind when parsed, so typed getters
// cannot fail afterwards.
//
// Not thread-safe while parsing; read-only (and so shareable) afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cocktail::core {

enum class OptionKind { kString, kInt, kDouble, kBool };

struct OptionSpec {
  std::string flag;  // "--db"
  std::string env;   // "CATALOG_DB", may be empty
  OptionKind kind = OptionKind::kString;
  std::string default_value;
  std::string help;
};

// Environment lookup, injectable so tests do not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

class Options {
 public:
  Options(std::string program, std::string summary);

  Options& add_string(std::string flag, std::string env, std::string default_value, std::string help);
  Options& add_int(std::string flag, std::string env, std::int64_t default_value, std::string help);
  Options& add_double(std::string flag, std::string env, double default_value, std::string help);
  // A switch: "--flag" alone means true; "--flag=false" and env "0"/"false" mean false.
  Options& add_bool(std::string flag, std::string env, bool default_value, std::string help);
  // Words accepted before or between flags (subcommands such as "migrate").
  Options& add_command(std::string name, std::string help);

  struct Parsed {
    bool help_requested = false;
    std::string error;  // empty on success
  };
  // Accepts "--flag value" and "--flag=value". Unknown flags are errors.
  Parsed parse(int argc, const char* const* argv, const EnvLookup& env = process_environment());

  // Parses, prints --help (exit 0) or the error and a hint (exit 2) and exits.
  void parse_or_exit(int argc, const char* const* argv);
  // For a value that parsed but cannot be used: prints "<program>: <message>"
  // and the hint to stderr, and exits 2 (the code parse_or_exit uses).
  [[noreturn]] void exit_usage_error(std::string_view message) const;

  std::string get(std::string_view flag) const;
  std::int64_t get_int(std::string_view flag) const;
  double get_double(std::string_view flag) const;
  bool get_bool(std::string_view flag) const;
  // Comma-separated list, empty items dropped.
  std::vector<std::string> get_list(std::string_view flag) const;
  // True when the value came from the command line or the environment.
  bool is_set(std::string_view flag) const;
  // Non-flag words in order (the subcommand first, when there is one).
  const std::vector<std::string>& positional() const { return positional_; }

  std::string help() const;

 private:
  const OptionSpec& spec(std::string_view flag) const;
  std::string program_;
  std::string summary_;
  std::vector<OptionSpec> specs_;
  std::vector<std::pair<std::string, std::string>> commands_;
  std::map<std::string, std::string, std::less<>> values_;
  std::map<std::string, bool, std::less<>> set_;
  std::vector<std::string> positional_;
};

}  // namespace cocktail::core
