// CatalogRoutes: the catalog API's HTTP routes (docs/api.md, proto/openapi.yaml).
//
//   GET    /api/v1/ingredients?limit=&after_id=   page of ingredients by id
//   GET    /api/v1/ingredients/{id}
//   POST   /api/v1/ingredients                    201 {"item", "catalog_seq"}
//   PUT    /api/v1/ingredients/{id}               200 {"item", "catalog_seq"}
//   DELETE /api/v1/ingredients/{id}               200 {"id", "deleted", "catalog_seq"}
//   POST   /api/v1/ingredients/bulk               201 {"created", "items", "catalog_seq"}
//   the same six for /api/v1/recipes
//   GET    /api/v1/units, GET /api/v1/units/{id}, POST /api/v1/units
//
// Where the work runs: handlers run on I/O threads and only check the
// token, the path and the query, and decode small bodies (at most the
// server's body limit, 1 MiB by default: well under a millisecond).
// Reads run on the read executor with a leased connection; bulk bodies (up to
// bulk_max_body_bytes) are decoded there too; every write is a job for the
// CatalogWriter, answered once its commit is durable, with catalog_seq in the
// body and the X-Catalog-Seq header.
//
// Errors are the JSON bodies of http/errors.h: 400 invalid (naming the
// field), 401 without the write token, 404 unknown id, 409 conflict, 413 too
// large, 503 when the writer's queue is full or the catalog stays locked
// by another process.
//
// Ownership: borrows everything given to the constructor, which must outlive
// the server the routes are added to. Thread-safety: handlers are called
// concurrently from I/O threads; the object is immutable after add_to().
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "cocktail/catalog_service/catalog_writer.h"
#include "cocktail/catalog_service/read_connections.h"
#include "cocktail/http/bearer_token.h"
#include "cocktail/http/blocking_executor.h"
#include "cocktail/http/router.h"

namespace cocktail::catalog_service {

struct CatalogRoutesOptions {
  // The bearer token writes must carry. Empty: writes need no token (only
  // with the explicit development setting; see catalog_service.h).
  std::optional<std::string> write_token;
  // Body limit of the two bulk routes; other routes keep the server's.
  std::size_t bulk_max_body_bytes = std::size_t{32} << 20;
};

class CatalogRoutes {
 public:
  CatalogRoutes(ReadConnections& reads, http::BlockingExecutor& read_executor, CatalogWriter& writer,
                CatalogRoutesOptions options);

  void add_to(http::Router& router);

 private:
  // nullopt when the request may write; otherwise the 401 to send.
  std::optional<http::Response> reject_write(const http::Request& request) const;
  // Runs a read on the read executor with a leased Repository.
  void read(http::Responder responder,
            std::function<http::Response(catalog::Repository&, const http::Request&)> work);
  // Queues a write job; answers 503 when the writer refuses it.
  void write(http::Responder responder, CatalogWriter::Job job);

  ReadConnections& reads_;
  http::BlockingExecutor& read_executor_;
  CatalogWriter& writer_;
  CatalogRoutesOptions options_;
  std::optional<http::BearerToken> token_;
};

}  // namespace cocktail::catalog_service
