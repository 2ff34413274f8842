#include "cocktail/regen_service/regen_metrics.h"

#include "cocktail/bus/events.h"
#include "cocktail/regen_service/sequence_tracker.h"

namespace cocktail::regen_service {
namespace {

// Stage durations range from well under a millisecond (open) to minutes
// (the cocktail-space layout on a large catalog).
const prometheus::Histogram::BucketBoundaries& stage_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return buckets;
}

}  // namespace

RegenMetrics::Lane::Lane(RegenMetrics& m, const char* name)
    : success(m.lane_runs.Add({{"lane", name}, {"result", "success"}})),
      failure(m.lane_runs.Add({{"lane", name}, {"result", "failure"}})),
      cancelled(m.lane_runs.Add({{"lane", name}, {"result", "cancelled"}})),
      seq(m.lane_seq.Add({{"lane", name}})),
      failures(m.lane_failures.Add({{"lane", name}})),
      last_success(m.lane_last_success.Add({{"lane", name}})),
      staleness(m.lane_staleness.Add({{"lane", name}})),
      files_linked(m.files_linked.Add({{"lane", name}})),
      files_written(m.files_written.Add({{"lane", name}})),
      bytes_written(m.bytes_written.Add({{"lane", name}})) {}

RegenMetrics::RegenMetrics(metrics::MetricsRegistry& r)
    : received(r.counter("cocktail_events_received_total", "Valid events taken from the bus, by topic")),
      received_change(received.Add({{"topic", std::string(bus::kCatalogChangeTopic)}})),
      received_heartbeat(received.Add({{"topic", std::string(bus::kCatalogHeartbeatTopic)}})),
      malformed(
          r.counter("cocktail_events_malformed_total", "Messages dropped because they could not be decoded")
              .Add({})),
      rejected(r.counter("cocktail_events_rejected_total",
                         "Events naming a catalog seq the catalog itself does not hold (ignored)")
                   .Add({})),
      published(r.counter("cocktail_events_published_total", "Messages sent on the bus, by topic")),
      runs(r.counter("cocktail_regen_runs_total",
                     "Fast-lane regenerations, by result (success, failure, cancelled)")),
      runs_success(runs.Add({{"result", "success"}})),
      runs_failure(runs.Add({{"result", "failure"}})),
      runs_cancelled(runs.Add({{"result", "cancelled"}})),
      duration(r.histogram("cocktail_regen_duration_seconds",
                           "Duration of each stage of successful regenerations (total: the whole run)")),
      triggers(r.counter("cocktail_regen_triggers_total",
                         "Reasons to regenerate other than a change event, by reason")),
      coalesced(r.counter("cocktail_regen_coalesced_changes_total",
                          "Change events that needed no regeneration of their own")
                    .Add({})),
      generation(
          r.gauge("cocktail_snapshot_generation", "The current snapshot generation (0: none)").Add({})),
      catalog_seq(
          r.gauge("cocktail_snapshot_catalog_seq", "The catalog seq the current snapshot was computed from")
              .Add({})),
      staleness(r.gauge("cocktail_snapshot_staleness_seconds",
                        "Age of the oldest catalog change not yet covered by a snapshot; 0 when covered")
                    .Add({})),
      in_progress(r.gauge("cocktail_regen_in_progress", "1 while a regeneration runs").Add({})),
      consecutive_failures(
          r.gauge("cocktail_regen_consecutive_failures", "Failed regenerations since the last success")
              .Add({})),
      seq_seen(r.gauge("cocktail_regen_catalog_seq_seen",
                       "Highest catalog seq the catalog confirmed (direct reads, runs)")
                   .Add({})),
      last_success(r.gauge("cocktail_regen_last_success_timestamp_seconds",
                           "Unix time of the last successful regeneration (0: none since start)")
                       .Add({})),
      files_linked(r.counter("cocktail_regen_files_linked_total",
                             "Files carried into a new generation by hard link (no byte written), by lane")),
      files_written(
          r.counter("cocktail_regen_files_written_total", "Files written into new generations, by lane")),
      bytes_written(r.counter("cocktail_regen_bytes_written_total",
                              "Bytes of files written into new generations, by lane")),
      lane_runs(r.counter("cocktail_regen_lane_runs_total", "Runs of each lane (fast, slow), by result")),
      lane_seq(r.gauge("cocktail_regen_lane_catalog_seq",
                       "The catalog seq each lane's files in the current generation were computed from")),
      lane_failures(r.gauge("cocktail_regen_lane_consecutive_failures",
                            "Failed runs of each lane since its last success (retried with backoff)")),
      lane_last_success(r.gauge("cocktail_regen_lane_last_success_timestamp_seconds",
                                "Unix time of each lane's last successful run (0: none since start)")),
      lane_staleness(r.gauge("cocktail_regen_lane_staleness_seconds",
                             "How long each lane's files have been behind the catalog seq owed; 0 when not")),
      received_repair(received.Add({{"topic", std::string(bus::kAnalyticsRepairTopic)}})),
      corrupt_files(r.counter("cocktail_regen_corrupt_files_total",
                              "Files of the current generation found failing verification, by who found "
                              "them: carry (a run carrying it forward), scrub (the periodic read-back), "
                              "reader (an analytics.repair request, confirmed here)")),
      repairs(r.counter("cocktail_regen_repairs_total",
                        "Runs started to rewrite a file found failing verification, by result")),
      generations_removed(r.counter("cocktail_regen_generations_removed_total",
                                    "Generations removed by retention, by reason (expired, superseded, "
                                    "over_budget, space, partial, unpublished)")),
      fast(*this, "fast"),
      slow(*this, "slow") {
  for (const char* reason :
       {kReasonGap, kReasonHeartbeat, kReasonCatalog, kReasonStartup, "manual", kReasonRepair}) {
    triggers.Add({{"reason", reason}});
  }
  for (const char* by : {"carry", "scrub", "reader"}) {
    corrupt_files.Add({{"found_by", by}});
  }
  for (const char* result : {"success", "failure"}) {
    repairs.Add({{"result", result}});
  }
  published.Add({{"topic", std::string(bus::kAnalyticsSnapshotTopic)}});
  published.Add({{"topic", std::string(bus::kAnalyticsHeartbeatTopic)}});
}

void RegenMetrics::observe_stage(const std::string& stage, double ms) {
  metrics::MetricsRegistry::histogram_in(duration, {{"stage", stage}}, stage_buckets()).Observe(ms / 1000.0);
}

void RegenMetrics::count_trigger(const std::string& reason) {
  if (reason == kReasonChange) {
    return;  // changes are counted as events
  }
  triggers.Add({{"reason", reason}}).Increment();
}

}  // namespace cocktail::regen_service
