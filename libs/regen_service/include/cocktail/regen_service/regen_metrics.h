// RegenMetrics: every Prometheus series analytics-regen's service exports
// (docs/operations.md, "Metrics"), registered once and updated by
// RegenerationService. Thread-safe (prometheus-cpp series are).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <string>

#include "cocktail/metrics/registry.h"

namespace cocktail::regen_service {

struct RegenMetrics {
  explicit RegenMetrics(metrics::MetricsRegistry& registry);

  // One stage's duration (milliseconds) of a successful run.
  void observe_stage(const std::string& stage, double ms);
  void count_trigger(const std::string& reason);

  // Per lane ("fast", "slow").
  struct Lane {
    Lane(RegenMetrics& m, const char* name);
    prometheus::Counter& success;
    prometheus::Counter& failure;
    prometheus::Counter& cancelled;
    prometheus::Gauge& seq;
    prometheus::Gauge& failures;
    prometheus::Gauge& last_success;
    prometheus::Gauge& staleness;
    prometheus::Counter& files_linked;
    prometheus::Counter& files_written;
    prometheus::Counter& bytes_written;
  };

  prometheus::Family<prometheus::Counter>& received;
  prometheus::Counter& received_change;
  prometheus::Counter& received_heartbeat;
  prometheus::Counter& malformed;
  prometheus::Counter& rejected;
  prometheus::Family<prometheus::Counter>& published;
  prometheus::Family<prometheus::Counter>& runs;
  prometheus::Counter& runs_success;
  prometheus::Counter& runs_failure;
  prometheus::Counter& runs_cancelled;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Family<prometheus::Counter>& triggers;
  prometheus::Counter& coalesced;
  prometheus::Gauge& generation;
  prometheus::Gauge& catalog_seq;
  prometheus::Gauge& staleness;
  prometheus::Gauge& in_progress;
  prometheus::Gauge& consecutive_failures;
  prometheus::Gauge& seq_seen;
  prometheus::Gauge& last_success;
  prometheus::Family<prometheus::Counter>& files_linked;
  prometheus::Family<prometheus::Counter>& files_written;
  prometheus::Family<prometheus::Counter>& bytes_written;
  prometheus::Family<prometheus::Counter>& lane_runs;
  prometheus::Family<prometheus::Gauge>& lane_seq;
  prometheus::Family<prometheus::Gauge>& lane_failures;
  prometheus::Family<prometheus::Gauge>& lane_last_success;
  prometheus::Family<prometheus::Gauge>& lane_staleness;
  prometheus::Counter& received_repair;
  prometheus::Family<prometheus::Counter>& corrupt_files;
  prometheus::Family<prometheus::Counter>& repairs;
  prometheus::Family<prometheus::Counter>& generations_removed;
  Lane fast;
  Lane slow;
};

}  // namespace cocktail::regen_service
