// Bounded polling: every wait in a test has a deadline so that a broken
// component fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace cocktail::testing {

// Calls `predicate` every `poll` until it returns true (returns true) or
// `timeout` has passed (returns false, after one last check).
inline bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) {
      return true;
    }
    std::this_thread::sleep_for(poll);
  }
  return predicate();
}

}  // namespace cocktail::testing
