// Synchronous HTTP/1.1 clients for tests, on Boost.Beast over 127.0.0.1.
//
//   HttpClient client(port);
//   HttpResponse r = client.get("/api/v1/recipes/1", {{"Accept-Encoding", "gzip"}});
//   EXPECT_EQ(r.status, 200);
//
// HttpClient keeps one connection alive across requests and reconnects when
// the server closed it. EventStreamClient reads a server-sent-events stream.
// RawConnection sends arbitrary bytes (malformed requests, slow clients).
//
// Every operation has a deadline: a timeout or a connection failure throws
// HttpClientError, so a broken server fails a test instead of hanging it.
// None of these classes is thread-safe; use one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cocktail::testing {

class HttpClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Header names compare case-insensitively.
struct HeaderNameLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using HeaderMap = std::multimap<std::string, std::string, HeaderNameLess>;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  HeaderMap headers;
  std::string body;
  bool keep_alive = false;  // the server intends to keep the connection open

  // The first value of a header, empty when absent.
  std::string header(const std::string& name) const;
  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                      std::string host = "127.0.0.1");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse get(const std::string& target, const Headers& headers = {});
  HttpResponse head(const std::string& target, const Headers& headers = {});
  HttpResponse post(const std::string& target, std::string body, const Headers& headers = {},
                    const std::string& content_type = "application/json");
  HttpResponse put(const std::string& target, std::string body, const Headers& headers = {},
                   const std::string& content_type = "application/json");
  HttpResponse del(const std::string& target, const Headers& headers = {});
  // Any method ("OPTIONS", "PATCH", ...). A body is sent with Content-Length.
  HttpResponse request(const std::string& method, const std::string& target, std::string body = {},
                       const Headers& headers = {});

  // Connections opened so far (1 after any number of kept-alive requests).
  int connections_opened() const { return connections_opened_; }
  bool connected() const;
  void close();
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

 private:
  struct Impl;
  void connect();
  std::unique_ptr<Impl> impl_;
  std::string host_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  int connections_opened_ = 0;
};

// One server-sent event ("event:", "data:" lines joined with '\n', "id:").
struct SseEvent {
  std::string event;
  std::string data;
  std::string id;
};

class EventStreamClient {
 public:
  // Connects and sends GET `target` with Accept: text/event-stream; throws
  // HttpClientError when the response header does not arrive in `timeout`.
  EventStreamClient(std::uint16_t port, const std::string& target, const Headers& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~EventStreamClient();
  EventStreamClient(const EventStreamClient&) = delete;
  EventStreamClient& operator=(const EventStreamClient&) = delete;

  int status() const { return status_; }
  const HeaderMap& headers() const { return headers_; }
  // The next event (comments are skipped); nullopt after `timeout` or when
  // the server ended the stream (then ended() is true).
  std::optional<SseEvent> next(std::chrono::milliseconds timeout);
  bool ended() const { return ended_; }
  // Closes the connection from the client side.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int status_ = 0;
  HeaderMap headers_;
  bool ended_ = false;
};

// A bare TCP connection to 127.0.0.1:port for byte-level tests.
class RawConnection {
 public:
  // Throws HttpClientError when the connection cannot be made in `timeout`.
  explicit RawConnection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Writes all bytes; false when the peer has closed or the write timed out.
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads what arrives until the peer closes or `timeout` passes.
  std::string read_until_close(std::chrono::milliseconds timeout);
  // Reads until `needle` appears in what was read, the peer closes, or
  // `timeout` passes; returns everything read so far.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout);
  // True when the peer closed (EOF or reset) within `timeout`; data that
  // arrives meanwhile is discarded.
  bool wait_closed(std::chrono::milliseconds timeout);
  // Shrinks the kernel receive buffer (slow-reader tests); call before sending.
  void set_receive_buffer(int bytes);
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cocktail::testing
