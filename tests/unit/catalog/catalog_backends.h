// The catalog suites run on both backends: a test fixture parameterised by
// catalog::Backend gets a fresh catalog location (a SQLite file in a
// temporary directory, or a fresh database on the test PostgreSQL server,
// see cocktail/testing/postgres_server.h) and a raw connection that writes
// as any outside client would (the sqlite3 shell, psql), bypassing the
// library.
//
//   class MyTest : public ::testing::TestWithParam<Backend> { ... TestCatalog catalog_{GetParam()}; };
//   INSTANTIATE_TEST_SUITE_P(Backends, MyTest, AllBackends(), BackendName);
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cocktail/catalog/database.h"
#include "cocktail/testing/postgres_server.h"
#include "cocktail/testing/temp_dir.h"
#include "temp_catalog.h"

namespace cocktail::catalog::testing {

// SQLite always; PostgreSQL when it is installed (or required: then a
// missing server fails the tests instead of leaving them out).
inline std::vector<Backend> all_backends() {
  std::vector<Backend> out{Backend::kSqlite};
  if (cocktail::testing::PostgresServer::bin_dir() || cocktail::testing::PostgresServer::required()) {
    out.push_back(Backend::kPostgres);
  }
  return out;
}
inline auto AllBackends() { return ::testing::ValuesIn(all_backends()); }
inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kPostgres ? "Postgres" : "Sqlite";
}

// A raw connection of another client: psql's, or the sqlite3 shell's
// (RawConnection).
class RawSql {
 public:
  explicit RawSql(const std::string& location) {
    if (Database::is_postgres_location(location)) {
      pg_ = PQconnectdb(location.c_str());
      if (PQstatus(pg_) != CONNECTION_OK) {
        throw std::runtime_error(std::string("raw connect: ") + PQerrorMessage(pg_));
      }
      PQclear(PQexec(pg_, "SET extra_float_digits = 1"));
    } else {
      lite_ = std::make_unique<RawConnection>(location);
    }
  }
  ~RawSql() {
    if (pg_) {
      PQfinish(pg_);
    }
  }
  RawSql(const RawSql&) = delete;
  RawSql& operator=(const RawSql&) = delete;

  bool postgres() const { return pg_ != nullptr; }
  PGconn* pg() { return pg_; }

  void exec(const std::string& sql) {
    if (lite_) {
      return lite_->exec(sql);
    }
    PGresult* r = PQexec(pg_, sql.c_str());
    const auto status = PQresultStatus(r);
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error("raw exec failed: " + msg + " in: " + sql);
    }
  }
  // Every row of a query as "a|b|c" lines ("NULL" for nulls).
  std::string dump(const std::string& sql) {
    if (lite_) {
      return lite_->dump(sql);
    }
    PGresult* r = PQexec(pg_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("raw query failed: " + msg + " in: " + sql);
    }
    std::ostringstream out;
    for (int row = 0; row < PQntuples(r); ++row) {
      for (int c = 0; c < PQnfields(r); ++c) {
        if (c) {
          out << '|';
        }
        out << (PQgetisnull(r, row, c) ? "NULL" : PQgetvalue(r, row, c));
      }
      out << '\n';
    }
    PQclear(r);
    return out.str();
  }
  long long scalar(const std::string& sql) { return first_number(dump(sql)); }

 private:
  PGconn* pg_ = nullptr;
  std::unique_ptr<RawConnection> lite_;
};

// A fresh, empty catalog location on one backend.
class TestCatalog {
 public:
  explicit TestCatalog(Backend backend) : backend_(backend) {
    if (backend == Backend::kPostgres) {
      location_ = cocktail::testing::PostgresServer::shared()->create_database();
    } else {
      location_ = dir_.file("catalog.db");
    }
  }
  Backend backend() const { return backend_; }
  bool postgres() const { return backend_ == Backend::kPostgres; }
  const std::string& location() const { return location_; }
  // A file beside a SQLite catalog (any backend: for snapshots and logs).
  std::string file(const std::string& name) const { return dir_.file(name); }
  std::unique_ptr<RawSql> raw() const { return std::make_unique<RawSql>(location_); }

 private:
  Backend backend_;
  cocktail::testing::TempDir dir_{"catalog-test"};
  std::string location_;
};

}  // namespace cocktail::catalog::testing
