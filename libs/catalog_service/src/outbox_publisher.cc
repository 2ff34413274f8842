#include "cocktail/catalog_service/outbox_publisher.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <exception>
#include <string_view>
#include <utility>

#include "cocktail/bus/events.h"
#include "cocktail/core/log.h"
#include "cocktail/core/time.h"

namespace cocktail::catalog_service {

namespace log = core::log;
using Clock = std::chrono::steady_clock;

struct OutboxPublisher::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : published(prometheus::BuildCounter()
                      .Name("cocktail_events_published_total")
                      .Help("Messages handed to the event bus, by topic.")
                      .Register(r)),
        publish_errors(prometheus::BuildCounter()
                           .Name("cocktail_events_publish_errors_total")
                           .Help("Messages the event bus refused, by topic.")
                           .Register(r)),
        outbox_errors(prometheus::BuildCounter()
                          .Name("cocktail_outbox_errors_total")
                          .Help("Outbox failures by operation (read, cursor, prune).")
                          .Register(r)),
        pruned(prometheus::BuildCounter()
                   .Name("cocktail_outbox_pruned_rows_total")
                   .Help("Published change_log rows removed by retention.")
                   .Register(r)
                   .Add({})),
        catalog_seq(prometheus::BuildGauge()
                        .Name("cocktail_catalog_seq")
                        .Help("Latest committed change_log seq.")
                        .Register(r)
                        .Add({})),
        lag(prometheus::BuildGauge()
                .Name("cocktail_outbox_lag")
                .Help("Committed change_log rows not yet published (latest seq - published seq).")
                .Register(r)
                .Add({})),
        published_seq(prometheus::BuildGauge()
                          .Name("cocktail_outbox_published_seq")
                          .Help("Last change_log seq handed to the event bus.")
                          .Register(r)
                          .Add({})),
        changes_sent(published.Add({{"topic", std::string(bus::kCatalogChangeTopic)}})),
        heartbeats_sent(published.Add({{"topic", std::string(bus::kCatalogHeartbeatTopic)}})),
        change_errors(publish_errors.Add({{"topic", std::string(bus::kCatalogChangeTopic)}})),
        heartbeat_errors(publish_errors.Add({{"topic", std::string(bus::kCatalogHeartbeatTopic)}})),
        read_errors(outbox_errors.Add({{"operation", "read"}})),
        cursor_errors(outbox_errors.Add({{"operation", "cursor"}})),
        prune_errors(outbox_errors.Add({{"operation", "prune"}})) {}

  prometheus::Family<prometheus::Counter>& published;
  prometheus::Family<prometheus::Counter>& publish_errors;
  prometheus::Family<prometheus::Counter>& outbox_errors;
  prometheus::Counter& pruned;
  prometheus::Gauge& catalog_seq;
  prometheus::Gauge& lag;
  prometheus::Gauge& published_seq;
  prometheus::Counter& changes_sent;
  prometheus::Counter& heartbeats_sent;
  prometheus::Counter& change_errors;
  prometheus::Counter& heartbeat_errors;
  prometheus::Counter& read_errors;
  prometheus::Counter& cursor_errors;
  prometheus::Counter& prune_errors;
};

namespace {

// A bus refusal, thrown out of a round so that the loop backs off.
struct PublishFailed {
  std::string message;
};

}  // namespace

OutboxPublisher::OutboxPublisher(std::unique_ptr<catalog::Database> db, bus::Publisher& publisher,
                                 prometheus::Registry& registry, OutboxPublisherOptions options)
    : db_(std::move(db)),
      log_(*db_),
      publisher_(publisher),
      options_(std::move(options)),
      metrics_(std::make_unique<Metrics>(registry)) {
  options_.batch_rows = std::max(options_.batch_rows, 1);
  published_ = log_.published_seq(options_.cursor_name);
  cursor_written_ = published_.load();
  latest_ = std::max(log_.latest_seq(), published_.load());
  metrics_->published_seq.Set(static_cast<double>(published_.load()));
  metrics_->catalog_seq.Set(static_cast<double>(latest_.load()));
  metrics_->lag.Set(static_cast<double>(latest_.load() - published_.load()));
}

OutboxPublisher::~OutboxPublisher() { stop(); }

void OutboxPublisher::start() {
  if (thread_.joinable()) {
    return;
  }
  log::info("outbox.start", {{"cursor", options_.cursor_name},
                             {"published_seq", published_.load()},
                             {"latest_seq", latest_.load()}});
  thread_ = std::thread([this] { run(); });
  watch_ = log_.watch([this] { notify(); });
}

void OutboxPublisher::notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_one();
}

