#include "cocktail/testing/postgres_server.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "cocktail/testing/child_process.h"
#include "cocktail/testing/ports.h"

namespace cocktail::testing {
namespace {

namespace fs = std::filesystem;

// As root, commands run as the `postgres` user (PostgreSQL refuses root).
std::vector<std::string> as_server_user(std::vector<std::string> argv) {
  if (::geteuid() != 0) {
    return argv;
  }
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

// Runs a command to its end (two minutes at most); its output in out/err.
ExitStatus run_to_end(const std::vector<std::string>& argv, std::string* out = nullptr,
                      std::string* err = nullptr) {
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  ChildProcess child(argv.front(), args);
  auto status = child.wait_for(std::chrono::seconds(120));
  if (out) {
    *out = child.stdout_text();
  }
  if (err) {
    *err = child.stderr_text();
  }
  if (!status) {
    child.kill();
    throw std::runtime_error("timed out: " + argv.front());
  }
  return *status;
}

}  // namespace

std::optional<std::string> PostgresServer::bin_dir() {
  if (const char* env = std::getenv("COCKTAIL_PG_BINDIR"); env && *env) {
    return std::string(env);
  }
  std::optional<std::string> best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

bool PostgresServer::required() {
  const char* env = std::getenv("COCKTAIL_REQUIRE_POSTGRES");
  return env && std::string(env) == "1";
}

PostgresServer* PostgresServer::shared(std::string* why) {
  static std::unique_ptr<PostgresServer> server;
  static std::string failure;
  if (server) {
    return server.get();
  }
  if (!failure.empty()) {
    if (why) {
      *why = failure;
    }
    if (required()) {
      throw std::runtime_error(failure);
    }
    return nullptr;
  }
  if (!bin_dir()) {
    failure = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)";
    if (why) {
      *why = failure;
    }
    if (required()) {
      throw std::runtime_error(failure);
    }
    return nullptr;
  }
  try {
    server = std::make_unique<PostgresServer>();
  } catch (const std::exception& e) {
    failure = e.what();
    throw;
  }
  return server.get();
}

PostgresServer::PostgresServer() : dir_("postgres-test") {
  auto bin = bin_dir();
  if (!bin) {
    throw std::runtime_error("PostgreSQL is not installed");
  }
  bin_ = *bin;
  data_ = dir_.file("data");
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      throw std::runtime_error("no `postgres` system user to run the server as");
    }
    if (::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot hand " + dir_.path().string() + " to the postgres user");
    }
  }
  port_ = free_loopback_port();
  std::string err;
  auto status = run_to_end(as_server_user({bin_ + "/initdb", "-D", data_, "-U", "postgres", "--auth=trust",
                                           "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}),
                           nullptr, &err);
  if (!status.success()) {
    throw std::runtime_error("initdb failed: " + err);
  }
  // Loopback TCP only; the socket directory is ours too.
  const std::string server_options = "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port_) +
                                     " -c unix_socket_directories=" + dir_.path().string() +
                                     " -c max_connections=200 -c shared_buffers=64MB";
  status = run_to_end(as_server_user({bin_ + "/pg_ctl", "-D", data_, "-l", dir_.file("server.log"), "-o",
                                      server_options, "-w", "-t", "60", "start"}),
                      nullptr, &err);
  if (!status.success()) {
    throw std::runtime_error("pg_ctl start failed: " + err + read_file(dir_.file("server.log")));
  }
  started_ = true;
}

PostgresServer::~PostgresServer() {
  if (!started_) {
    return;
  }
  try {
    run_to_end(as_server_user({bin_ + "/pg_ctl", "-D", data_, "-m", "fast", "-w", "-t", "60", "stop"}));
  } catch (...) {
  }
}

std::string PostgresServer::uri(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::create_database() {
  const std::string name = "test_" + std::to_string(::getpid()) + "_" + std::to_string(++next_database_);
  psql(uri(), "CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'");
  return uri(name);
}

std::string PostgresServer::psql(const std::string& target, const std::string& sql) const {
  std::string out;
  std::string err;
  auto status = run_to_end(
      {bin_ + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", target, "-c", sql}, &out, &err);
  if (!status.success()) {
    throw std::runtime_error("psql failed: " + err + " in: " + sql);
  }
  return out;
}

}  // namespace cocktail::testing
