#include "cocktail/usage/hour_publisher.h"

#include <prometheus/counter.h>

#include <exception>
#include <utility>
#include <vector>

#include "cocktail/core/log.h"
#include "cocktail/core/time.h"
#include "cocktail/usage/usage_store.h"

namespace cocktail::usage {

namespace log = core::log;

struct HourPublisher::State {
  State(bus::Publisher& p, prometheus::Registry& r, HourPublisherOptions o)
      : publisher(p),
        options(std::move(o)),
        published(prometheus::BuildCounter()
                      .Name("cocktail_events_published_total")
                      .Help("Messages published on the bus, by topic.")
                      .Register(r)
                      .Add({{"topic", std::string(bus::kUsageHourTopic)}})) {}
  bus::Publisher& publisher;
  HourPublisherOptions options;
  prometheus::Counter& published;
  std::unique_ptr<catalog::Database> db;  // publisher thread only
  std::unique_ptr<UsageStore> store;
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::int64_t> marked;
  bool stopping = false;
  std::thread thread;
};

HourPublisher::HourPublisher(bus::Publisher& publisher, prometheus::Registry& registry,
                             HourPublisherOptions options)
    : state_(std::make_unique<State>(publisher, registry, std::move(options))) {
  if (!state_->options.now_ms) {
    state_->options.now_ms = core::system_now_ms;
  }
  catalog::DatabaseOptions db_options;
  db_options.read_only = true;
  state_->db = catalog::Database::open(state_->options.db_path, db_options);
  state_->store = std::make_unique<UsageStore>(*state_->db);
}

HourPublisher::~HourPublisher() { stop(); }

void HourPublisher::mark(const std::set<std::int64_t>& hours) {
  std::lock_guard lock(state_->mu);
  state_->marked.insert(hours.begin(), hours.end());
}

void HourPublisher::start() {
  std::lock_guard lock(state_->mu);
  if (state_->thread.joinable() || state_->stopping) {
    return;
  }
  state_->thread = std::thread([this] { run(); });
}

void HourPublisher::stop() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) {
      return;
    }
    state_->stopping = true;
  }
  state_->cv.notify_all();
  if (state_->thread.joinable()) {
    state_->thread.join();
  }
  publish_marked();
}

void HourPublisher::run() {
  std::unique_lock lock(state_->mu);
  while (!state_->stopping) {
    state_->cv.wait_for(lock, state_->options.interval, [&] { return state_->stopping; });
    if (state_->stopping) {
      break;
    }
    lock.unlock();
    publish_marked();
    lock.lock();
  }
}

std::size_t HourPublisher::publish_marked() {
  std::set<std::int64_t> hours;
  {
    std::lock_guard lock(state_->mu);
    hours.swap(state_->marked);
  }
  if (hours.empty()) {
    return 0;
  }
  std::size_t sent = 0;
  try {
    std::vector<RollupRow> rows;
    {
      catalog::Transaction read(*state_->db, catalog::Transaction::Kind::kRead);
      rows = state_->store->hour_totals({hours.begin(), hours.end()});
    }
    const std::int64_t now = state_->options.now_ms();
    for (const auto& row : rows) {
      if (state_->publisher.publish(bus::UsageHour{row.hour_ms, row.total_events, row.unique_sessions, now})
              .ok()) {
        state_->published.Increment();
        ++sent;
      }
    }
  } catch (const std::exception& e) {
    log::error("usage_hour.publish_failed", {{"hours", hours.size()}, {"error", e.what()}});
  }
  return sent;
}

}  // namespace cocktail::usage
