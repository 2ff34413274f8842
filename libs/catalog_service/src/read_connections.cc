#include "cocktail/catalog_service/read_connections.h"

#include <algorithm>

namespace cocktail::catalog_service {

ReadConnections::ReadConnections(const std::string& db_path, std::size_t count) {
  catalog::DatabaseOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  for (std::size_t i = 0; i < std::max<std::size_t>(count, 1); ++i) {
    auto connection = std::make_unique<Connection>();
    connection->db = catalog::Database::open(db_path, options);
    connection->repository = std::make_unique<catalog::Repository>(*connection->db);
    free_.push_back(connection.get());
    connections_.push_back(std::move(connection));
  }
}

ReadConnections::~ReadConnections() = default;

ReadConnections::Lease ReadConnections::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !free_.empty(); });
  Connection* connection = free_.back();
  free_.pop_back();
  return Lease(*this, connection);
}

void ReadConnections::release(Connection* connection) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(connection);
  }
  cv_.notify_one();
}

}  // namespace cocktail::catalog_service
