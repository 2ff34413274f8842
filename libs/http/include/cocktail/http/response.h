// Response: what a handler answers. A response body is a shared immutable
// string, so a handler serving pre-serialised bytes (a snapshot held in
// memory) hands out a reference instead of copying them per request:
//
//   auto bytes = std::make_shared<const std::string>(...);   // built once
//   responder.send(Response::shared(status::ok, bytes, "application/json")
//                      .set_header(field::etag, etag));
//
// The server adds Content-Length, Connection, X-Request-Id and CORS headers.
// A Response is a value: movable, not shared between threads.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cocktail/http/sealed_bytes.h"

namespace cocktail::http {

using Status = boost::beast::http::status;
using Field = boost::beast::http::field;

// A Beast body type whose value is a reference to immutable bytes. Only the
// writer side (serialising a response) is provided.
struct SharedBody {
  struct value_type {
    std::shared_ptr<const std::string> bytes;
    // The same bytes in a sealed memory file, when the handler has them:
    // the server then sends them with sendfile(2) (see SealedBytes).
    std::shared_ptr<const SealedBytes> sealed;
    std::size_t size() const { return bytes ? bytes->size() : 0; }
  };

  static std::uint64_t size(const value_type& v) { return v.size(); }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::system::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::system::error_code& ec) {
      ec = {};
      if (done_ || body_.size() == 0) {
        return boost::none;
      }
      done_ = true;
      return {{boost::asio::const_buffer(body_.bytes->data(), body_.bytes->size()), false}};
    }

   private:
    const value_type& body_;
    bool done_ = false;
  };
};

// The implicit move assignment is noexcept with std::allocator; the analysis
// follows Beast's copying branch for other allocators.
// NOLINTNEXTLINE(bugprone-exception-escape)
class Response {
 public:
  using Message = boost::beast::http::response<SharedBody>;

  explicit Response(Status status = Status::ok);

  // `body` is moved into a new shared buffer (no copy of its bytes).
  static Response json(Status status, std::string body);
  static Response text(Status status, std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8");
  // Serves existing bytes without copying them; with `sealed` (the same
  // bytes in a sealed memory file) without copying them into the socket
  // either.
  static Response shared(Status status, std::shared_ptr<const std::string> body,
                         std::string_view content_type, std::shared_ptr<const SealedBytes> sealed = nullptr);
  // No body (204 No Content, 304 Not Modified, ...).
  static Response empty(Status status);

  Response& set_header(Field name, std::string_view value);
  Response& set_header(std::string_view name, std::string_view value);

  Status status() const { return message_.result(); }
  unsigned status_code() const { return message_.result_int(); }
  // The value of a header, empty when absent.
  std::string_view header(Field name) const;
  std::string_view header(std::string_view name) const;
  // The body bytes (a view of the shared buffer).
  std::string_view body() const;

  Message& message() { return message_; }
  const Message& message() const { return message_; }

 private:
  Message message_;
};

}  // namespace cocktail::http
