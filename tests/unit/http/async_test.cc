// Handlers that answer later: from other threads, through the executor, by
// long-poll, and event streams.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cocktail/http/blocking_executor.h"
#include "cocktail/http/errors.h"
#include "cocktail/testing/wait.h"
#include "server_fixture.h"

namespace cocktail::http {
namespace {

using testing::EventStreamClient;
using testing::HttpClient;
using testing::RawConnection;
using testing::wait_until;
using namespace std::chrono_literals;

// A one-shot gate threads can wait on, with a deadline.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST_F(ServerTest, ResponderCompletedFromAnotherThread) {
  make();
  std::vector<std::thread> workers;
  std::mutex mu;
  router().add(Method::get, "/later/{id}", [&](const Request& req, Responder responder) {
    std::lock_guard<std::mutex> l(mu);
    workers.emplace_back([responder, id = std::string(req.path_param("id"))]() mutable {
      std::this_thread::sleep_for(20ms);
      // The request is still readable while the responder is held.
      EXPECT_EQ(responder.request().path_param("id"), id);
      EXPECT_TRUE(responder.send(Response::text(Status::ok, "later " + id)));
      EXPECT_FALSE(responder.send(Response::text(Status::ok, "twice")));
    });
  });
  start();
  auto c = client();
  for (int i = 0; i < 5; ++i) {
    auto r = c.get("/later/" + std::to_string(i));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "later " + std::to_string(i));
  }
  EXPECT_EQ(c.connections_opened(), 1);
  std::lock_guard<std::mutex> l(mu);
  for (auto& t : workers) {
    t.join();
  }
}

TEST_F(ServerTest, BlockingExecutorRunsWorkOffTheIoThreads) {
  make();
  BlockingExecutor db("db", 2);
  std::atomic<int> on_io_thread{0};
  std::mutex mu;
  std::vector<std::thread::id> io_threads;
  router().add(Method::get, "/work", [&](const Request&, Responder responder) {
    {
      std::lock_guard<std::mutex> l(mu);
      io_threads.push_back(std::this_thread::get_id());
    }
    db.respond(std::move(responder), [&](const Request& req) {
      std::lock_guard<std::mutex> l(mu);
      for (auto id : io_threads) {
        on_io_thread += id == std::this_thread::get_id();
      }
      return Response::text(Status::ok, "done " + std::string(req.path()));
    });
  });
  router().add(Method::get, "/fails", [&](const Request&, Responder responder) {
    db.respond(std::move(responder),
               [](const Request&) -> Response { throw std::runtime_error("disk on fire"); });
  });
  start();
  auto c = client();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(c.get("/work").body, "done /work");
  }
  EXPECT_EQ(on_io_thread.load(), 0);
  auto r = c.get("/fails");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find(R"("code":"internal")"), std::string::npos);
  server_->stop();
  db.stop();
}

TEST(BlockingExecutor, RunsQueuedTasksAndRefusesWhenFull) {
  BlockingExecutor ex("test", 1, 2);
  Gate release;
  Gate started;
  std::atomic<int> ran{0};
  ASSERT_TRUE(ex.post([&] {
    started.open();
    release.wait(5s);
    ++ran;
  }));
  ASSERT_TRUE(started.wait(5s));
  EXPECT_TRUE(ex.post([&] { ++ran; }));
  EXPECT_TRUE(ex.post([&] { ++ran; }));
  EXPECT_FALSE(ex.post([&] { ++ran; }));  // queue of 2 is full
  EXPECT_EQ(ex.queued(), 2u);
  release.open();
  ex.stop();  // drains the queue
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(ex.post([] {}));
}

TEST(BlockingExecutor, SurvivesThrowingTasks) {
  BlockingExecutor ex("test", 2);
  std::atomic<int> ran{0};
  ex.post([] { throw std::runtime_error("x"); });
  for (int i = 0; i < 10; ++i) {
    ex.post([&] { ++ran; });
  }
  ex.stop();
  EXPECT_EQ(ran.load(), 10);
}

TEST_F(ServerTest, FullExecutorQueueAnswers503) {
  make();
  BlockingExecutor db("db", 1, 1);
  Gate release;
  Gate busy;
  db.post([&] {
    busy.open();
    release.wait(5s);
  });
  ASSERT_TRUE(busy.wait(5s));
  db.post([] {});  // fills the queue
  router().add(Method::get, "/work", [&](const Request&, Responder r) {
    db.respond(std::move(r), [](const Request&) { return Response::text(Status::ok, "ran"); });
  });
  start();
  auto r = client().get("/work");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("Retry-After"), "1");
  release.open();
  db.stop();
}

