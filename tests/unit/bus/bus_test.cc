// Publisher, Subscriber and Proxy over real ZeroMQ sockets on 127.0.0.1 with
// ephemeral ports. PUB/SUB drops what is sent before a subscription has
// reached the publisher (the "slow joiner"), so every test first publishes a
// probe until one arrives, then asserts. Every wait is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bus_test_support.h"
#include "cocktail/bus/events.h"
#include "cocktail/bus/proxy.h"
#include "cocktail/bus/publisher.h"
#include "cocktail/bus/subscriber.h"

namespace cocktail::bus {
namespace {

using namespace std::chrono_literals;
using namespace cocktail::bus::testing;

TEST(Publisher, ReportsTheEphemeralPortItBound) {
  Publisher zero(bind_to(kAnyPort));
  Publisher star(bind_to("tcp://127.0.0.1:*"));
  EXPECT_TRUE(zero.endpoint().starts_with("tcp://127.0.0.1:")) << zero.endpoint();
  EXPECT_NE(port_of(zero.endpoint()), "0");
  EXPECT_NE(port_of(star.endpoint()), "*");
  EXPECT_NE(zero.endpoint(), star.endpoint());
}

TEST(Publisher, BindingAPortInUseThrowsNamingTheEndpoint) {
  Publisher first(bind_to(kAnyPort));
  try {
    Publisher second(bind_to(first.endpoint()));
    FAIL() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(first.endpoint()), std::string::npos) << e.what();
  }
  EXPECT_THROW(Publisher(bind_to("not-an-endpoint")), std::runtime_error);
}

TEST(Bus, EveryEventTypeRoundTrips) {
  Publisher pub(bind_to(kAnyPort));
  Inbox inbox;
  Subscriber sub(subscribe_to({pub.endpoint()}), inbox.handlers());
  sub.start();
  const Event probe = CatalogHeartbeat{0, kTs};
  ASSERT_TRUE(join(pub, inbox, probe));
  inbox.clear();

  const std::vector<Event> sent = {
      CatalogChange{41, kTs, Entity::kIngredient, Op::kInsert, 7},
      CatalogChange{42, kTs + 1, Entity::kRecipeIngredient, Op::kDelete, 9000},
      CatalogHeartbeat{42, kTs + 2},
      AnalyticsSnapshot{
          3, 42, kTs + 3, {{"ingredient-usage", {sha('a'), 10}}, {"recipe-similar", {sha('b'), 20}}}},
      AnalyticsHeartbeat{3, 42, kTs + 4},
  };
  for (const auto& e : sent) {
    ASSERT_TRUE(pub.publish(e).ok());
  }
  // join() may have sent more probes than the one it saw; those still in
  // flight land after clear(). They precede `sent` (one publisher keeps its
  // order), so they are dropped before comparing.
  auto without_probes = [&](std::vector<Event> events) {
    std::erase(events, probe);
    return events;
  };
  ASSERT_TRUE(
      inbox.wait_for([&](const auto& events) { return without_probes(events).size() >= sent.size(); }));
  EXPECT_EQ(without_probes(inbox.events()), sent);  // one publisher: order preserved
  EXPECT_EQ(sub.stats().malformed, 0u);
  EXPECT_TRUE(sub.last_receive().has_value());
}

TEST(Bus, OnSentCountsByTopic) {
  std::mutex mutex;
  std::map<std::string, int> counts;
  PublisherOptions options = bind_to(kAnyPort);
  options.on_sent = [&](std::string_view topic) {
    std::lock_guard lock(mutex);
    ++counts[std::string(topic)];
  };
  Publisher pub(options);
  ASSERT_TRUE(pub.publish(CatalogHeartbeat{1, kTs}).ok());
  ASSERT_TRUE(pub.publish(CatalogChange{1, kTs, Entity::kUnit, Op::kUpdate, 2}).ok());
  ASSERT_TRUE(pub.publish(CatalogChange{2, kTs, Entity::kUnit, Op::kUpdate, 2}).ok());
  ASSERT_TRUE(pub.publish_encoded("catalog.heartbeat", encode_body(CatalogHeartbeat{2, kTs})).ok());
  EXPECT_EQ(counts, (std::map<std::string, int>{{"catalog.change", 2}, {"catalog.heartbeat", 2}}));
  EXPECT_EQ(pub.sent_count(), 4u);
}

TEST(Bus, ConcurrentPublishersLoseNothing) {
  Publisher pub(bind_to(kAnyPort));
  Inbox inbox;
  Subscriber sub(subscribe_to({pub.endpoint()}, {"catalog.change"}), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(pub, inbox, CatalogChange{1, kTs, Entity::kRecipe, Op::kInsert, 1}));
  inbox.clear();

  constexpr int kThreads = 4, kPerThread = 500;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        (void)pub.publish(CatalogChange{2 + t * kPerThread + i, kTs, Entity::kRecipe, Op::kUpdate, t});
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_TRUE(inbox.wait_for([&](const auto& events) { return events.size() >= kThreads * kPerThread; }))
      << inbox.events().size();
  // Each thread's events arrive in its own order, whole (no interleaved frames).
  std::map<std::int64_t, std::int64_t> last_seq_by_thread;
  for (const auto& e : inbox.events()) {
    const auto& change = std::get<CatalogChange>(e);
    EXPECT_GT(change.seq, last_seq_by_thread[change.id]);
    last_seq_by_thread[change.id] = change.seq;
  }
  EXPECT_EQ(sub.stats().malformed, 0u);
}

TEST(Bus, OneSubscriberHearsSeveralPublishers) {
  Publisher a(bind_to(kAnyPort));
  Publisher b(bind_to(kAnyPort));
  Inbox inbox;
  Subscriber sub(subscribe_to({a.endpoint(), b.endpoint()}), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(a, inbox, CatalogHeartbeat{1, kTs}));
  ASSERT_TRUE(join(b, inbox, AnalyticsHeartbeat{1, 1, kTs}));
  const Event from_a = CatalogChange{2, kTs, Entity::kRecipe, Op::kInsert, 1};
  const Event from_b = AnalyticsHeartbeat{2, 2, kTs};
  ASSERT_TRUE(a.publish(from_a).ok());
  ASSERT_TRUE(b.publish(from_b).ok());
  EXPECT_TRUE(inbox.wait_for(
      [&](const auto& events) { return contains(events, from_a) && contains(events, from_b); }));
}

TEST(Bus, TopicPrefixesFilter) {
  Publisher pub(bind_to(kAnyPort));
  Inbox inbox;
  Subscriber sub(subscribe_to({pub.endpoint()}, {"catalog.change"}), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(pub, inbox, CatalogChange{1, kTs, Entity::kRecipe, Op::kInsert, 1}));
  ASSERT_TRUE(pub.publish(CatalogHeartbeat{1, kTs}).ok());
  ASSERT_TRUE(pub.publish(AnalyticsHeartbeat{1, 1, kTs}).ok());
  const Event sentinel = CatalogChange{2, kTs, Entity::kRecipe, Op::kInsert, 2};
  ASSERT_TRUE(pub.publish(sentinel).ok());
  // Messages from one publisher arrive in order: once the sentinel is here,
  // the heartbeats sent before it would have been too, had they passed the filter.
  ASSERT_TRUE(inbox.wait_for([&](const auto& events) { return contains(events, sentinel); }));
  for (const auto& e : inbox.events()) {
    EXPECT_TRUE(std::holds_alternative<CatalogChange>(e));
  }
  EXPECT_EQ(sub.stats().malformed, 0u);
}

TEST(Bus, MalformedMessagesAreCountedAndTheLoopGoesOn) {
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::pub);
  raw.set(zmq::sockopt::linger, 0);
  raw.bind(kAnyPort);
  const std::string endpoint = raw.get(zmq::sockopt::last_endpoint);
  auto send = [&](std::vector<std::string> parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      raw.send(zmq::buffer(parts[i]),
               i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };

  Inbox inbox;
  Subscriber sub(subscribe_to({endpoint}), inbox.handlers());
  sub.start();
  const Event probe = CatalogHeartbeat{1, kTs};
  ASSERT_TRUE(join([&] { send({"catalog.heartbeat", encode_body(probe)}); }, inbox, probe));
  const auto malformed_before =
      sub.stats().malformed;  // nothing, but the probe loop must not have any either
  ASSERT_EQ(malformed_before, 0u);

  send({"catalog.change"});                                                  // one frame
  send({"catalog.change", encode_body(CatalogHeartbeat{1, kTs}), "extra"});  // three frames
  send({"catalog.change", "{\"v\":1,\"seq\":"});                             // bad JSON
  send({"catalog.change",
        R"({"v":1,"seq":"5","ts":"2026-11-24T10:00:00Z","entity":"recipe","op":"insert","id":1})"});
  send({"catalog.heartbeat", R"({"v":9,"seq":5,"ts":"2026-11-24T10:00:00Z"})"});   // unknown version
  send({std::string("\x00\xff\x13", 3), std::string("\xde\xad\xbe\xef\x00", 5)});  // garbage bytes
  send({"catalog.heartbeat", std::string("\xde\xad\xbe\xef\x00", 5)});             // garbage body
  send({"analytics.unknown", R"({"v":1})"});                                       // unknown topic
  const Event after = CatalogChange{6, kTs, Entity::kUnit, Op::kDelete, 3};
  send({"catalog.change", encode_body(after)});

  ASSERT_TRUE(inbox.wait_for([&](const auto& events) { return contains(events, after); }));
  ASSERT_TRUE(inbox.wait_for_malformed(8));
  EXPECT_EQ(sub.stats().malformed, 8u);
  auto reports = inbox.malformed();
  ASSERT_EQ(reports.size(), 8u);
  EXPECT_EQ(reports[0].first, "catalog.change");
  EXPECT_NE(reports[0].second.find("got 1"), std::string::npos) << reports[0].second;
  EXPECT_NE(reports[1].second.find("got 3"), std::string::npos) << reports[1].second;
  EXPECT_NE(reports[2].second.find("not valid JSON"), std::string::npos) << reports[2].second;
  EXPECT_NE(reports[3].second.find("'seq' must be an integer"), std::string::npos) << reports[3].second;
  EXPECT_NE(reports[4].second.find("unsupported version 9"), std::string::npos) << reports[4].second;
  EXPECT_NE(reports[5].second.find("unknown topic"), std::string::npos) << reports[5].second;
  EXPECT_NE(reports[6].second.find("not valid JSON"), std::string::npos) << reports[6].second;
  EXPECT_NE(reports[7].second.find("unknown topic 'analytics.unknown'"), std::string::npos)
      << reports[7].second;
  EXPECT_EQ(sub.stats().received, inbox.events().size());
}

TEST(Bus, AHandlerThatThrowsIsCountedAndTheLoopGoesOn) {
  Publisher pub(bind_to(kAnyPort));
  Inbox inbox;
  auto handlers = inbox.handlers();
  auto deliver = handlers.on_event;
  handlers.on_event = [deliver](const Event& e) {
    if (std::holds_alternative<CatalogChange>(e) && std::get<CatalogChange>(e).id == 666) {
      throw std::runtime_error("handler bug");
    }
    deliver(e);
  };
  Subscriber sub(subscribe_to({pub.endpoint()}), handlers);
  sub.start();
  ASSERT_TRUE(join(pub, inbox, CatalogHeartbeat{1, kTs}));
  ASSERT_TRUE(pub.publish(CatalogChange{1, kTs, Entity::kRecipe, Op::kInsert, 666}).ok());
  const Event after = CatalogChange{2, kTs, Entity::kRecipe, Op::kInsert, 1};
  ASSERT_TRUE(pub.publish(after).ok());
  ASSERT_TRUE(inbox.wait_for([&](const auto& events) { return contains(events, after); }));
  EXPECT_EQ(sub.stats().handler_errors, 1u);
}

TEST(Bus, StopIsPromptAndIdempotent) {
  Publisher pub(bind_to(kAnyPort));
  Inbox inbox;
  Subscriber sub(subscribe_to({pub.endpoint()}), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(pub, inbox, CatalogHeartbeat{1, kTs}));
  const auto begin = std::chrono::steady_clock::now();
  sub.stop();
  // Woken through the inproc socket, not by the 500 ms receive tick.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 400ms);
  sub.stop();                      // idempotent
  EXPECT_NO_THROW(sub.poll(0ms));  // once stopped, the caller may drive it
}

TEST(Bus, StopThenRestart) {
  Publisher pub(bind_to(kAnyPort));
  Inbox inbox;
  Subscriber sub(subscribe_to({pub.endpoint()}), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(pub, inbox, CatalogHeartbeat{1, kTs}));
  sub.stop();
  sub.start();
  EXPECT_THROW(sub.start(), std::logic_error);
  EXPECT_THROW(sub.poll(0ms), std::logic_error);
  ASSERT_TRUE(join(pub, inbox, CatalogHeartbeat{2, kTs}));
}

TEST(Bus, DestroyingARunningSubscriberStopsIt) {
  Publisher pub(bind_to(kAnyPort));
  Inbox inbox;
  const auto begin = std::chrono::steady_clock::now();
  {
    Subscriber sub(subscribe_to({pub.endpoint(), "tcp://127.0.0.1:1"}), inbox.handlers());
    sub.start();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
}

TEST(Bus, PollModeDeliversOnTheCallersThread) {
  Publisher pub(bind_to(kAnyPort));
  core::FakeClock clock;
  std::vector<Event> got;
  const auto caller = std::this_thread::get_id();
  SubscriberOptions options = subscribe_to({pub.endpoint()});
  options.clock = &clock;
  Subscriber sub(options, {[&](const Event& e) {
                             EXPECT_EQ(std::this_thread::get_id(), caller);
                             got.push_back(e);
                           },
                           {}});
  EXPECT_FALSE(sub.last_receive());
  EXPECT_EQ(sub.poll(10ms), 0u);

  const Event probe = CatalogHeartbeat{1, kTs};
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!contains(got, probe) && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(pub.publish(probe).ok());
    sub.poll(20ms);
  }
  ASSERT_TRUE(contains(got, probe));
  EXPECT_EQ(sub.last_receive(), clock.now());
  clock.advance(1s);
  const Event next = AnalyticsHeartbeat{1, 1, kTs};
  ASSERT_TRUE(pub.publish(next).ok());
  while (!contains(got, next) && std::chrono::steady_clock::now() < deadline) {
    sub.poll(100ms);
  }
  ASSERT_TRUE(contains(got, next));
  EXPECT_EQ(sub.last_receive(), clock.now());
}

TEST(Bus, ASubscriberNeedsAnEndpoint) {
  EXPECT_THROW(Subscriber(SubscriberOptions{}, {}), std::invalid_argument);
  EXPECT_THROW(Subscriber(subscribe_to({"bogus://x"}), {}), std::runtime_error);
}

TEST(Proxy, ForwardsToManySubscribersAndCarriesSubscriptionsUpstream) {
  Publisher pub(bind_to(kAnyPort));
  ProxyOptions proxy_options;
  proxy_options.upstream = {pub.endpoint()};
  proxy_options.downstream = kAnyPort;
  Proxy proxy(proxy_options);
  EXPECT_NE(port_of(proxy.downstream_endpoint()), "0");

  Inbox all, changes_only;
  Subscriber sub_all(subscribe_to({proxy.downstream_endpoint()}), all.handlers());
  Subscriber sub_changes(subscribe_to({proxy.downstream_endpoint()}, {"catalog.change"}),
                         changes_only.handlers());
  sub_all.start();
  sub_changes.start();
  ASSERT_TRUE(join(pub, all, CatalogHeartbeat{1, kTs}));
  ASSERT_TRUE(join(pub, changes_only, CatalogChange{1, kTs, Entity::kRecipe, Op::kInsert, 1}));

  ASSERT_TRUE(pub.publish(AnalyticsHeartbeat{5, 5, kTs}).ok());
  const Event sentinel = CatalogChange{2, kTs, Entity::kRecipe, Op::kUpdate, 1};
  ASSERT_TRUE(pub.publish(sentinel).ok());
  EXPECT_TRUE(all.wait_for([&](const auto& e) {
    return contains(e, sentinel) && contains(e, AnalyticsHeartbeat{5, 5, kTs});
  }));
  ASSERT_TRUE(changes_only.wait_for([&](const auto& e) { return contains(e, sentinel); }));
  for (const auto& e : changes_only.events()) {
    EXPECT_TRUE(std::holds_alternative<CatalogChange>(e));
  }

  const auto begin = std::chrono::steady_clock::now();
  proxy.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  proxy.stop();  // idempotent
}

}  // namespace
}  // namespace cocktail::bus
