// CURVE on the bus and subscriptions that survive bad peers, over real
// ZeroMQ sockets on 127.0.0.1: key files, a subscriber with an unknown key
// refused (and counted) by the publisher's ZAP handler, a subscriber without
// CURVE refused, an impostor publisher refused by the subscriber, a proxy
// with CURVE on both sides; an oversized or garbled message dropped and
// counted while the subscription goes on, also to a fresh publisher.
#include "cocktail/bus/curve.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>
#include <zmq.hpp>

#include "bus_test_support.h"
#include "cocktail/bus/proxy.h"
#include "cocktail/bus/security.h"
#include "cocktail/metrics/registry.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::bus {
namespace {

using namespace std::chrono_literals;
using namespace cocktail::bus::testing;
using cocktail::testing::TempDir;
using cocktail::testing::wait_until;

// A publisher's and a subscriber's keys, the subscriber authorized.
struct Keys {
  CurveKeyPair server = generate_key_pair();
  CurveKeyPair client = generate_key_pair();

  BusSecurity publisher(std::vector<std::string> authorized) const {
    BusSecurity s;
    s.keys = server;
    s.authorized_keys = std::move(authorized);
    return s;
  }
  BusSecurity publisher() const { return publisher({client.public_key}); }
  static BusSecurity subscriber(const CurveKeyPair& own, const std::string& server_key) {
    BusSecurity s;
    s.keys = own;
    s.server_keys = {server_key};
    return s;
  }
  BusSecurity subscriber() const { return subscriber(client, server.public_key); }
};

PublisherOptions curve_publisher(const BusSecurity& security, metrics::MetricsRegistry* registry = nullptr,
                                 std::string endpoint = kAnyPort) {
  PublisherOptions o = bind_to(std::move(endpoint));
  o.security = security;
  o.metrics = registry;
  return o;
}

SubscriberOptions curve_subscriber(const std::string& endpoint, const BusSecurity& security) {
  SubscriberOptions o = subscribe_to({endpoint});
  o.security = security;
  o.reconnect_interval = 20ms;
  o.reconnect_interval_max = 100ms;
  o.drop_grace = 100ms;
  return o;
}

// Publishes `probe` for `duration`; true when the inbox got it at all.
bool heard_within(Publisher& pub, Inbox& inbox, const Event& probe, std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    (void)pub.publish(probe);
    if (inbox.wait_for([&](const auto& events) { return contains(events, probe); }, 20ms)) {
      return true;
    }
  }
  return false;
}

TEST(CurveKeys, ZeroMqHasCurve) { EXPECT_TRUE(curve_available()); }

TEST(CurveKeys, GeneratedPairsAreZ85AndConsistent) {
  const auto keys = generate_key_pair();
  EXPECT_TRUE(is_z85_key(keys.public_key));
  EXPECT_TRUE(is_z85_key(keys.secret_key));
  EXPECT_EQ(*public_key_of(keys.secret_key), keys.public_key);
  EXPECT_NE(generate_key_pair().secret_key, keys.secret_key);
  EXPECT_FALSE(is_z85_key("short"));
  EXPECT_FALSE(is_z85_key(std::string(40, ' ')));  // space is not in the Z85 alphabet
  EXPECT_FALSE(public_key_of("nope").ok());
}

