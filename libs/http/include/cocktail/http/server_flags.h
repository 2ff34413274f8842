// ServerFlags: the HTTP settings of a service binary (listen address, I/O
// threads, connection and body limits, shutdown timeout, access log, CORS)
// declared on its core::Options and read back into http::ServerOptions in
// one place, with the same checks for every service.
//
//   http::ServerFlags flags("127.0.0.1:8083");
//   flags.cors_origins = http::FlagText{"CORS_ORIGINS", "origins allowed ..."};
//   http::add_server_flags(o, flags);
//   o.parse_or_exit(argc, argv);
//   if (auto s = http::read_server_flags(o, flags, options.http); !s.ok())
//   o.exit_usage_error(s.error().message);
//
// A binary declares only the settings it takes (a std::nullopt FlagText
// leaves one out, and its ServerOptions field as the service set it). The
// flag names are fixed here; a binary keeps its own environment variable
// names and help lines, which its operators and docs/operations.md know.
//
// Thread-safety: none needed (called from main before any thread starts).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cocktail/core/options.h"
#include "cocktail/core/result.h"
#include "cocktail/http/server.h"

namespace cocktail::http {

// A setting's environment variable and its line in --help.
struct FlagText {
  std::string env;
  std::string help;
};

struct ServerFlags {
  explicit ServerFlags(std::string default_listen) : listen(std::move(default_listen)) {}

  // --http: the default listen address (host:port).
  std::string listen;
  FlagText listen_text{"HTTP_LISTEN", "HTTP listen address host:port"};
  // --io-threads: I/O threads, 1..64; default ServerOptions' (2).
  std::optional<FlagText> io_threads = FlagText{"HTTP_IO_THREADS", "HTTP I/O threads"};
  // --max-connections: open connections at most, at least 1.
  std::optional<FlagText> max_connections = FlagText{"HTTP_MAX_CONNECTIONS", "open HTTP connections at most"};
  // --max-body-bytes: the default body limit of a route, at least 1.
  std::optional<FlagText> max_body_bytes;
  // --shutdown-timeout-ms: how long stop() lets in-flight requests finish, ms.
  std::optional<FlagText> shutdown_timeout =
      FlagText{"SHUTDOWN_TIMEOUT_MS", "how long in-flight requests may finish, ms"};
  // --cors-origins: origins allowed to read answers from a browser.
  std::optional<FlagText> cors_origins;
  // --access-log: one log line per request.
  std::optional<FlagText> access_log = FlagText{"ACCESS_LOG", "one log line per HTTP request"};
};

// Declares the settings `flags` names, with ServerOptions' defaults.
void add_server_flags(core::Options& options, const ServerFlags& flags);

// Reads them into `server` after parsing; an error naming the flag when a
// value is out of range or the address is not host:port.
core::Status read_server_flags(const core::Options& options, const ServerFlags& flags, ServerOptions& server);

// A flag naming a file that holds a bearer token (--token-file,
// --read-token-file): nullopt when the flag is empty, an error naming the
// flag when the file cannot be read or holds no token.
core::Result<std::optional<std::string>> read_token_flag(const core::Options& options, std::string_view flag);

}  // namespace cocktail::http
