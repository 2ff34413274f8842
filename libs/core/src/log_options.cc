#include "cocktail/core/log_options.h"

#include <utility>

#include "cocktail/core/log.h"

namespace cocktail::core {

void add_log_level_option(Options& options, std::string help) {
  options.add_string("--log-level", "LOG_LEVEL", "info", std::move(help));
}

Status apply_log_level(const Options& options) {
  log::Level level;
  if (!log::parse_level(options.get("--log-level"), &level)) {
    return Error::invalid("--log-level", "--log-level must be debug, info, warn or error");
  }
  log::set_level(level);
  return Ok{};
}

}  // namespace cocktail::core
