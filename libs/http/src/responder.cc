#include "cocktail/http/responder.h"

#include "cocktail/core/log.h"
#include "cocktail/http/errors.h"
#include "exchange.h"
#include "session.h"
#include "stream_state.h"

namespace cocktail::http {

namespace detail {

Exchange::~Exchange() {
  if (!try_complete()) return;
  // Every Responder was dropped without an answer: a handler bug, but the
  // client still gets a response instead of a hung connection.
  core::log::error("http.unanswered_request",
                   {{"route", request.route()}, {"request_id", request.request_id()}});
  if (auto s = session.lock()) {
    s->deliver(error_response(Status::internal_server_error, kInternal, "the request was not answered"));
  }
}

}  // namespace detail

const Request& Responder::request() const { return exchange_->request; }

bool Responder::send(Response response) {
  if (!exchange_->try_complete()) return false;
  if (auto s = exchange_->session.lock()) s->deliver(std::move(response));
  return true;
}

EventStream Responder::open_stream(Response headers) {
  if (!exchange_->try_complete()) return EventStream();
  auto s = exchange_->session.lock();
  if (!s) return EventStream();
  auto state = std::make_shared<detail::StreamState>(s, s->stream_buffer_limit());
  s->deliver_stream(state, std::move(headers));
  return EventStream(std::move(state));
}

bool Responder::completed() const { return exchange_->completed(); }

}  // namespace cocktail::http
