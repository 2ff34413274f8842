#include "cocktail/read_service/read_service.h"

#include <algorithm>
#include <variant>

#include "cocktail/core/log.h"

namespace cocktail::read_service {
namespace {

http::ServerOptions with_read_headers(http::ServerOptions options, std::chrono::milliseconds max_wait) {
  // A parked min_seq request must be answered by its own deadline, not by
  // the server's safety net.
  options.response_timeout = std::max(options.response_timeout, max_wait + std::chrono::seconds(5));
  // Browsers may send the read-your-writes header and read the generation headers.
  auto add = [](std::vector<std::string>& list, const char* h) {
    if (std::find(list.begin(), list.end(), h) == list.end()) {
      list.emplace_back(h);
    }
  };
  add(options.cors.allowed_headers, "X-Min-Catalog-Seq");
  add(options.cors.exposed_headers, "X-Analytics-Generation");
  add(options.cors.exposed_headers, "X-Catalog-Seq");
  add(options.cors.exposed_headers, "X-Analytics-Source");
  return options;
}

}  // namespace

ReadService::ReadService(ReadServiceOptions options, metrics::MetricsRegistry& registry)
    : options_(std::move(options)),
      server_(with_read_headers(options_.http, options_.api.max_wait), registry),
      executor_("read", options_.blocking_threads, 256),
      cache_(SnapshotCacheOptions{options_.analytics_path, options_.check_interval, nullptr,
                                  options_.repair_interval},
             registry),
      waiters_(options_.max_waiters, registry),
      announcer_(options_.max_stream_clients, registry),
      live_(options_.db_path.empty() ? nullptr : std::make_unique<LiveAnalytics>(options_.db_path)),
      api_(options_.api, cache_, waiters_, announcer_, executor_, live_.get()),
      received_(registry.counter("cocktail_events_received_total", "Bus messages taken, by topic")),
      malformed_(
          registry.counter("cocktail_events_malformed_total", "Bus messages dropped as malformed").Add({})),
      repair_requests_(registry
                           .counter("cocktail_snapshot_repair_requests_total",
                                    "analytics.repair requests published for refused generations")
                           .Add({})) {
  // The analytics file system's used ratio and free bytes, read at each scrape.
  filesystem_ = std::make_unique<metrics::FilesystemGauges>(
      registry, "cocktail_analytics_filesystem", options_.analytics_path,
      [this](const std::filesystem::path&) { return cache_.store().space(); });
  if (!options_.pub_endpoint.empty()) {
    bus::PublisherOptions pub;
    pub.endpoint = options_.pub_endpoint;
    pub.security = options_.bus_security;
    pub.metrics = &registry;
    auto& published =
        registry.counter("cocktail_events_published_total", "Messages sent on the bus, by topic");
    published.Add({{"topic", std::string(bus::kAnalyticsRepairTopic)}});
    pub.on_sent = [&published](std::string_view topic) {
      published.Add({{"topic", std::string(topic)}}).Increment();
    };
    publisher_ = std::make_unique<bus::Publisher>(std::move(pub));
    cache_.set_repair_handler([this](const RepairNeed& need) {
      bus::AnalyticsRepair request{need.generation, need.file, need.reason, core::system_now_ms()};
      repair_requests_.Increment();
      core::log::warn("snapshot.repair_requested",
                      {{"generation", need.generation}, {"file", need.file}, {"reason", need.reason}});
      if (auto st = publisher_->publish(request); !st.ok()) {
        core::log::warn("snapshot.repair_publish_failed", {{"error", st.error().message}});
      }
    });
  }
  for (auto topic : {bus::kAnalyticsSnapshotTopic, bus::kAnalyticsHeartbeatTopic}) {
    received_.Add({{"topic", std::string(topic)}});
  }
  cache_.add_listener([this](const std::shared_ptr<const Generation>& g) { waiters_.on_generation(g); });
  cache_.add_listener([this](const std::shared_ptr<const Generation>& g) { announcer_.announce(g); });
  api_.register_routes(server_.router());
  if (options_.dashboard) {
    dashboard_ = std::make_unique<Dashboard>(std::move(*options_.dashboard));
    options_.dashboard.reset();
    dashboard_->register_routes(server_.router());
  }
  server_.set_readiness([this] { return api_.readiness(); });

  if (!options_.sub_endpoints.empty()) {
    bus::SubscriberOptions sub;
    sub.endpoints = options_.sub_endpoints;
    sub.security = options_.bus_security;
    sub.metrics = &registry;
    sub.topics = {std::string(bus::kAnalyticsSnapshotTopic), std::string(bus::kAnalyticsHeartbeatTopic)};
    bus::SubscriberHandlers handlers;
    handlers.on_event = [this](const bus::Event& event) {
      received_.Add({{"topic", std::string(bus::topic_of(event))}}).Increment();
      if (const auto* s = std::get_if<bus::AnalyticsSnapshot>(&event)) {
        core::log::debug("snapshot.announced",
                         {{"generation", s->generation}, {"catalog_seq", s->catalog_seq}});
        cache_.note_announced(s->generation);
        cache_.request_refresh();
      } else if (const auto* h = std::get_if<bus::AnalyticsHeartbeat>(&event)) {
        if (h->generation > 0) {
          cache_.note_announced(h->generation);
        }
      }
    };
    handlers.on_malformed = [this](std::string_view topic, const core::Error& error) {
      malformed_.Increment();
      core::log::warn("bus.malformed", {{"topic", topic}, {"error", error.message}});
    };
    subscriber_ = std::make_unique<bus::Subscriber>(std::move(sub), std::move(handlers));
  }
}

ReadService::~ReadService() { stop(); }

std::string ReadService::pub_endpoint() const { return publisher_ ? publisher_->endpoint() : std::string(); }

void ReadService::start() {
  if (started_) {
    return;
  }
  started_ = true;
  try {
    const auto outcome = cache_.refresh();
    core::log::info("snapshot.startup", {{"outcome", refresh_outcome_name(outcome)},
                                         {"analytics_path", options_.analytics_path.string()}});
  } catch (const std::exception& e) {
    core::log::error("snapshot.load_failed", {{"error", e.what()}});
  }
  cache_.start();
  if (subscriber_) {
    subscriber_->start();
  }
  server_.start();
}

void ReadService::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  if (subscriber_) {
    subscriber_->stop();
  }
  cache_.stop();
  waiters_.stop();  // parked requests get 503 now rather than holding the drain
  announcer_.close_all();
  server_.stop();
  executor_.stop();
}

}  // namespace cocktail::read_service
