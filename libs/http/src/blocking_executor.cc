#include "cocktail/http/blocking_executor.h"

#include <exception>
#include <stdexcept>

#include "cocktail/core/log.h"
#include "cocktail/http/errors.h"

namespace cocktail::http {

BlockingExecutor::BlockingExecutor(std::string name, std::size_t threads, std::size_t max_queue)
    : name_(std::move(name)), max_queue_(max_queue) {
  if (threads == 0) {
    throw std::invalid_argument("BlockingExecutor needs at least one thread");
  }
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this] { run(); });
  }
}

BlockingExecutor::~BlockingExecutor() { stop(); }

bool BlockingExecutor::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) {
      return false;
    }
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void BlockingExecutor::respond(Responder responder, std::function<Response(const Request&)> work) {
  Responder keep = responder;  // answers 503 below if the task is refused
  bool queued = post([responder = std::move(responder), work = std::move(work), name = name_]() mutable {
    try {
      responder.send(work(responder.request()));
    } catch (const std::exception& e) {
      core::log::error(
          "http.handler_failed",
          {{"executor", name}, {"request_id", responder.request().request_id()}, {"error", e.what()}});
      responder.send(error_response(Status::internal_server_error, kInternal, "internal error"));
    }
  });
  if (!queued) {
    keep.send(error_response(Status::service_unavailable, kUnavailable, "server busy, try again")
                  .set_header(Field::retry_after, "1"));
  }
}

void BlockingExecutor::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

std::size_t BlockingExecutor::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BlockingExecutor::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      core::log::error("executor.task_failed", {{"executor", name_}, {"error", e.what()}});
    } catch (...) {
      core::log::error("executor.task_failed", {{"executor", name_}, {"error", "unknown exception"}});
    }
  }
}

}  // namespace cocktail::http
