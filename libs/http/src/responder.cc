#include "cocktail/http/responder.h"

#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include "cocktail/core/log.h"
#include "cocktail/http/errors.h"
#include "exchange.h"
#include "session.h"
#include "stream_state.h"

namespace cocktail::http {

namespace detail {

Exchange::~Exchange() {
  if (!try_complete()) {
    return;
  }
  // Every Responder was dropped without an answer: a handler bug, but the
  // client still gets a response instead of a hung connection.
  core::log::error("http.unanswered_request",
                   {{"route", request.route()}, {"request_id", request.request_id()}});
  if (auto s = session.lock()) {
    s->deliver(error_response(Status::internal_server_error, kInternal, "the request was not answered"));
  }
}

}  // namespace detail

namespace {

// The SendBatch scopes open on this thread, and the responses they hold.
struct Held {
  int depth = 0;
  std::vector<std::pair<std::shared_ptr<detail::Session>, Response>> responses;
};
thread_local Held held;

}  // namespace

SendBatch::SendBatch() { outermost_ = held.depth++ == 0; }

SendBatch::~SendBatch() {
  --held.depth;
  if (!outermost_) {
    return;
  }
  auto responses = std::move(held.responses);
  held.responses.clear();
  try {
    // One hand-over per I/O thread: sessions sharing an executor share a
    // thread (a server has a handful of them, so this loop is short).
    while (!responses.empty()) {
      const auto executor = responses.front().first->executor();
      std::vector<std::pair<std::shared_ptr<detail::Session>, Response>> same, others;
      for (auto& item : responses) {
        (item.first->executor() == executor ? same : others).push_back(std::move(item));
      }
      detail::Session::deliver_all(std::move(same));
      responses = std::move(others);
    }
  } catch (const std::exception& e) {
    // (Out of memory.) A destructor must not throw: the requests not handed
    // over stay unanswered, and their connections are closed at shutdown.
    core::log::error("http.send_batch_failed", {{"error", e.what()}});
  }
}

const Request& Responder::request() const { return exchange_->request; }

bool Responder::send(Response response) {
  if (!exchange_->try_complete()) {
    return false;
  }
  if (auto s = exchange_->session.lock()) {
    if (held.depth > 0) {
      held.responses.emplace_back(std::move(s), std::move(response));
    } else {
      s->deliver(std::move(response));
    }
  }
  return true;
}

EventStream Responder::open_stream(Response headers) {
  if (!exchange_->try_complete()) {
    return EventStream();
  }
  auto s = exchange_->session.lock();
  if (!s) {
    return EventStream();
  }
  auto state = std::make_shared<detail::StreamState>(s, s->stream_buffer_limit());
  s->deliver_stream(state, std::move(headers));
  return EventStream(std::move(state));
}

bool Responder::completed() const { return exchange_->completed(); }

}  // namespace cocktail::http
