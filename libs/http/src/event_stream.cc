#include "cocktail/http/event_stream.h"

#include <cstdio>

#include "session.h"
#include "stream_state.h"

namespace cocktail::http {

namespace detail {

bool StreamState::push(std::string chunk) {
  bool post = false;
  bool accepted = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (closed) {
      return false;
    }
    if (queued_bytes + chunk.size() > max_bytes) {
      // The client does not keep up: drop it rather than buffer without bound.
      overflowed = true;
      closed = true;
      queue.clear();
    } else {
      queued_bytes += chunk.size();
      queue.push_back(std::move(chunk));
      accepted = true;
    }
    if (!flush_posted) {
      flush_posted = true;
      post = true;
    }
  }
  if (post) {
    if (auto s = session.lock()) {
      s->post_stream_flush();
    }
  }
  return accepted;
}

void StreamState::request_close() {
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (close_requested || finished) {
      return;
    }
    close_requested = true;
    closed = true;
    if (!flush_posted) {
      flush_posted = true;
      post = true;
    }
  }
  if (post) {
    if (auto s = session.lock()) {
      s->post_stream_flush();
    }
  }
}

bool StreamState::is_closed() const {
  std::lock_guard<std::mutex> lock(mu);
  return closed || finished;
}

void StreamState::add_on_close(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!finished) {
      on_close.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

void StreamState::finish() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (finished) {
      return;
    }
    finished = true;
    closed = true;
    queue.clear();
    callbacks.swap(on_close);
  }
  for (auto& cb : callbacks) {
    cb();
  }
}

}  // namespace detail

namespace {

// Event fields end at a line break; one inside a name or id would forge a field.
void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ");
  for (char c : value) {
    out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  out.push_back('\n');
}

// Wraps an event in one HTTP/1.1 chunk.
std::string frame(const std::string& body) {
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", body.size());
  std::string out;
  out.reserve(body.size() + static_cast<std::size_t>(n) + 2);
  out.append(size, static_cast<std::size_t>(n)).append(body).append("\r\n");
  return out;
}

}  // namespace

bool EventStream::send(std::string_view event, std::string_view data, std::string_view id) {
  if (!state_) {
    return false;
  }
  std::string body;
  body.reserve(data.size() + event.size() + id.size() + 32);
  if (!event.empty()) {
    append_field(body, "event", event);
  }
  if (!id.empty()) {
    append_field(body, "id", id);
  }
  // One "data:" line per line of data (\n, \r\n or \r ends a line).
  std::size_t start = 0;
  for (std::size_t i = 0; i <= data.size(); ++i) {
    if (i == data.size() || data[i] == '\n' || data[i] == '\r') {
      body.append("data: ").append(data.substr(start, i - start)).push_back('\n');
      if (i < data.size() && data[i] == '\r' && i + 1 < data.size() && data[i + 1] == '\n') {
        ++i;
      }
      start = i + 1;
    }
  }
  body.push_back('\n');
  return state_->push(frame(body));
}

bool EventStream::send_comment(std::string_view text) {
  if (!state_) {
    return false;
  }
  std::string body;
  append_field(body, "", text);  // ": text\n"
  body.push_back('\n');
  return state_->push(frame(body));
}

void EventStream::close() {
  if (state_) {
    state_->request_close();
  }
}

bool EventStream::closed() const { return !state_ || state_->is_closed(); }

void EventStream::on_close(std::function<void()> callback) {
  if (!state_) {
    callback();
    return;
  }
  state_->add_on_close(std::move(callback));
}

}  // namespace cocktail::http
