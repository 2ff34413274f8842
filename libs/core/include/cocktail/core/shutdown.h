// ShutdownSignals: turns SIGTERM and SIGINT into an orderly stop.
//
// Construct it first thing in main(), before any thread starts: it blocks the
// two signals in the calling thread (and so in every thread created after)
// and waits for them on a thread of its own. The first signal runs the
// registered callbacks once, in registration order, on that thread; a second
// signal while stopping is logged and ignored (the process still stops within
// the bounds of each component).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cocktail::core {

class ShutdownSignals {
 public:
  ShutdownSignals();
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Callbacks run once, on the first signal or request().
  void on_shutdown(std::function<void()> callback);
  // Starts the shutdown as if a signal had arrived (tests, fatal errors).
  void request();
  bool requested() const { return requested_.load(); }
  // Blocks until shutdown was requested and every callback has returned.
  void wait();
  // As wait(), bounded; true when shutdown happened.
  bool wait_for(std::chrono::milliseconds timeout);
  // The signal number that started the shutdown, 0 when request() did.
  int signal_number() const { return signal_.load(); }

 private:
  void run_callbacks();
  std::atomic<bool> requested_{false};
  std::atomic<int> signal_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<std::function<void()>> callbacks_;
  std::thread waiter_;
};

}  // namespace cocktail::core
