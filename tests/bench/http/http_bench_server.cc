// http-bench-server: serves two fixed bodies from memory through libs/http,
// the way the read service serves snapshots (shared immutable bytes with an
// ETag), so that tests/bench/http_static.sh can compare it with nginx
// serving the same bytes from files.
//
//   http-bench-server --dump DIR           writes large.json and small.json, exits
//   http-bench-server --http 127.0.0.1:0   serves GET /large.json and /small.json
//
// Prints "listening port=<port>" on stdout once ready; stops on SIGTERM/SIGINT.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cocktail/core/log.h"
#include "cocktail/core/options.h"
#include "cocktail/core/shutdown.h"
#include "cocktail/http/server.h"
#include "cocktail/metrics/registry.h"

namespace {

// A JSON array of objects of about `bytes` bytes, deterministic.
std::string make_body(std::size_t bytes) {
  std::string out = "[";
  for (int i = 0; out.size() + 80 < bytes; ++i) {
    if (i > 0) {
      out += ",";
    }
    char item[128];
    std::snprintf(item, sizeof item, R"({"id":%d,"name":"recipe %d","x":%.6f,"y":%.6f,"cluster":%d})", i, i,
                  (i * 7919 % 10007) / 10007.0, (i * 104729 % 10009) / 10009.0, i % 12);
    out += item;
  }
  // Pad with spaces (valid JSON) to the exact size.
  if (out.size() + 1 < bytes) {
    out.append(bytes - out.size() - 1, ' ');
  }
  out += "]";
  return out;
}

int run(int argc, char** argv) {
  using namespace cocktail;
  core::ShutdownSignals signals;
  core::Options options("http-bench-server", "Serves fixed bodies from memory for HTTP benchmarks.");
  options.add_string("--http", "HTTP_LISTEN", "127.0.0.1:0", "listen address host:port");
  options.add_int("--io-threads", "HTTP_IO_THREADS", 2, "I/O threads");
  options.add_bool("--access-log", "HTTP_ACCESS_LOG", true, "one log line per request on stderr");
  options.add_int("--large-bytes", "", std::int64_t{270} * 1024, "size of /large.json");
  options.add_int("--small-bytes", "", 1024, "size of /small.json");
  options.add_string("--dump", "", "", "write the bodies into this directory and exit");
  options.parse_or_exit(argc, argv);

  auto large = std::make_shared<const std::string>(
      make_body(static_cast<std::size_t>(options.get_int("--large-bytes"))));
  auto small = std::make_shared<const std::string>(
      make_body(static_cast<std::size_t>(options.get_int("--small-bytes"))));

  if (!options.get("--dump").empty()) {
    std::filesystem::path dir = options.get("--dump");
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "large.json", std::ios::binary) << *large;
    std::ofstream(dir / "small.json", std::ios::binary) << *small;
    return 0;
  }

  auto address = http::parse_listen_address(options.get("--http"));
  if (!address.ok()) {
    std::cerr << address.error().message << "\n";
    return 2;
  }
  http::ServerOptions server_options;
  server_options.host = address->first;
  server_options.port = address->second;
  server_options.io_threads = static_cast<int>(options.get_int("--io-threads"));
  server_options.access_log = options.get_bool("--access-log");

  metrics::MetricsRegistry registry;
  http::Server server(server_options, registry);
  for (auto [path, body] : {std::pair{"/large.json", large}, std::pair{"/small.json", small}}) {
    std::string etag = "\"";
    etag.append(std::to_string(std::hash<std::string>()(*body))).push_back('"');
    server.router().add(
        http::Method::get, path, http::SyncHandler([bytes = body, etag](const http::Request& req) {
          if (req.header(http::Field::if_none_match) == etag) {
            return http::Response::empty(http::Status::not_modified).set_header(http::Field::etag, etag);
          }
          return http::Response::shared(http::Status::ok, bytes, "application/json")
              .set_header(http::Field::etag, etag)
              .set_header(http::Field::cache_control, "public, max-age=5");
        }));
  }
  try {
    server.start();
  } catch (const std::exception& e) {
    std::cerr << "cannot listen on " << options.get("--http") << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << "listening port=" << server.port() << std::endl;
  signals.on_shutdown([&] { server.stop(); });
  signals.wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "http_bench_server: " << e.what() << "\n";
    return 1;
  }
}
