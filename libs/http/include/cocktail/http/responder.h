// Responder: the way a handler answers its request, now or later.
//
// A handler receives a Responder with the request. It may send the response
// before returning (a synchronous handler) or keep the Responder (it is a
// cheap copyable handle) and send from any thread later: after database work
// on a BlockingExecutor, or when a long-poll condition is met. The first
// send() wins; later ones return false. The request stays readable through
// request() as long as a copy of the Responder is alive.
//
// Safety nets kept by the server: a request whose every Responder copy is
// destroyed without a response gets 500; one not answered within
// ServerOptions::response_timeout gets 503 (a later send() returns false).
// After the client disconnected or the server stopped, send() does nothing.
#pragma once

#include <memory>

#include "cocktail/http/event_stream.h"
#include "cocktail/http/request.h"
#include "cocktail/http/response.h"

namespace cocktail::http {

namespace detail {
class Exchange;
}

// SendBatch: while one lives on a thread, the responses that thread sends
// through Responder::send() are held, and delivered when it ends with one
// hand-over to each I/O thread instead of one per response. For a thread
// that answers many requests in a row (a database writer answering the
// requests of a committed batch): the I/O threads are woken once per batch
// rather than once per response, and do not contend with the sender for
// their queues meanwhile. send() still completes the request at once (a
// later send() returns false; the response timeout no longer applies).
// Nests: the outermost batch delivers. Not copyable, not movable.
class SendBatch {
 public:
  SendBatch();
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

 private:
  bool outermost_ = false;
};

class Responder {
 public:
  explicit Responder(std::shared_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}

  const Request& request() const;
  // Sends the response; false when a response was already sent (or timed out).
  bool send(Response response);
  // Answers 200 with Content-Type text/event-stream and keeps the connection
  // open for events. `headers` may add headers (its status and body are
  // ignored). Returns a closed stream when a response was already sent.
  EventStream open_stream(Response headers = Response(Status::ok));
  // True once a response (or a stream) was started.
  bool completed() const;

 private:
  std::shared_ptr<detail::Exchange> exchange_;
};

}  // namespace cocktail::http