// A thread answering many requests in a row (a database writer after a
// commit) holds them in a SendBatch: nothing is delivered while it lives,
// then every session gets its own answer, whichever I/O thread it is on.
TEST_F(ServerTest, SendBatchDeliversHeldAnswersToSessionsOnEveryIoThreadWhenItEnds) {
  make();  // two I/O threads
  constexpr int kConnections = 6;
  std::mutex mu;
  std::vector<std::pair<Responder, std::thread::id>> parked;
  router().add(Method::get, "/held/{id}", [&](const Request&, Responder r) {
    std::lock_guard<std::mutex> l(mu);
    parked.emplace_back(std::move(r), std::this_thread::get_id());
  });
  start();
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < kConnections; ++i) {
    connections.push_back(std::make_unique<RawConnection>(port()));
    ASSERT_TRUE(connections.back()->send("GET /held/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return parked.size() == kConnections;
      },
      3s));
  std::vector<std::pair<Responder, std::thread::id>> answering;
  {
    std::lock_guard<std::mutex> l(mu);
    answering.swap(parked);
  }
  std::set<std::thread::id> io_threads;
  for (const auto& [r, thread] : answering) {
    io_threads.insert(thread);
  }
  ASSERT_EQ(io_threads.size(), 2u) << "the connections should be spread over both I/O threads";

  std::thread writer([&] {
    SendBatch batch;
    {
      SendBatch nested;  // only the outermost one delivers
      for (auto& [r, thread] : answering) {
        const std::string id(r.request().path_param("id"));
        EXPECT_TRUE(r.send(Response::text(Status::ok, "answer " + id)));
        EXPECT_FALSE(r.send(Response::text(Status::ok, "twice")));
        EXPECT_TRUE(r.completed());
      }
    }
    // Held: no connection has received anything yet.
    for (auto& c : connections) {
      EXPECT_EQ(c->read_until("\r\n\r\n", 50ms), "");
    }
  });
  writer.join();
  for (int i = 0; i < kConnections; ++i) {
    const std::string got = connections[i]->read_until("answer " + std::to_string(i), 3s);
    EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
    EXPECT_NE(got.find("answer " + std::to_string(i)), std::string::npos) << got;
    // Still alive: the next request on the same connection is handled.
    ASSERT_TRUE(connections[i]->send("GET /held/again HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return parked.size() == kConnections;
      },
      3s));
  std::lock_guard<std::mutex> l(mu);
  for (auto& [r, thread] : parked) {
    EXPECT_TRUE(r.send(Response::text(Status::ok, "direct")));  // no batch
  }
  for (auto& c : connections) {
    EXPECT_NE(c->read_until("direct", 3s).find("direct"), std::string::npos);
  }
}

TEST_F(ServerTest, DroppedResponderGets500) {
  make();
  // NOLINTNEXTLINE(performance-unnecessary-value-param): the handler owns the responder and drops it
  router().add(Method::get, "/forgot", [](const Request&, Responder) {});
  start();
  auto c = client();
  auto r = c.get("/forgot");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("not answered"), std::string::npos);
  EXPECT_EQ(c.get("/forgot").status, 500);
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST_F(ServerTest, UnansweredRequestTimesOutWith503) {
  auto o = test_options();
  o.response_timeout = 200ms;
  make(o);
  std::mutex mu;
  std::vector<Responder> parked;
  router().add(Method::get, "/hang", [&](const Request&, Responder r) {
    std::lock_guard<std::mutex> l(mu);
    parked.push_back(std::move(r));
  });
  start();
  auto c = client();
  auto r = c.get("/hang");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find(R"("code":"timeout")"), std::string::npos);
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_FALSE(parked[0].send(Response::text(Status::ok, "too late")));
}

TEST_F(ServerTest, LongPollAnsweredByAnotherRequest) {
  make();
  std::mutex mu;
  std::vector<Responder> waiting;
  router().add(Method::get, "/wait", [&](const Request&, Responder r) {
    std::lock_guard<std::mutex> l(mu);
    waiting.push_back(std::move(r));
  });
  router().add(Method::post, "/publish", SyncHandler([&](const Request& req) {
                 std::vector<Responder> ready;
                 {
                   std::lock_guard<std::mutex> l(mu);
                   ready.swap(waiting);
                 }
                 for (auto& r : ready) {
                   r.send(Response::text(Status::ok, "got " + req.body()));
                 }
                 return Response::text(Status::ok, std::to_string(ready.size()));
               }));
  start();
  std::vector<std::thread> pollers;
  std::atomic<int> answered{0};
  pollers.reserve(3);
  for (int i = 0; i < 3; ++i) {
    pollers.emplace_back([&] {
      HttpClient c(port());
      auto r = c.get("/wait");
      if (r.status == 200 && r.body == "got v7") {
        ++answered;
      }
    });
  }
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return waiting.size() == 3;
      },
      3s));
  EXPECT_EQ(client().post("/publish", "v7").body, "3");
  for (auto& t : pollers) {
    t.join();
  }
  EXPECT_EQ(answered.load(), 3);
}

