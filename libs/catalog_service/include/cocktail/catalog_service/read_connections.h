// ReadConnections: a fixed set of read-only catalog connections, each with
// its Repository, lent to the threads of the read executor one request at a
// time. SQLite connections are not thread-safe, and in WAL mode any number of
// readers run beside the writer without blocking it, so each thread that
// reads needs a connection of its own; with as many connections as executor
// threads a lease never waits.
//
// Ownership: owns the connections. Thread-safety: acquire() from any thread;
// a Lease is used by the thread that holds it and must not outlive the pool.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cocktail/catalog/database.h"
#include "cocktail/catalog/repository.h"

namespace cocktail::catalog_service {

class ReadConnections {
 public:
  // Opens `count` (>= 1) read-only connections to a migrated catalog. Throws
  // catalog::DatabaseError when the file cannot be opened.
  ReadConnections(const std::string& db_path, std::size_t count);
  ~ReadConnections();
  ReadConnections(const ReadConnections&) = delete;
  ReadConnections& operator=(const ReadConnections&) = delete;

  struct Connection {
    std::unique_ptr<catalog::Database> db;
    std::unique_ptr<catalog::Repository> repository;
  };

  class Lease {
   public:
    Lease(ReadConnections& pool, Connection* connection) : pool_(&pool), connection_(connection) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), connection_(other.connection_) {
      other.connection_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (connection_) {
        pool_->release(connection_);
      }
    }
    catalog::Repository& repository() { return *connection_->repository; }

   private:
    ReadConnections* pool_;
    Connection* connection_;
  };

  // A free connection, waiting for one when all are lent.
  Lease acquire();

 private:
  void release(Connection* connection);

  std::vector<std::unique_ptr<Connection>> connections_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Connection*> free_;
};

}  // namespace cocktail::catalog_service
