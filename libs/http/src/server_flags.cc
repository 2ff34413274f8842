#include "cocktail/http/server_flags.h"

#include <chrono>
#include <cstdint>

#include "cocktail/http/bearer_token.h"

namespace cocktail::http {
namespace {

constexpr std::int64_t kMaxIoThreads = 64;

core::Error out_of_range(std::string_view flag, std::string_view what) {
  std::string message(flag);
  message.append(" must be ").append(what);
  return core::Error::invalid(std::string(flag), message);
}

}  // namespace

void add_server_flags(core::Options& o, const ServerFlags& flags) {
  const ServerOptions defaults;
  o.add_string("--http", flags.listen_text.env, flags.listen, flags.listen_text.help);
  if (flags.io_threads) {
    o.add_int("--io-threads", flags.io_threads->env, defaults.io_threads, flags.io_threads->help);
  }
  if (flags.max_body_bytes) {
    o.add_int("--max-body-bytes", flags.max_body_bytes->env,
              static_cast<std::int64_t>(defaults.max_body_bytes), flags.max_body_bytes->help);
  }
  if (flags.max_connections) {
    o.add_int("--max-connections", flags.max_connections->env,
              static_cast<std::int64_t>(defaults.max_connections), flags.max_connections->help);
  }
  if (flags.cors_origins) {
    o.add_string("--cors-origins", flags.cors_origins->env, "", flags.cors_origins->help);
  }
  if (flags.shutdown_timeout) {
    o.add_int("--shutdown-timeout-ms", flags.shutdown_timeout->env, defaults.shutdown_timeout.count(),
              flags.shutdown_timeout->help);
  }
  if (flags.access_log) {
    o.add_bool("--access-log", flags.access_log->env, defaults.access_log, flags.access_log->help);
  }
}

core::Status read_server_flags(const core::Options& o, const ServerFlags& flags, ServerOptions& server) {
  auto listen = parse_listen_address(o.get("--http"), "--http");
  if (!listen.ok()) {
    return listen.error();
  }
  server.host = listen->first;
  server.port = listen->second;
  if (flags.io_threads) {
    const auto n = o.get_int("--io-threads");
    if (n < 1 || n > kMaxIoThreads) {
      return out_of_range("--io-threads", "1..64");
    }
    server.io_threads = static_cast<int>(n);
  }
  if (flags.max_body_bytes) {
    const auto n = o.get_int("--max-body-bytes");
    if (n < 1) {
      return out_of_range("--max-body-bytes", "at least 1");
    }
    server.max_body_bytes = static_cast<std::size_t>(n);
  }
  if (flags.max_connections) {
    const auto n = o.get_int("--max-connections");
    if (n < 1) {
      return out_of_range("--max-connections", "at least 1");
    }
    server.max_connections = static_cast<std::size_t>(n);
  }
  if (flags.cors_origins) {
    server.cors.allowed_origins = o.get_list("--cors-origins");
  }
  if (flags.shutdown_timeout) {
    const auto ms = o.get_int("--shutdown-timeout-ms");
    if (ms < 0) {
      return out_of_range("--shutdown-timeout-ms", "at least 0");
    }
    server.shutdown_timeout = std::chrono::milliseconds(ms);
  }
  if (flags.access_log) {
    server.access_log = o.get_bool("--access-log");
  }
  return core::Ok{};
}

core::Result<std::optional<std::string>> read_token_flag(const core::Options& o, std::string_view flag) {
  const std::string path = o.get(flag);
  if (path.empty()) {
    return std::optional<std::string>();
  }
  auto token = read_token_file(path);
  if (!token.ok()) {
    core::Error error = token.error();
    error.field = std::string(flag);
    error.message = std::string(flag) + ": " + error.message;
    return error;
  }
  return std::optional<std::string>(std::move(*token));
}

}  // namespace cocktail::http
