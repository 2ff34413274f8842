// BlockingExecutor: a fixed pool of threads for work that may block (SQLite,
// file system), so that I/O threads never do. Tasks run in submission order
// per thread; a bounded queue keeps an overloaded service answering 503
// quickly instead of queueing without limit.
//
//   router.add(Method::get, "/api/v1/recipes/{id}", [&](const Request&, Responder r) {
//     db.respond(std::move(r), [&](const Request& req) { return load_recipe(req); });
//   });
//
// Thread-safe. The destructor stops the pool: queued tasks still run, then
// the threads are joined.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/http/responder.h"
#include "cocktail/http/response.h"

namespace cocktail::http {

class BlockingExecutor {
 public:
  // `threads` >= 1; `max_queue` tasks may wait (beyond those running).
  BlockingExecutor(std::string name, std::size_t threads, std::size_t max_queue = 10000);
  ~BlockingExecutor();
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // Queues a task; false when the queue is full or the pool stopped. A task
  // that throws is logged and the pool carries on.
  bool post(std::function<void()> task);

  // Runs `work` on the pool and sends its response. When the queue is full
  // the request gets 503 at once; when `work` throws, 500 (logged).
  void respond(Responder responder, std::function<Response(const Request&)> work);

  // No new tasks; waits for queued and running ones; joins. Idempotent.
  void stop();

  std::size_t queued() const;
  std::size_t threads() const { return workers_.size(); }

 private:
  void run();
  const std::string name_;
  const std::size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cocktail::http
