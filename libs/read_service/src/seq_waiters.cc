#include "cocktail/read_service/seq_waiters.h"

#include <vector>

namespace cocktail::read_service {

CatalogSeqWaiters::CatalogSeqWaiters(std::size_t max_waiters, metrics::MetricsRegistry& registry)
    : max_waiters_(max_waiters),
      waiting_gauge_(
          registry.gauge("cocktail_read_waiters", "Requests waiting for a generation covering their min_seq")
              .Add({})),
      waits_(registry.counter("cocktail_read_waits_total",
                              "min_seq waits by result (satisfied, timeout, rejected)")) {
  for (const char* r : {"satisfied", "timeout", "rejected"}) {
    waits_.Add({{"result", r}});
  }
  timer_ = std::thread([this] { run(); });
}

CatalogSeqWaiters::~CatalogSeqWaiters() {
  stop();
  if (timer_.joinable()) {
    timer_.join();
  }
}

CatalogSeqWaiters::Parked CatalogSeqWaiters::park(std::int64_t min_seq, std::vector<std::string> files,
                                                  Clock::time_point deadline, Callback callback) {
  Parked out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      out.kind = Parked::Kind::kStopped;
      return out;
    }
    if (newest_ && newest_->covered_seq(files) >= min_seq) {
      out.kind = Parked::Kind::kSatisfied;
      out.generation = newest_;
      return out;
    }
    if (by_deadline_.size() >= max_waiters_) {
      out.kind = Parked::Kind::kFull;
    } else {
      const bool earliest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
      by_deadline_.emplace(deadline, Waiter{min_seq, std::move(files), std::move(callback)});
      waiting_gauge_.Set(static_cast<double>(by_deadline_.size()));
      if (earliest) {
        cv_.notify_one();
      }
    }
  }
  if (out.kind == Parked::Kind::kFull) {
    waits_.Add({{"result", "rejected"}}).Increment();
  }
  return out;
}

void CatalogSeqWaiters::finish(std::vector<Callback>& callbacks,
                               const std::shared_ptr<const Generation>& generation, const char* result) {
  if (callbacks.empty()) {
    return;
  }
  waits_.Add({{"result", result}}).Increment(static_cast<double>(callbacks.size()));
  for (auto& cb : callbacks) {
    try {
      cb(generation);
    } catch (...) {
      // A callback only sends a response; a failure there must not stop the others.
    }
  }
}

void CatalogSeqWaiters::on_generation(const std::shared_ptr<const Generation>& generation) {
  std::vector<Callback> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!newest_ || generation->generation() != newest_->generation()) {
      newest_ = generation;
    }
    for (auto it = by_deadline_.begin(); it != by_deadline_.end();) {
      if (it->second.min_seq <= generation->covered_seq(it->second.files)) {
        ready.push_back(std::move(it->second.callback));
        it = by_deadline_.erase(it);
      } else {
        ++it;
      }
    }
    waiting_gauge_.Set(static_cast<double>(by_deadline_.size()));
  }
  finish(ready, generation, "satisfied");
}

void CatalogSeqWaiters::stop() {
  std::vector<Callback> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && by_deadline_.empty()) {
      return;
    }
    stopping_ = true;
    for (auto& [deadline, waiter] : by_deadline_) {
      all.push_back(std::move(waiter.callback));
    }
    by_deadline_.clear();
    waiting_gauge_.Set(0);
  }
  cv_.notify_all();
  finish(all, nullptr, "timeout");
}

std::size_t CatalogSeqWaiters::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_deadline_.size();
}

void CatalogSeqWaiters::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (by_deadline_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto deadline = by_deadline_.begin()->first;
    if (Clock::now() < deadline) {
      cv_.wait_until(lock, deadline);
      continue;
    }
    std::vector<Callback> expired;
    const auto now = Clock::now();
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      expired.push_back(std::move(by_deadline_.begin()->second.callback));
      by_deadline_.erase(by_deadline_.begin());
    }
    waiting_gauge_.Set(static_cast<double>(by_deadline_.size()));
    lock.unlock();
    finish(expired, nullptr, "timeout");
    lock.lock();
  }
}

}  // namespace cocktail::read_service
