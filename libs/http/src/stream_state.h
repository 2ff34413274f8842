// StreamState: the queue between the threads pushing events into an
// EventStream and the session writing them. Guarded by its mutex; the
// session drains it on its own I/O thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cocktail::http::detail {

class Session;

struct StreamState {
  StreamState(std::weak_ptr<Session> s, std::size_t max) : session(std::move(s)), max_bytes(max) {}

  // Queues one chunk (already framed); false when closed or over the limit.
  bool push(std::string chunk);
  // Asks the session to end the stream once the queue is written.
  void request_close();
  bool is_closed() const;
  void add_on_close(std::function<void()> callback);
  // Called by the session when the connection ends: marks the stream closed
  // and runs the callbacks (outside the lock).
  void finish();

  const std::weak_ptr<Session> session;
  const std::size_t max_bytes;

  mutable std::mutex mu;
  std::vector<std::string> queue;
  std::size_t queued_bytes = 0;  // queued plus being written
  bool closed = false;           // no more events accepted
  bool close_requested = false;  // end once the queue is written
  bool overflowed = false;       // dropped for reading too slowly
  bool flush_posted = false;     // a flush is scheduled on the session
  bool finished = false;
  std::vector<std::function<void()>> on_close;
};

}  // namespace cocktail::http::detail
