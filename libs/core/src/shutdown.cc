#include "cocktail/core/shutdown.h"

#include <pthread.h>
#include <signal.h>

#include "cocktail/core/log.h"

namespace cocktail::core {
namespace {

sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);  // private wake-up used by the destructor
  return set;
}

}  // namespace

ShutdownSignals::ShutdownSignals() {
  sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A write to a closed socket must be an error, not a dead process.
  ::signal(SIGPIPE, SIG_IGN);
  waiter_ = std::thread([this] {
    sigset_t s = shutdown_set();
    for (;;) {
      int sig = 0;
      if (sigwait(&s, &sig) != 0) {
        continue;
      }
      if (sig == SIGUSR2) {
        return;
      }
      if (requested_.exchange(true)) {
        log::warn("shutdown.repeat_signal", {{"signal", sig}});
        continue;
      }
      signal_.store(sig);
      log::info("shutdown.signal", {{"signal", sig}});
      run_callbacks();
    }
  });
}

ShutdownSignals::~ShutdownSignals() {
  pthread_kill(waiter_.native_handle(), SIGUSR2);
  waiter_.join();
}

void ShutdownSignals::on_shutdown(std::function<void()> callback) {
  std::lock_guard lock(mu_);
  callbacks_.push_back(std::move(callback));
}

void ShutdownSignals::request() {
  if (requested_.exchange(true)) {
    return;
  }
  run_callbacks();
}

void ShutdownSignals::run_callbacks() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    callbacks = callbacks_;
  }
  for (auto& cb : callbacks) {
    cb();
  }
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

void ShutdownSignals::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_; });
}

bool ShutdownSignals::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return done_; });
}

}  // namespace cocktail::core