void OutboxPublisher::stop(std::chrono::milliseconds flush_timeout) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
    flush_deadline_ = Clock::now() + flush_timeout;
  }
  cv_.notify_one();
  watch_.reset();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void OutboxPublisher::run() {
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.start_delay, [&] { return stopping_; });
  }
  auto now = Clock::now();
  auto next_heartbeat = now;  // the first heartbeat goes out at once
  auto next_prune = now + options_.prune_interval;
  auto last_cursor_write = now;
  for (;;) {
    bool stopping;
    std::chrono::steady_clock::time_point flush_deadline;
    {
      std::lock_guard lock(mu_);
      notified_ = false;
      stopping = stopping_;
      flush_deadline = flush_deadline_;
    }

    bool more = false;
    bool failed = false;
    try {
      more = publish_round();
    } catch (const PublishFailed& e) {
      failed = true;
      log::warn("outbox.publish_failed", {{"seq", published_.load() + 1}, {"error", e.message}});
    } catch (const std::exception& e) {
      failed = true;
      metrics_->read_errors.Increment();
      log::warn("outbox.read_failed", {{"after_seq", published_.load()}, {"error", e.what()}});
    }

    now = Clock::now();
    if (now >= next_heartbeat) {
      heartbeat();
      next_heartbeat = now + options_.heartbeat_interval;
    }
    if (now - last_cursor_write >= options_.cursor_interval) {
      record_cursor();
      last_cursor_write = now;
    }
    if (stopping) {
      // Drain what is committed (bounded), then leave.
      if ((!more && !failed) || now >= flush_deadline) {
        break;
      }
      if (failed) {
        sleep_for(std::min(options_.error_backoff, std::chrono::milliseconds(50)));
      }
      continue;
    }
    if (now >= next_prune) {
      prune();
      next_prune = Clock::now() + options_.prune_interval;
    }
    if (more && !failed) {
      continue;
    }

    auto wake = std::min(now + (failed ? options_.error_backoff : options_.poll_interval), next_heartbeat);
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, wake, [&] { return notified_ || stopping_; });
  }
  // The delegate may be gone by now (the service stops its writer first):
  // the last cursor is written here, on the publisher's own connection.
  options_.delegate_writes = nullptr;
  record_cursor();
  log::info("outbox.stop", {{"cursor", options_.cursor_name},
                            {"published_seq", published_.load()},
                            {"latest_seq", latest_.load()}});
}

bool OutboxPublisher::publish_round() {
  const std::int64_t latest = log_.latest_seq();
  std::int64_t published = published_.load();
  auto rows = log_.read_after(published, options_.batch_rows);
  for (const auto& row : rows) {
    auto entity = bus::parse_entity(row.entity);
    auto op = bus::parse_op(row.op);
    if (!entity || !op) {
      // Only a foreign writer could put such a row there; it cannot be
      // expressed on the wire, so it is skipped (and counted), not retried
      // forever. Consumers see a seq gap and read the whole state.
      metrics_->read_errors.Increment();
      log::error("outbox.unknown_row", {{"seq", row.seq}, {"entity", row.entity}, {"op", row.op}});
    } else {
      bus::CatalogChange change{row.seq, row.ts_ms, *entity, *op, row.row_id};
      auto status = publisher_.publish(change);
      if (!status.ok()) {
        metrics_->change_errors.Increment();
        throw PublishFailed{status.error().message};
      }
      metrics_->changes_sent.Increment();
    }
    published = row.seq;
    published_.store(published);
  }
  // Rows committed between the two reads may make `published` pass `latest`.
  const std::int64_t seen = std::max(latest, published);
  latest_.store(seen);
  metrics_->catalog_seq.Set(static_cast<double>(seen));
  metrics_->published_seq.Set(static_cast<double>(published));
  metrics_->lag.Set(static_cast<double>(seen - published));
  return static_cast<int>(rows.size()) == options_.batch_rows;
}

void OutboxPublisher::heartbeat() {
  auto status = publisher_.publish(bus::CatalogHeartbeat{latest_.load(), core::system_now_ms()});
  if (status.ok()) {
    metrics_->heartbeats_sent.Increment();
  } else {
    metrics_->heartbeat_errors.Increment();
    log::warn("outbox.heartbeat_failed", {{"error", status.error().message}});
  }
}

void OutboxPublisher::run_write(const std::function<void(catalog::ChangeLog&)>& task) {
  if (options_.delegate_writes && options_.delegate_writes(task)) {
    return;
  }
  task(log_);
}

void OutboxPublisher::record_cursor() {
  const std::int64_t published = published_.load();
  if (published <= cursor_written_.load()) {
    return;
  }
  // With delegated writes this may be queued more than once before it runs:
  // harmless, the cursor only ever moves forward.
  run_write([this, published](catalog::ChangeLog& log) {
    try {
      log.mark_published(options_.cursor_name, published);
      std::int64_t seen = cursor_written_.load();
      while (seen < published && !cursor_written_.compare_exchange_weak(seen, published)) {
      }
    } catch (const std::exception& e) {
      metrics_->cursor_errors.Increment();
      log::warn("outbox.cursor_failed", {{"seq", published}, {"error", e.what()}});
    }
  });
}

void OutboxPublisher::prune() {
  run_write([this](catalog::ChangeLog& log) {
    try {
      std::int64_t removed = 0;
      // Bounded batches, so that the write lock is never held for long.
      for (int i = 0; i < options_.prune_rounds; ++i) {
        std::int64_t n = log.prune(options_.prune, core::system_now_ms());
        removed += n;
        if (n < options_.prune.max_rows) {
          break;
        }
      }
      if (removed > 0) {
        metrics_->pruned.Increment(static_cast<double>(removed));
        log::info("outbox.pruned", {{"rows", removed}, {"published_seq", published_.load()}});
      }
    } catch (const std::exception& e) {
      metrics_->prune_errors.Increment();
      log::warn("outbox.prune_failed", {{"error", e.what()}});
    }
  });
}

void OutboxPublisher::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return notified_; });
}

}  // namespace cocktail::catalog_service
