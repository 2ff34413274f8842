#include "cocktail/catalog_service/catalog_writer.h"

#include <algorithm>
#include <utility>

namespace cocktail::catalog_service {

CatalogWriter::CatalogWriter(const std::string& db_path, prometheus::Registry& registry,
                             CatalogWriterOptions options) {
  catalog::DatabaseOptions db_options;
  db_options.create_if_missing = false;
  db_options.synchronous = catalog::synchronous_for(options.mode);
  db_ = catalog::Database::open(db_path, db_options);
  repository_ = std::make_unique<catalog::Repository>(*db_);
  change_log_ = std::make_unique<catalog::ChangeLog>(*db_);

  catalog::GroupCommitOptions engine;
  engine.mode = options.mode;
  engine.max_queue = options.max_queue;
  engine.max_batch = options.max_batch;
  engine.metric_prefix = "cocktail_catalog";
  engine.on_durable = std::move(options.on_durable);
  engine.max_wait = std::max(options.max_wait, std::chrono::milliseconds(1));
  engine_ = std::make_unique<catalog::GroupCommit>(*db_, registry, std::move(engine));
}

CatalogWriter::~CatalogWriter() { stop(); }

void CatalogWriter::start() { engine_->start(); }

bool CatalogWriter::submit(Job job, Expired on_expired) {
  return engine_->submit([this, job = std::move(job)]() { return job(*repository_); }, std::move(on_expired));
}

bool CatalogWriter::submit_change_log_task(std::function<void(catalog::ChangeLog&)> task) {
  return engine_->submit([this, task = std::move(task)]() -> Completion {
    task(*change_log_);
    return nullptr;
  });
}

void CatalogWriter::stop() { engine_->stop(); }

std::size_t CatalogWriter::queued() const { return engine_->queued(); }

}  // namespace cocktail::catalog_service