TEST_F(ServerTest, EventStreamDeliversPushedEvents) {
  auto o = test_options();
  o.cors.allowed_origins = {"*"};
  make(o);
  std::mutex mu;
  std::vector<EventStream> streams;
  std::atomic<int> closed{0};
  router().add(Method::get, "/stream", [&](const Request&, Responder r) {
    EventStream s = r.open_stream();
    s.on_close([&] { ++closed; });
    s.send("hello", "first");
    std::lock_guard<std::mutex> l(mu);
    streams.push_back(s);
  });
  start();
  EventStreamClient sse(port(), "/stream", {{"Origin", "https://x.example"}});
  EXPECT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().find("Content-Type")->second, "text/event-stream");
  EXPECT_EQ(sse.headers().find("Access-Control-Allow-Origin")->second, "https://x.example");
  auto ev = sse.next(3s);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->event, "hello");
  EXPECT_EQ(ev->data, "first");

  // Push from another thread; multi-line data and ids survive framing.
  std::thread pusher([&] {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_TRUE(streams[0].send("generation", "{\"generation\":5}", "5"));
    EXPECT_TRUE(streams[0].send("", "line1\nline2"));
  });
  pusher.join();
  ev = sse.next(3s);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->event, "generation");
  EXPECT_EQ(ev->data, "{\"generation\":5}");
  EXPECT_EQ(ev->id, "5");
  ev = sse.next(3s);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->data, "line1\nline2");

  // The client goes away: the server notices without any write.
  sse.close();
  ASSERT_TRUE(wait_until([&] { return closed.load() == 1; }, 3s));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_TRUE(streams[0].closed());
  EXPECT_FALSE(streams[0].send("late", "x"));
}

TEST_F(ServerTest, EventStreamClosedByServerEndsCleanly) {
  make();
  router().add(Method::get, "/stream", [&](const Request&, Responder r) {
    EventStream s = r.open_stream();
    s.send("only", "one");
    s.close();
  });
  start();
  EventStreamClient sse(port(), "/stream");
  auto ev = sse.next(3s);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->event, "only");
  EXPECT_FALSE(sse.next(3s));
  EXPECT_TRUE(sse.ended());
}

TEST_F(ServerTest, IdleEventStreamsArePinged) {
  auto o = test_options();
  o.stream_ping_interval = 50ms;
  make(o);
  std::mutex mu;
  std::vector<EventStream> streams;
  router().add(Method::get, "/stream", [&](const Request&, Responder r) {
    std::lock_guard<std::mutex> l(mu);
    streams.push_back(r.open_stream());
  });
  start();
  RawConnection raw(port());
  ASSERT_TRUE(raw.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto got = raw.read_until(": ping\n\n", 3s);
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos) << got;
  EXPECT_NE(got.find(": ping\n\n"), std::string::npos) << got;
}

TEST_F(ServerTest, SlowEventStreamClientIsDropped) {
  auto o = test_options();
  o.max_stream_buffer_bytes = std::size_t{64} * 1024;
  make(o);
  std::mutex mu;
  std::vector<EventStream> streams;
  router().add(Method::get, "/stream", [&](const Request&, Responder r) {
    std::lock_guard<std::mutex> l(mu);
    streams.push_back(r.open_stream());
  });
  start();
  RawConnection slow(port());
  slow.set_receive_buffer(4096);
  ASSERT_TRUE(slow.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return !streams.empty();
      },
      3s));
  EventStream s;
  {
    std::lock_guard<std::mutex> l(mu);
    s = streams[0];
  }
  // The client never reads: socket buffers fill, then the stream's own
  // buffer, then the server drops it. Bounded by the number of events.
  const std::string data(1024, 'd');
  int sent = 0;
  for (; sent < 100000 && s.send("e", data); ++sent) {
    if (sent % 64 == 0) {
      std::this_thread::sleep_for(1ms);  // let the I/O thread write
    }
  }
  EXPECT_LT(sent, 100000);
  EXPECT_TRUE(wait_until([&] { return s.closed(); }, 3s));
  auto metrics = client().get("/metrics").body;
  EXPECT_NE(metrics.find("cocktail_http_streams_dropped_total 1"), std::string::npos) << metrics;
  // Other clients are unaffected.
  EXPECT_EQ(client().get("/health").status, 200);
}

}  // namespace
}  // namespace cocktail::http
