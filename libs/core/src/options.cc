#include "cocktail/core/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace cocktail::core {
namespace {

bool parse_int(const std::string& s, std::int64_t* out) {
  if (s.empty()) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') {
    return false;
  }
  *out = v;
  return true;
}

bool parse_double(const std::string& s, double* out) {
  if (s.empty()) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end == s.c_str() || *end != '\0' || !std::isfinite(v)) {
    return false;
  }
  *out = v;
  return true;
}

bool parse_bool(const std::string& s, bool* out) {
  if (s == "1" || s == "true" || s == "yes" || s == "on") {
    *out = true;
    return true;
  }
  if (s == "0" || s == "false" || s == "no" || s == "off") {
    *out = false;
    return true;
  }
  return false;
}

const char* kind_name(OptionKind k) {
  switch (k) {
    case OptionKind::kInt: return "integer";
    case OptionKind::kDouble: return "number";
    case OptionKind::kBool: return "true|false";
    case OptionKind::kString: return "text";
  }
  return "text";
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (name.empty()) {
      return std::nullopt;
    }
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) {
      return std::nullopt;
    }
    return std::string(v);
  };
}

Options::Options(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

Options& Options::add_string(std::string flag, std::string env, std::string def, std::string help) {
  specs_.push_back({std::move(flag), std::move(env), OptionKind::kString, std::move(def), std::move(help)});
  return *this;
}
Options& Options::add_int(std::string flag, std::string env, std::int64_t def, std::string help) {
  specs_.push_back({std::move(flag), std::move(env), OptionKind::kInt, std::to_string(def), std::move(help)});
  return *this;
}
Options& Options::add_double(std::string flag, std::string env, double def, std::string help) {
  std::ostringstream os;
  os << def;
  specs_.push_back({std::move(flag), std::move(env), OptionKind::kDouble, os.str(), std::move(help)});
  return *this;
}
Options& Options::add_bool(std::string flag, std::string env, bool def, std::string help) {
  specs_.push_back(
      {std::move(flag), std::move(env), OptionKind::kBool, def ? "true" : "false", std::move(help)});
  return *this;
}
Options& Options::add_command(std::string name, std::string help) {
  commands_.emplace_back(std::move(name), std::move(help));
  return *this;
}

const OptionSpec& Options::spec(std::string_view flag) const {
  for (const auto& s : specs_) {
    if (s.flag == flag) {
      return s;
    }
  }
  throw std::logic_error("unregistered option " + std::string(flag));
}

Options::Parsed Options::parse(int argc, const char* const* argv, const EnvLookup& env) {
  Parsed result;
  values_.clear();
  set_.clear();
  positional_.clear();
  for (const auto& s : specs_) {
    values_[s.flag] = s.default_value;
    if (auto v = env(s.env)) {
      values_[s.flag] = *v;
      set_[s.flag] = true;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      result.help_requested = true;
      return result;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const OptionSpec* found = nullptr;
    for (const auto& s : specs_) {
      if (s.flag == name) {
        found = &s;
      }
    }
    if (found == nullptr) {
      result.error = "unknown option " + name;
      return result;
    }
    if (!value) {
      if (found->kind == OptionKind::kBool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        result.error = name + " needs a value";
        return result;
      }
    }
    values_[found->flag] = *value;
    set_[found->flag] = true;
  }
  // Validate every value, whichever source it came from.
  for (const auto& s : specs_) {
    const std::string& v = values_[s.flag];
    bool ok = true;
    std::int64_t i64;
    double d;
    bool b;
    switch (s.kind) {
      case OptionKind::kInt: ok = parse_int(v, &i64); break;
      case OptionKind::kDouble: ok = parse_double(v, &d); break;
      case OptionKind::kBool: ok = parse_bool(v, &b); break;
      case OptionKind::kString: break;
    }
    if (!ok) {
      result.error = s.flag + (s.env.empty() ? "" : " (" + s.env + ")") + " expects " + kind_name(s.kind) +
                     ", got '" + v + "'";
      return result;
    }
  }
  if (!commands_.empty() && !positional_.empty()) {
    bool known = false;
    for (const auto& [name, help] : commands_) {
      known = known || name == positional_.front();
    }
    if (!known) {
      result.error = "unknown command '" + positional_.front() + "'";
      return result;
    }
  }
  return result;
}

void Options::parse_or_exit(int argc, const char* const* argv) {
  Parsed p = parse(argc, argv);
  if (p.help_requested) {
    std::cout << help();
    std::exit(0);
  }
  if (!p.error.empty()) {
    std::cerr << program_ << ": " << p.error << "\n(see " << program_ << " --help)\n";
    std::exit(2);
  }
}

void Options::exit_usage_error(std::string_view message) const {
  std::cerr << program_ << ": " << message << " (see " << program_ << " --help)\n";
  std::exit(2);
}

std::string Options::get(std::string_view flag) const {
  spec(flag);
  return values_.find(flag)->second;
}
std::int64_t Options::get_int(std::string_view flag) const {
  std::int64_t v = 0;
  parse_int(get(flag), &v);
  return v;
}
double Options::get_double(std::string_view flag) const {
  double v = 0;
  parse_double(get(flag), &v);
  return v;
}
bool Options::get_bool(std::string_view flag) const {
  bool v = false;
  parse_bool(get(flag), &v);
  return v;
}
std::vector<std::string> Options::get_list(std::string_view flag) const {
  std::vector<std::string> out;
  std::stringstream ss(get(flag));
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) {
      out.push_back(item.substr(b, e - b + 1));
    }
  }
  return out;
}
bool Options::is_set(std::string_view flag) const {
  spec(flag);
  auto it = set_.find(flag);
  return it != set_.end() && it->second;
}

std::string Options::help() const {
  std::ostringstream os;
  os << "Usage: " << program_ << (commands_.empty() ? "" : " [COMMAND]") << " [OPTIONS]\n\n"
     << summary_ << "\n";
  if (!commands_.empty()) {
    os << "\nCommands:\n";
    for (const auto& [name, help] : commands_) {
      os << "  " << name << "\n      " << help << "\n";
    }
  }
  os << "\nOptions (flag, environment variable, default):\n";
  for (const auto& s : specs_) {
    os << "  " << s.flag << " <" << kind_name(s.kind) << ">";
    if (!s.env.empty()) {
      os << "   [env " << s.env << "]";
    }
    os << "   (default: " << (s.default_value.empty() ? "none" : s.default_value) << ")\n      " << s.help
       << "\n";
  }
  os << "  --help\n      Print this text and exit.\n";
  return os.str();
}

}  // namespace cocktail::core
