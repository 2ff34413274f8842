// ReadPool<T>: a fixed set of read-only connections to one SQLite file, each
// with the T that reads through it (a repository, a store), lent to threads
// one at a time. SQLite connections are not thread-safe, and in WAL mode any
// number of readers run beside the writer without blocking it, so each
// thread that reads needs a connection of its own; with as many connections
// as reading threads a lease never waits.
//
//   ReadPool<UsageStore> pool(path, 2, [](Database& db) { return std::make_unique<UsageStore>(db); });
//   auto lease = pool.acquire();
//   lease->rollups_since(...);
//
// Ownership: owns the connections and their T. Thread-safety: acquire() from
// any thread; a Lease is used by the thread holding it and must not outlive
// the pool.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cocktail/catalog/database.h"

namespace cocktail::catalog {

template <typename T>
class ReadPool {
 public:
  using Make = std::function<std::unique_ptr<T>(Database&)>;

  // Opens `count` (>= 1) read-only connections. Throws DatabaseError.
  ReadPool(const std::string& db_path, std::size_t count, const Make& make) {
    DatabaseOptions options;
    options.read_only = true;
    options.create_if_missing = false;
    for (std::size_t i = 0; i < std::max<std::size_t>(count, 1); ++i) {
      auto slot = std::make_unique<Slot>();
      slot->db = Database::open(db_path, options);
      slot->value = make(*slot->db);
      free_.push_back(slot.get());
      slots_.push_back(std::move(slot));
    }
  }
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  struct Slot {
    std::unique_ptr<Database> db;
    std::unique_ptr<T> value;  // destroyed before its connection
    ~Slot() { value.reset(); }
  };

  class Lease {
   public:
    Lease(ReadPool& pool, Slot* slot) : pool_(&pool), slot_(slot) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_) { other.slot_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (slot_) {
        pool_->release(slot_);
      }
    }
    T& operator*() { return *slot_->value; }
    T* operator->() { return slot_->value.get(); }
    Database& db() { return *slot_->db; }

   private:
    ReadPool* pool_;
    Slot* slot_;
  };

  // A free connection, waiting for one when all are lent.
  Lease acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    Slot* slot = free_.back();
    free_.pop_back();
    return Lease(*this, slot);
  }

 private:
  void release(Slot* slot) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(slot);
    }
    cv_.notify_one();
  }

  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot*> free_;
};

}  // namespace cocktail::catalog
