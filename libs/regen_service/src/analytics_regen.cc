#include "cocktail/regen_service/analytics_regen.h"

#include <iostream>
#include <utility>

#include "cocktail/analytics/artifacts.h"

namespace cocktail::regen_service {
namespace {

RegeneratorSettings regenerator_settings(const AnalyticsRegenOptions& o) {
  RegeneratorSettings settings;
  settings.db_path = o.service.db_path;
  settings.split_lanes = o.split_lanes;
  settings.retention = o.retention;
  settings.min_free_bytes = o.min_free_bytes;
  return settings;
}

}  // namespace

AnalyticsRegen::AnalyticsRegen(AnalyticsRegenOptions options, metrics::MetricsRegistry& registry)
    : store_(options.analytics_path),
      regenerator_(regenerator_settings(options), store_, default_producers(options.space)),
      service_(std::move(options.service), clock_, store_, regenerator_, registry),
      server_(options.http, registry),
      routes_(service_, registry, std::move(options.routes)),
      filesystem_(registry, "cocktail_analytics_filesystem", store_.analytics_path(),
                  [this](const std::filesystem::path&) { return store_.space(); }) {
  routes_.add_to(server_.router());
}

AnalyticsRegen::~AnalyticsRegen() { stop(); }

void AnalyticsRegen::start() {
  server_.start();
  service_.start();
}

RegenerationService::StopResult AnalyticsRegen::stop() {
  if (stopped_) {
    return RegenerationService::StopResult::kIdle;
  }
  stopped_ = true;
  const auto outcome = service_.stop();
  server_.stop();
  return outcome;
}

std::set<std::string> versioned_files() {
  std::set<std::string> files;
  for (const auto& a : analytics::kArtifacts) {
    if (a.lane == analytics::ArtifactLane::kSpace) {
      files.emplace(a.file);
    }
  }
  return files;
}

int run_once(const AnalyticsRegenOptions& options) {
  try {
    snapshot::SnapshotStore store(options.analytics_path);
    RegeneratorSettings settings = regenerator_settings(options);
    Regenerator regenerator(std::move(settings), store, default_producers(options.space));
    const RunResult result = regenerator.run();
    if (!result.ok()) {
      std::cout << failure_json(result.failure()) << std::endl;
      return 1;
    }
    std::cout << summary_json(result.value()) << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cout << failure_json(RunFailure{"store", e.what(), false}) << std::endl;
    return 1;
  }
}

}  // namespace cocktail::regen_service
