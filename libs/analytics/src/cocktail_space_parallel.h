// Work splitting for the cocktail-space stages: items [0, count) are handed
// out in fixed-size chunks to `threads` workers. Every item's result must
// depend only on the item (each writes its own slot), so the outcome is the
// same for any thread count and any scheduling; reductions happen afterwards,
// in item order, on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace cocktail::analytics::detail {

// Runs body(worker, begin, end) over chunks of [0, count). `worker` is in
// [0, threads) and lets a body use per-worker scratch space. The first
// exception thrown by a body is rethrown here after every worker stopped.
template <typename Body>
void parallel_chunks(std::size_t count, unsigned threads, std::size_t chunk, Body&& body) {
  if (count == 0) {
    return;
  }
  chunk = std::max<std::size_t>(chunk, 1);
  const std::size_t chunks = (count + chunk - 1) / chunk;
  threads = static_cast<unsigned>(std::clamp<std::size_t>(threads, 1, chunks));
  if (threads == 1) {
    body(0u, std::size_t{0}, count);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](unsigned worker) {
    try {
      for (;;) {
        const std::size_t c = next.fetch_add(1, std::memory_order_relaxed);
        if (c >= chunks) {
          return;
        }
        body(worker, c * chunk, std::min(count, (c + 1) * chunk));
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) {
        error = std::current_exception();
      }
      next.store(chunks, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (unsigned w = 1; w < threads; ++w) {
    pool.emplace_back(run, w);
  }
  run(0);
  for (auto& t : pool) {
    t.join();
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

}  // namespace cocktail::analytics::detail
