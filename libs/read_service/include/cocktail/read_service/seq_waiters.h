// CatalogSeqWaiters: read-your-writes on top of eventual consistency.
//
// A client that wrote with catalog seq N asks for `min_seq=N`; when the
// served generation does not cover N yet, its request is parked here — a
// callback holding the request's Responder, not a thread — until a
// generation with catalog_seq >= N is swapped in (on_generation(), called by
// the SnapshotCache listener) or its deadline passes (one timer thread for
// all waiters). Each waiter's callback runs exactly once: with the
// generation that satisfied it, or with null on timeout or stop().
//
// park() checks against the newest generation it was told about under the
// same lock that on_generation() takes, so a swap racing a park is never
// missed. The number of waiters is bounded; beyond it park() refuses (the
// caller answers 503 at once) so a flood of waiting clients costs bounded
// memory.
//
// Thread-safety: every method from any thread. Callbacks run on the thread
// calling on_generation() or on the timer thread, never under a lock; keep
// them short (they send a prepared response).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/metrics/registry.h"
#include "cocktail/read_service/generation.h"

namespace cocktail::read_service {

class CatalogSeqWaiters {
 public:
  using Clock = std::chrono::steady_clock;
  // The generation that satisfied the wait, or null (timed out, stopped).
  using Callback = std::function<void(std::shared_ptr<const Generation>)>;

  CatalogSeqWaiters(std::size_t max_waiters, metrics::MetricsRegistry& registry);
  ~CatalogSeqWaiters();  // stop()
  CatalogSeqWaiters(const CatalogSeqWaiters&) = delete;
  CatalogSeqWaiters& operator=(const CatalogSeqWaiters&) = delete;

  struct Parked {
    enum class Kind { kParked, kSatisfied, kFull, kStopped } kind = Kind::kParked;
    // When kSatisfied: a generation newer than the caller saw that covers min_seq.
    std::shared_ptr<const Generation> generation;
  };
  // Parks `callback` until a generation with catalog_seq >= min_seq or
  // `deadline`. When the newest generation already covers min_seq, nothing
  // is parked and it is returned (kSatisfied); the callback is not called
  // unless kParked.
  // `files`: see Generation::covered_seq (empty: the generation's seq).
  Parked park(std::int64_t min_seq, std::vector<std::string> files, Clock::time_point deadline,
              Callback callback);

  // A new generation is served: completes every waiter it covers.
  void on_generation(const std::shared_ptr<const Generation>& generation);

  // Completes every waiter with null and refuses new ones. Idempotent.
  void stop();

  std::size_t waiting() const;

 private:
  struct Waiter {
    std::int64_t min_seq = 0;
    std::vector<std::string> files;
    Callback callback;
  };
  void run();
  void finish(std::vector<Callback>& callbacks, const std::shared_ptr<const Generation>& generation,
              const char* result);

  const std::size_t max_waiters_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::shared_ptr<const Generation> newest_;
  std::multimap<Clock::time_point, Waiter> by_deadline_;
  std::thread timer_;

  prometheus::Gauge& waiting_gauge_;
  prometheus::Family<prometheus::Counter>& waits_;
};

}  // namespace cocktail::read_service
