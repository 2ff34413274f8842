// --log-level / LOG_LEVEL, declared and applied the same way by every binary.
//
//   core::add_log_level_option(o);
//   o.parse_or_exit(argc, argv);
//   if (auto s = core::apply_log_level(o); !s.ok()) o.exit_usage_error(s.error().message);
#pragma once

#include <string>

#include "cocktail/core/options.h"
#include "cocktail/core/result.h"

namespace cocktail::core {

void add_log_level_option(Options& options, std::string help = "debug, info, warn or error");

// Sets the log level from the option; an error naming it when the value is
// not debug, info, warn or error.
Status apply_log_level(const Options& options);

}  // namespace cocktail::core
