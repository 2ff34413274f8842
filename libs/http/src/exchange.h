// Exchange: one request waiting for its response. Shared by every copy of
// the Responder; refers to its session weakly so that a handler holding a
// Responder never keeps a closed connection alive. Completed exactly once:
// by a send, an opened stream, the response timeout, or (when the last
// Responder is dropped unanswered) a 500.
#pragma once

#include <atomic>
#include <memory>

#include "cocktail/http/request.h"

namespace cocktail::http::detail {

class Session;

class Exchange {
 public:
  Exchange(std::weak_ptr<Session> session, Request request)
      : request(std::move(request)), session(std::move(session)) {}
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // True for exactly one caller.
  bool try_complete() { return !completed_.exchange(true, std::memory_order_acq_rel); }
  bool completed() const { return completed_.load(std::memory_order_acquire); }

  const Request request;
  const std::weak_ptr<Session> session;

 private:
  std::atomic<bool> completed_{false};
};

}  // namespace cocktail::http::detail
