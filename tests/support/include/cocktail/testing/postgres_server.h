// PostgresServer: a real PostgreSQL server for tests, started by the tests
// themselves: initdb and pg_ctl (Debian's postgresql package) in a fresh
// temporary directory, listening on a free loopback port only, stopped and
// removed when the object is destroyed. As root (CI) the server runs as the
// `postgres` system user, which owns the directory.
//
// One server per test process is enough: shared() starts it on first use
// and stops it at exit; each test takes a database of its own with
// create_database().
//
// Not thread-safe: use from the test thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cocktail/testing/temp_dir.h"

namespace cocktail::testing {

class PostgresServer {
 public:
  // Throws std::runtime_error when the server cannot be started.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The directory of the PostgreSQL binaries (initdb, pg_ctl, psql), or
  // nullopt when PostgreSQL is not installed. COCKTAIL_PG_BINDIR overrides.
  static std::optional<std::string> bin_dir();
  // True when tests must not skip for want of PostgreSQL
  // (COCKTAIL_REQUIRE_POSTGRES=1, set by tests/run.sh).
  static bool required();
  // The process-wide server, started on first use; nullptr (with the reason
  // in `why`) when PostgreSQL is not installed and not required.
  static PostgresServer* shared(std::string* why = nullptr);

  int port() const { return port_; }
  // A URI for the maintenance database `postgres`.
  std::string uri(const std::string& database = "postgres") const;
  // Creates an empty database with a fresh name; returns its URI.
  std::string create_database();
  // Runs psql -X -v ON_ERROR_STOP=1 -At on `uri` with `sql` on stdin;
  // returns stdout. Throws std::runtime_error (with stderr) on failure.
  std::string psql(const std::string& uri, const std::string& sql) const;
  std::string psql_path() const { return bin_ + "/psql"; }

 private:
  std::string bin_;
  TempDir dir_;
  std::string data_;
  int port_ = 0;
  int next_database_ = 0;
  bool started_ = false;
};

}  // namespace cocktail::testing
