// EventStream: an open server-sent-events response (text/event-stream).
//
// Obtained from Responder::open_stream(). A copyable handle: any thread may
// push events at any time; the connection's I/O thread writes them in order.
// Each stream has a bounded buffer (ServerOptions::max_stream_buffer_bytes):
// a client that does not read fast enough is dropped rather than letting
// memory grow. A stream closes when the client goes away, when it is dropped
// for being slow, when close() is called, or when the server stops; send()
// then returns false and the on_close callback runs once.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

namespace cocktail::http {

namespace detail {
struct StreamState;
}

class EventStream {
 public:
  EventStream() = default;  // a closed stream
  explicit EventStream(std::shared_ptr<detail::StreamState> state) : state_(std::move(state)) {}

  // Queues one event: "event: <event>\n" (when not empty), "id: <id>\n"
  // (when not empty), one "data: " line per line of `data`, then a blank line.
  // False when the stream is closed or this event overflowed its buffer (the
  // stream is then closed).
  bool send(std::string_view event, std::string_view data, std::string_view id = {});
  // Queues a comment line (": text"), ignored by clients; keeps proxies from
  // timing the connection out.
  bool send_comment(std::string_view text);
  // Ends the stream after what was queued has been written.
  void close();
  bool closed() const;
  // Runs `callback` once when the stream closes, on an I/O thread (at once, on
  // the calling thread, when already closed). Keep it short and non-blocking.
  void on_close(std::function<void()> callback);

 private:
  std::shared_ptr<detail::StreamState> state_;
};

}  // namespace cocktail::http
