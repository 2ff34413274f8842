// Session: one HTTP connection, after Beast's asynchronous server example.
// Reads a request (header first, so that limits are checked per route before
// the body is read), hands it to the handler, writes the response, and loops
// while the connection is kept alive; or, for an event stream, writes queued
// events until either side ends it.
//
// All state is touched only on the session's I/O thread (its io_context runs
// on one thread). Other threads reach it through deliver() and
// deliver_stream(), which hop onto that thread. Kept alive by its pending
// operations (shared_from_this); Responders refer to it weakly.
#pragma once

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cocktail/http/response.h"
#include "cocktail/http/router.h"
#include "http_metrics.h"

namespace cocktail::http::detail {

class ServerCore;
class Exchange;
struct StreamState;

// Concrete executor types: a session lives on one io_context, and avoiding
// the type-erased any_io_executor saves work on every operation.
using IoExecutor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, IoExecutor>;
using Stream = boost::beast::basic_stream<boost::asio::ip::tcp, IoExecutor>;
using Timer =
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>, IoExecutor>;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerCore> core, Socket socket, std::uint64_t id);
  ~Session();

  void start();
  // Any thread: answers the current request (ignored once the session closed).
  void deliver(Response response);
  // Any thread: answers the current request of each session, all of which
  // share one executor (one I/O thread), in one hand-over to it.
  static void deliver_all(std::vector<std::pair<std::shared_ptr<Session>, Response>> responses);
  // Any thread: turns the current request into an event stream.
  void deliver_stream(std::shared_ptr<StreamState> state, Response headers);
  // Any thread: schedules writing what the stream has queued.
  void post_stream_flush();
  // Any thread: stop() asks idle connections to close and busy ones to close
  // after their response; `force` closes at once.
  void post_shutdown(bool force);
  std::size_t stream_buffer_limit() const;
  IoExecutor executor() { return stream_.get_executor(); }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kStreaming, kClosing, kClosed };

  void open_request();
  void read_request();
  void read_header();
  void on_header(boost::system::error_code ec);
  void read_body();
  void on_body(boost::system::error_code ec);
  void dispatch();
  void write_response(Response response);
  void on_write(boost::system::error_code ec, std::size_t bytes);
  // Sends sealed_ from sealed_sent_ on with sendfile(2), waiting for the
  // socket to be writable when it is full; then on_write.
  void send_sealed();
  void serialize_head(const Response::Message& message, std::optional<std::size_t> content_length, bool keep);
  void finish_request(unsigned status, std::size_t bytes);
  // Answers a request that cannot be read further and closes afterwards.
  void reject(Response response);
  // The body limit of a route (the server's default without one).
  std::size_t body_limit_of(const Route* route) const;
  // The path of a request target, without the query.
  static std::string path_of(std::string_view target);

  void start_stream(std::shared_ptr<StreamState> state, Response headers);
  void flush_stream();
  void watch_stream_peer();
  void on_peer_read(boost::system::error_code ec, std::size_t n);
  void schedule_ping();

  void shutdown(bool force);
  // Half-closes and discards what the client still sends for a moment, so
  // that it reads the last response instead of a connection reset.
  void linger_close();
  void close_now();

  std::shared_ptr<ServerCore> core_;
  const std::uint64_t id_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  Timer timer_;  // response timeout, stream pings, closing
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  // The response being written: its serialised header and its body.
  std::string head_;
  std::shared_ptr<const std::string> body_;
  std::shared_ptr<const SealedBytes> sealed_;  // body_ in a sealed file: sent with sendfile
  std::size_t sealed_sent_ = 0;
  unsigned status_ = 0;
  State state_ = State::kIdle;
  bool draining_ = false;     // server stopping: close after the current response
  bool close_after_ = false;  // this response ends the connection

  // The request being handled (copied out of it for logs and metrics).
  boost::beast::http::verb method_ = boost::beast::http::verb::get;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool request_open_ = false;  // counted in the in-flight gauge
  std::string request_id_;
  std::string path_;
  std::string origin_;
  std::string query_;
  std::string allow_;
  HttpMetrics::RouteSeries* series_ = nullptr;
  const Route* route_ = nullptr;
  PathParams params_;
  std::chrono::steady_clock::time_point read_deadline_;
  std::optional<Response> early_;  // answer decided from the header alone
  std::chrono::steady_clock::time_point started_;
  std::weak_ptr<Exchange> exchange_;

  // Event stream.
  std::shared_ptr<StreamState> stream_state_;
  std::string stream_header_;
  std::vector<std::string> stream_batch_;
  std::size_t stream_batch_bytes_ = 0;
  bool stream_writing_ = false;
  bool stream_ending_ = false;
  bool peer_read_pending_ = false;  // a raw read watching for the peer's end
  char discard_[512]{};
};

// A request id: the client's when it is 1..128 characters of [A-Za-z0-9._:-],
// else 16 random hex digits.
std::string make_request_id(std::string_view client_value);

}  // namespace cocktail::http::detail