TEST(CurveKeys, FilesRoundTripWithOwnerOnlySecrets) {
  TempDir dir;
  const auto keys = generate_key_pair();
  const auto stem = dir.path() / "catalog-api";
  ASSERT_TRUE(write_key_files(stem, keys, false).ok());
  struct stat st {};
  ASSERT_EQ(::stat((stem.string() + ".key_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto read = read_secret_key_file(stem.string() + ".key_secret");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->public_key, keys.public_key);
  EXPECT_EQ(read->secret_key, keys.secret_key);
  auto pub = read_public_keys(stem.string() + ".key");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, std::vector<std::string>{keys.public_key});

  // Not replaced by accident; replaced when asked.
  EXPECT_FALSE(write_key_files(stem, generate_key_pair(), false).ok());
  const auto other = generate_key_pair();
  ASSERT_TRUE(write_key_files(stem, other, true).ok());
  EXPECT_EQ(read_secret_key_file(stem.string() + ".key_secret")->secret_key, other.secret_key);

  // A public certificate where a secret one is needed.
  auto wrong = read_secret_key_file(stem.string() + ".key");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("no secret-key"), std::string::npos) << wrong.error().message;
}

TEST(CurveKeys, DirectoriesBareKeysAndBadFiles) {
  TempDir dir;
  const auto a = generate_key_pair();
  const auto b = generate_key_pair();
  ASSERT_TRUE(write_key_files(dir.path() / "a", a, false).ok());
  ASSERT_TRUE(write_key_files(dir.path() / "b", b, false).ok());
  auto keys = read_public_keys(dir.path());  // *.key only: the secrets are skipped
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  std::vector<std::string> both{a.public_key, b.public_key};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(*keys, both);

  cocktail::testing::write_file(dir.file("list"),
                                "# subscribers\n" + a.public_key + "\n\n" + b.public_key + "\n");
  EXPECT_EQ(*read_public_keys(dir.file("list")), both);

  cocktail::testing::write_file(dir.file("empty"), "# nothing here\n");
  EXPECT_FALSE(read_public_keys(dir.file("empty")).ok());
  EXPECT_FALSE(read_public_keys(dir.file("missing")).ok());
  cocktail::testing::write_file(dir.file("bad"), "curve\n    public-key = \"not a key\"\n");
  EXPECT_FALSE(read_public_keys(dir.file("bad")).ok());
  // A secret certificate whose public key is another key's.
  cocktail::testing::write_file(dir.file("mixed"), "curve\n public-key = \"" + b.public_key +
                                                       "\"\n secret-key = \"" + a.secret_key + "\"\n");
  EXPECT_FALSE(read_secret_key_file(dir.file("mixed")).ok());
}

TEST(CurveBus, AnAuthorizedSubscriberHearsEverything) {
  Keys keys;
  metrics::MetricsRegistry registry;
  Publisher pub(curve_publisher(keys.publisher(), &registry));
  Inbox inbox;
  Subscriber sub(curve_subscriber(pub.endpoint(), keys.subscriber()), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(pub, inbox, CatalogHeartbeat{1, kTs}));
  const Event change = CatalogChange{2, kTs, Entity::kRecipe, Op::kInsert, 7};
  ASSERT_TRUE(pub.publish(change).ok());
  EXPECT_TRUE(inbox.wait_for([&](const auto& e) { return contains(e, change); }));
  EXPECT_GE(pub.stats().accepted, 1u);
  EXPECT_EQ(pub.stats().refused_unknown_key, 0u);
  EXPECT_NE(registry.serialize_text().find("cocktail_bus_connections_accepted_total 1"), std::string::npos);
}

TEST(CurveBus, ASubscriberWithAnUnknownKeyIsRefusedAndCounted) {
  Keys keys;
  metrics::MetricsRegistry registry;
  Publisher pub(curve_publisher(keys.publisher(), &registry));
  // The authorized subscriber proves the publisher is sending.
  Inbox good;
  Subscriber authorized(curve_subscriber(pub.endpoint(), keys.subscriber()), good.handlers());
  authorized.start();
  const auto stranger_keys = generate_key_pair();
  Inbox bad;
  Subscriber stranger(
      curve_subscriber(pub.endpoint(), Keys::subscriber(stranger_keys, keys.server.public_key)),
      bad.handlers());
  stranger.start();

  ASSERT_TRUE(join(pub, good, CatalogHeartbeat{1, kTs}));
  ASSERT_TRUE(wait_until([&] { return pub.stats().refused_unknown_key >= 1; }, kWait));
  for (std::int64_t seq = 2; seq < 40; ++seq) {
    ASSERT_TRUE(pub.publish(CatalogHeartbeat{seq, kTs}).ok());
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(good.wait_for([](const auto& e) { return contains(e, CatalogHeartbeat{39, kTs}); }));
  EXPECT_TRUE(bad.events().empty());
  EXPECT_EQ(stranger.stats().received, 0u);
  EXPECT_GE(stranger.stats().refused, 1u);
  // The refused subscriber keeps trying, with a backoff: each attempt is refused.
  ASSERT_TRUE(wait_until([&] { return pub.stats().refused_unknown_key >= 2; }, kWait));
  EXPECT_NE(registry.serialize_text().find("cocktail_bus_connections_refused_total{reason=\"unknown_key\"}"),
            std::string::npos);
}

TEST(CurveBus, ASubscriberWithoutCurveIsRefused) {
  Keys keys;
  Publisher pub(curve_publisher(keys.publisher()));
  Inbox good, plain_inbox;
  Subscriber authorized(curve_subscriber(pub.endpoint(), keys.subscriber()), good.handlers());
  Subscriber plain(subscribe_to({pub.endpoint()}), plain_inbox.handlers());
  authorized.start();
  plain.start();
  ASSERT_TRUE(join(pub, good, CatalogHeartbeat{1, kTs}));
  ASSERT_TRUE(wait_until([&] { return pub.stats().refused_handshake >= 1; }, kWait));
  ASSERT_TRUE(pub.publish(CatalogHeartbeat{2, kTs}).ok());
  ASSERT_TRUE(good.wait_for([](const auto& e) { return contains(e, CatalogHeartbeat{2, kTs}); }));
  EXPECT_TRUE(plain_inbox.events().empty());
}

TEST(CurveBus, AnImpostorPublisherIsRefusedAndTheRealOneReachedLater) {
  Keys keys;
  // An impostor takes the port first, with keys of its own; it even
  // authorizes the subscriber's key.
  const auto impostor_keys = generate_key_pair();
  BusSecurity impostor_security;
  impostor_security.keys = impostor_keys;
  impostor_security.authorized_keys = {keys.client.public_key};
  auto impostor = std::make_unique<Publisher>(curve_publisher(impostor_security));
  const std::string endpoint = impostor->endpoint();

  Inbox inbox;
  Subscriber sub(curve_subscriber(endpoint, keys.subscriber()), inbox.handlers());
  sub.start();
  const Event forged = AnalyticsHeartbeat{std::int64_t{1} << 62, 1, kTs};
  EXPECT_FALSE(heard_within(*impostor, inbox, forged, 1500ms));
  EXPECT_GE(sub.stats().refused, 1u);
  impostor.reset();

  // The real publisher on the same endpoint is heard.
  Publisher real(curve_publisher(keys.publisher(), nullptr, endpoint));
  ASSERT_TRUE(join(real, inbox, CatalogHeartbeat{1, kTs}));
  for (const auto& e : inbox.events()) {
    EXPECT_NE(e, forged);
  }
}

TEST(CurveBus, AProxyCarriesCurveOnBothSides) {
  Keys upstream;  // the publisher and the proxy as its client
  const auto proxy_keys = upstream.client;
  const auto reader = generate_key_pair();
  Publisher pub(curve_publisher(upstream.publisher()));
  ProxyOptions proxy_options;
  proxy_options.upstream = {pub.endpoint()};
  proxy_options.downstream = kAnyPort;
  proxy_options.security.keys = proxy_keys;
  proxy_options.security.server_keys = {upstream.server.public_key};
  proxy_options.security.authorized_keys = {reader.public_key};
  Proxy proxy(proxy_options);

  Inbox inbox, stranger_inbox;
  Subscriber sub(
      curve_subscriber(proxy.downstream_endpoint(), Keys::subscriber(reader, proxy_keys.public_key)),
      inbox.handlers());
  Subscriber stranger(curve_subscriber(proxy.downstream_endpoint(),
                                       Keys::subscriber(generate_key_pair(), proxy_keys.public_key)),
                      stranger_inbox.handlers());
  sub.start();
  stranger.start();
  ASSERT_TRUE(join(pub, inbox, CatalogHeartbeat{3, kTs}));
  EXPECT_TRUE(stranger_inbox.events().empty());
  EXPECT_GE(stranger.stats().refused, 1u);
}

TEST(CurveBus, MisconfiguredSocketsAreRefusedAtConstruction) {
  Keys keys;
  EXPECT_THROW(Publisher(curve_publisher(keys.publisher({}))), std::invalid_argument);
  EXPECT_THROW(Publisher(curve_publisher(keys.publisher({"not a key"}))), std::invalid_argument);
  auto no_server_key = keys.subscriber();
  no_server_key.server_keys.clear();
  EXPECT_THROW(Subscriber(curve_subscriber("tcp://127.0.0.1:1", no_server_key), {}), std::invalid_argument);
  auto two_for_one = keys.subscriber();
  two_for_one.server_keys.push_back(keys.server.public_key);
  EXPECT_THROW(Subscriber(curve_subscriber("tcp://127.0.0.1:1", two_for_one), {}), std::invalid_argument);
}

// ---- Subscriptions that outlive bad messages

// A raw PUB socket on a fixed endpoint, for messages Publisher would not send.
class RawPublisher {
 public:
  explicit RawPublisher(const std::string& endpoint) : socket_(context_, zmq::socket_type::pub) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(endpoint);
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }
  void send(const std::string& topic, const std::string& body) {
    socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(body), zmq::send_flags::none);
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string endpoint_;
};

SubscriberOptions quick_subscriber(const std::string& endpoint) {
  SubscriberOptions o = subscribe_to({endpoint});
  o.reconnect_interval = 20ms;
  o.reconnect_interval_max = 100ms;
  o.drop_grace = 100ms;
  return o;
}

TEST(Resilience, AnOversizedMessageIsCountedAndTheSubscriptionGoesOn) {
  auto raw = std::make_unique<RawPublisher>(kAnyPort);
  const std::string endpoint = raw->endpoint();
  Inbox inbox;
  Subscriber sub(quick_subscriber(endpoint), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(
      [&] {
        raw->send("catalog.heartbeat", encode_body(CatalogHeartbeat{1, kTs}));
      },
      inbox, CatalogHeartbeat{1, kTs}));

  // 1.1 MB against the 1 MiB limit: ZeroMQ drops the connection.
  raw->send("catalog.change", std::string(1'100'000, 'x'));
  ASSERT_TRUE(inbox.wait_for_malformed(1));
  EXPECT_EQ(sub.stats().dropped, 1u);
  const auto reports = inbox.malformed();
  EXPECT_NE(reports[0].second.find("larger than 1048576 bytes"), std::string::npos) << reports[0].second;

  // The same publisher is heard again...
  ASSERT_TRUE(join(
      [&] {
        raw->send("catalog.heartbeat", encode_body(CatalogHeartbeat{2, kTs}));
      },
      inbox, CatalogHeartbeat{2, kTs}));
  // ...and, after it is gone, a fresh one on the same endpoint.
  raw.reset();
  Publisher fresh(bind_to(endpoint));
  ASSERT_TRUE(join(fresh, inbox, CatalogHeartbeat{3, kTs}));
  EXPECT_EQ(sub.stats().dropped, 1u);
  EXPECT_GE(sub.stats().resets, 1u);
}

TEST(Resilience, OversizedMessagesInARowNeverEndTheSubscription) {
  RawPublisher raw(kAnyPort);
  Inbox inbox;
  Subscriber sub(quick_subscriber(raw.endpoint()), inbox.handlers());
  sub.start();
  for (int round = 1; round <= 3; ++round) {
    const Event probe = CatalogHeartbeat{round, kTs};
    ASSERT_TRUE(join([&] { raw.send("catalog.heartbeat", encode_body(probe)); }, inbox, probe)) << round;
    raw.send("analytics.snapshot", std::string(2 << 20, '{'));
    ASSERT_TRUE(wait_until([&] { return sub.stats().dropped >= static_cast<std::uint64_t>(round); }, kWait))
        << round;
  }
  const Event last = CatalogHeartbeat{4, kTs};
  EXPECT_TRUE(join([&] { raw.send("catalog.heartbeat", encode_body(last)); }, inbox, last));
}

TEST(Resilience, APublisherRestartIsNotCountedAsADrop) {
  auto pub = std::make_unique<Publisher>(bind_to(kAnyPort));
  const std::string endpoint = pub->endpoint();
  Inbox inbox;
  Subscriber sub(quick_subscriber(endpoint), inbox.handlers());
  sub.start();
  ASSERT_TRUE(join(*pub, inbox, CatalogHeartbeat{1, kTs}));
  pub.reset();
  pub = std::make_unique<Publisher>(bind_to(endpoint));
  ASSERT_TRUE(join(*pub, inbox, CatalogHeartbeat{2, kTs}));
  EXPECT_EQ(sub.stats().malformed, 0u);
  EXPECT_EQ(sub.stats().dropped, 0u);
}

TEST(Resilience, PollModeRepairsToo) {
  auto raw = std::make_unique<RawPublisher>(kAnyPort);
  std::vector<Event> got;
  std::uint64_t malformed = 0;
  Subscriber sub(quick_subscriber(raw->endpoint()),
                 {[&](const Event& e) { got.push_back(e); },
                  [&](std::string_view, const core::Error&) { ++malformed; }});
  auto pump_until = [&](const std::function<bool()>& done, const std::function<void()>& send) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      send();
      sub.poll(20ms);
    }
    return done();
  };
  const auto heartbeat = [&](std::int64_t seq) {
    return [&, seq] { raw->send("catalog.heartbeat", encode_body(CatalogHeartbeat{seq, kTs})); };
  };
  ASSERT_TRUE(pump_until([&] { return contains(got, CatalogHeartbeat{1, kTs}); }, heartbeat(1)));
  raw->send("catalog.change", std::string(1'100'000, 'x'));
  ASSERT_TRUE(pump_until([&] { return malformed >= 1; }, [] {}));
  ASSERT_TRUE(pump_until([&] { return contains(got, CatalogHeartbeat{2, kTs}); }, heartbeat(2)));
}

}  // namespace
}  // namespace cocktail::bus
