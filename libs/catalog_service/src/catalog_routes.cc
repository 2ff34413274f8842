#include "cocktail/catalog_service/catalog_routes.h"

#include <algorithm>
#include <array>
#include <exception>
#include <functional>
#include <string_view>
#include <tuple>
#include <utility>

#include "cocktail/catalog/database.h"
#include "cocktail/catalog_service/request_body.h"
#include "cocktail/catalog_service/response_body.h"
#include "cocktail/core/log.h"
#include "cocktail/http/errors.h"

namespace cocktail::catalog_service {
namespace {

namespace log = core::log;
using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::Status;

constexpr std::string_view kSeqHeader = "X-Catalog-Seq";

// A write that was not made, for sure: it never ran, or its transaction
// never began. Safe to retry as is.
constexpr std::string_view kNotCommitted = R"({"committed":false})";

// The answer for an exception out of the catalog: a lock held by another
// process past the write's deadline is worth retrying (the transaction never
// began: nothing was written); anything else is ours.
Response failure_response(const std::exception& e, std::string_view request_id) {
  if (const auto* db = dynamic_cast<const catalog::DatabaseError*>(&e)) {
    if (db->is_transient()) {
      log::warn("catalog.busy", {{"request_id", request_id}, {"error", e.what()}});
      // A lock given up on (or a deadlock) rolled the transaction back; a
      // connection lost mid-commit leaves its outcome unknown.
      const bool busy = db->kind() == catalog::DatabaseError::Kind::kBusy;
      return http::error_response(
                 Status::service_unavailable, http::kUnavailable,
                 busy ? "the catalog is locked by another writer; nothing was written, try again"
                      : "the catalog is unreachable; try again",
                 busy ? kNotCommitted : std::string_view("{}"))
          .set_header(http::Field::retry_after, "1");
    }
    if (db->is_constraint()) {
      // Another writer committed a conflicting row (a duplicate name, a
      // reference) between this request's checks and its write.
      log::warn("catalog.conflict", {{"request_id", request_id}, {"error", e.what()}});
      return http::error_response(
          Status::conflict, core::error_code_name(core::ErrorCode::kConflict),
          "a concurrent write to the catalog conflicts with this one; read and try again");
    }
  }
  log::error("catalog.write_failed", {{"request_id", request_id}, {"error", e.what()}});
  return http::error_response(Status::internal_server_error, http::kInternal,
                              "the catalog could not be written");
}

// The Repository names the culprit in `field` and says what is wrong in
// `message` ("is required and must not be blank"); the answer's message names
// the field too, and for a batch the first failing item, so that the message
// alone tells a human what to fix.
core::Error named(core::Error error) {
  if (error.code == core::ErrorCode::kNotFound) {
    return error;
  }
  auto with_field = [](const std::string& field, const std::string& message) {
    if (field.empty() || message.rfind(field, 0) == 0) {
      return message;
    }
    return field + ": " + message;
  };
  if (error.details.empty()) {
    error.message = with_field(error.field, error.message);
    return error;
  }
  const auto& first = error.details.front();
  std::string text = with_field(first.field, first.message);
  if (first.index >= 0) {
    // A batch: "2 of 3 items failed; nothing was written; first: item 1: name: ..."
    error.message += "; first: item " + std::to_string(first.index) + ": " + text;
  } else {
    error.message = text;
    if (error.details.size() > 1) {
      error.message += " (and " + std::to_string(error.details.size() - 1) + " more problems)";
    }
  }
  return error;
}

Response committed_response(Status status, std::string body, std::int64_t seq) {
  Response response = Response::json(status, std::move(body));
  response.set_header(kSeqHeader, std::to_string(seq));
  return response;
}

// A writer job: runs `op` (Repository& -> Result<Committed<T>>) and answers
// with `encode(value, seq)` once the batch is durable. A failed sync turns a
// success into 500: the client must not take it as acknowledged.
template <typename Op, typename Encode>
CatalogWriter::Job write_job(Responder responder, Status success, Op op, Encode encode) {
  return [responder, success, op = std::move(op),
          encode = std::move(encode)](catalog::Repository& repo) mutable -> CatalogWriter::Completion {
    Response response;
    bool wrote = false;
    try {
      auto result = op(repo);
      if (result.ok()) {
        wrote = true;
        response =
            committed_response(success, encode(result->value, result->catalog_seq), result->catalog_seq);
      } else {
        response = http::error_response(named(result.error()));
      }
    } catch (const std::exception& e) {
      response = failure_response(e, responder.request().request_id());
    }
    return [responder, response = std::move(response), wrote](bool durable) mutable {
      if (wrote && !durable) {
        responder.send(
            http::error_response(Status::internal_server_error, http::kInternal,
                                 "the write could not be made durable; it may or may not be kept"));
      } else {
        responder.send(std::move(response));
      }
    };
  };
}

// The resource id of the path ("/api/v1/recipes/{id}"): a positive integer.
core::Result<std::int64_t> path_id(const Request& request) { return request.path_int("id", 1); }

// ?limit=&after_id= and nothing else.
core::Result<catalog::PageRequest> page_request(const Request& request) {
  for (const auto& [name, value] : request.query_params()) {
    if (name != "limit" && name != "after_id") {
      return core::Error::invalid(
          name, "unknown query parameter '" + name + "'; lists are paged with limit and after_id");
    }
  }
  catalog::PageRequest page;
  auto limit = request.query_int("limit", 1, catalog::kMaxPageLimit);
  if (!limit.ok()) {
    return limit.error();
  }
  if (*limit) {
    page.limit = static_cast<int>(**limit);
  }
  auto after = request.query_int("after_id", 0);
  if (!after.ok()) {
    return after.error();
  }
  if (*after) {
    page.after_id = **after;
  }
  return page;
}

// What a write acts on, as the arguments of its Repository call: the body
// (decoded by `decode`), the path id, or both (id checked first).
template <typename Input>
auto body_of(core::Result<Input> (*decode)(std::string_view)) {
  return [decode](const Request& request) -> core::Result<std::tuple<Input>> {
    auto input = decode(request.body());
    if (!input.ok()) {
      return input.error();
    }
    return std::tuple<Input>(std::move(*input));
  };
}

template <typename Input>
auto id_and_body_of(core::Result<Input> (*decode)(std::string_view)) {
  return [decode](const Request& request) -> core::Result<std::tuple<std::int64_t, Input>> {
    auto id = path_id(request);
    if (!id.ok()) {
      return id.error();
    }
    auto input = decode(request.body());
    if (!input.ok()) {
      return input.error();
    }
    return std::tuple<std::int64_t, Input>(*id, std::move(*input));
  };
}

core::Result<std::tuple<std::int64_t>> id_of(const Request& request) {
  auto id = path_id(request);
  if (!id.ok()) {
    return id.error();
  }
  return std::tuple<std::int64_t>(*id);
}

// The answers to a write, over the overloads of response_body.h.
constexpr auto kWrittenJson = [](const auto& row, std::int64_t seq) { return written_json(row, seq); };
constexpr auto kBulkCreatedJson = [](const auto& rows, std::int64_t seq) {
  return bulk_created_json(rows, seq);
};

Response json_ok(std::string body) { return Response::json(Status::ok, std::move(body)); }

}  // namespace

CatalogRoutes::CatalogRoutes(ReadConnections& reads, http::BlockingExecutor& read_executor,
                             CatalogWriter& writer, CatalogRoutesOptions options)
    : reads_(reads), read_executor_(read_executor), writer_(writer), options_(std::move(options)) {
  if (options_.write_token) {
    token_.emplace(*options_.write_token);
  }
}

std::optional<Response> CatalogRoutes::reject_write(const Request& request) const {
  if (!token_) {
    return std::nullopt;
  }
  return token_->reject(request);
}

void CatalogRoutes::read(Responder responder,
                         std::function<Response(catalog::Repository&, const Request&)> work) {
  read_executor_.respond(std::move(responder), [this, work = std::move(work)](const Request& request) {
    auto lease = reads_.acquire();
    return work(lease.repository(), request);
  });
}

void CatalogRoutes::write(Responder responder, CatalogWriter::Job job) {
  auto expired = [responder](std::chrono::milliseconds waited) mutable {
    log::warn("catalog.write_expired",
              {{"request_id", responder.request().request_id()}, {"waited_ms", waited.count()}});
    responder.send(http::error_response(Status::service_unavailable, http::kUnavailable,
                                        "the write waited " + std::to_string(waited.count()) +
                                            " ms for the catalog and was not made; try again",
                                        kNotCommitted)
                       .set_header(http::Field::retry_after, "1"));
  };
  if (!writer_.submit(std::move(job), std::move(expired))) {
    responder.send(
        http::error_response(Status::service_unavailable, http::kUnavailable,
                             "the writer takes no more writes now (too many waiting, or stopping); try again",
                             kNotCommitted)
            .set_header(http::Field::retry_after, "1"));
  }
}

void CatalogRoutes::add_to(http::Router& router) {
  // ---- Reads.
  router.add(Method::get, "/api/v1/ingredients", [this](const Request& request, Responder responder) {
    auto page = page_request(request);
    if (!page.ok()) {
      return (void)responder.send(http::error_response(page.error()));
    }
    read(std::move(responder), [page = *page](catalog::Repository& repo, const Request&) {
      auto result = repo.list_ingredients(page);
      return result.ok() ? json_ok(ingredient_page_json(*result))
                         : http::error_response(named(result.error()));
    });
  });
  router.add(Method::get, "/api/v1/ingredients/{id}", [this](const Request& request, Responder responder) {
    auto id = path_id(request);
    if (!id.ok()) {
      return (void)responder.send(http::error_response(id.error()));
    }
    read(std::move(responder), [id = *id](catalog::Repository& repo, const Request&) {
      auto result = repo.get_ingredient(id);
      return result.ok() ? json_ok(ingredient_json(*result)) : http::error_response(result.error());
    });
  });
  router.add(Method::get, "/api/v1/recipes", [this](const Request& request, Responder responder) {
    auto page = page_request(request);
    if (!page.ok()) {
      return (void)responder.send(http::error_response(page.error()));
    }
    read(std::move(responder), [page = *page](catalog::Repository& repo, const Request&) {
      auto result = repo.list_recipes(page);
      return result.ok() ? json_ok(recipe_page_json(*result)) : http::error_response(named(result.error()));
    });
  });
  router.add(Method::get, "/api/v1/recipes/{id}", [this](const Request& request, Responder responder) {
    auto id = path_id(request);
    if (!id.ok()) {
      return (void)responder.send(http::error_response(id.error()));
    }
    read(std::move(responder), [id = *id](catalog::Repository& repo, const Request&) {
      auto result = repo.get_recipe(id);
      return result.ok() ? json_ok(recipe_json(*result)) : http::error_response(result.error());
    });
  });
  router.add(Method::get, "/api/v1/units", [this](const Request& request, Responder responder) {
    if (!request.query_params().empty()) {
      const auto& name = request.query_params().front().first;
      return (void)responder.send(http::error_response(
          core::Error::invalid(name, "unknown query parameter '" + name + "'; units are listed whole")));
    }
    read(std::move(responder), [](catalog::Repository& repo, const Request&) {
      return json_ok(unit_list_json(repo.list_units()));
    });
  });
  router.add(Method::get, "/api/v1/units/{id}", [this](const Request& request, Responder responder) {
    auto id = path_id(request);
    if (!id.ok()) {
      return (void)responder.send(http::error_response(id.error()));
    }
    read(std::move(responder), [id = *id](catalog::Repository& repo, const Request&) {
      auto units = repo.list_units();
      auto it = std::find_if(units.begin(), units.end(), [&](const catalog::Unit& u) { return u.id == id; });
      if (it == units.end()) {
        return http::error_response(core::Error::not_found("id", "no unit with id " + std::to_string(id)));
      }
      return json_ok(unit_json(*it));
    });
  });

  // ---- Writes: the token and the request's parts are checked before the
  // job is queued; `parse` yields the arguments of the Repository call.
  auto queue_write = [this](Responder responder, Status success, auto parse, auto op, auto encode) {
    auto args = parse(responder.request());
    if (!args.ok()) {
      return (void)responder.send(http::error_response(args.error()));
    }
    write(responder, write_job(
                         responder, success,
                         [op, args = std::move(*args)](catalog::Repository& repo) {
                           return std::apply([&](const auto&... a) { return std::invoke(op, repo, a...); },
                                             args);
                         },
                         encode));
  };

  // A write's answer is its real outcome: refused unrun within the writer's
  // bound, or sent after the commit. The server's 503 "timeout" could only
  // guess, so write routes do without it.
  http::RouteOptions write_options;
  write_options.response_timeout = http::kNoResponseTimeout;

  // Single writes: everything checked on the I/O thread.
  auto single = [this, queue_write](Status success, auto parse, auto op, auto encode) {
    return [=, this](const Request& request, Responder responder) {
      if (auto denied = reject_write(request)) {
        return (void)responder.send(std::move(*denied));
      }
      queue_write(std::move(responder), success, parse, op, encode);
    };
  };
  router.add(Method::post, "/api/v1/ingredients",
             single(Status::created, body_of(decode_ingredient), &catalog::Repository::create_ingredient,
                    kWrittenJson),
             write_options);
  router.add(Method::put, "/api/v1/ingredients/{id}",
             single(Status::ok, id_and_body_of(decode_ingredient), &catalog::Repository::update_ingredient,
                    kWrittenJson),
             write_options);
  router.add(Method::delete_, "/api/v1/ingredients/{id}",
             single(Status::ok, id_of, &catalog::Repository::delete_ingredient, deleted_json), write_options);
  router.add(
      Method::post, "/api/v1/recipes",
      single(Status::created, body_of(decode_recipe), &catalog::Repository::create_recipe, kWrittenJson),
      write_options);
  router.add(
      Method::put, "/api/v1/recipes/{id}",
      single(Status::ok, id_and_body_of(decode_recipe), &catalog::Repository::update_recipe, kWrittenJson),
      write_options);
  router.add(Method::delete_, "/api/v1/recipes/{id}",
             single(Status::ok, id_of, &catalog::Repository::delete_recipe, deleted_json), write_options);
  router.add(Method::post, "/api/v1/units",
             single(Status::created, body_of(decode_unit), &catalog::Repository::create_unit, kWrittenJson),
             write_options);

  // Bulk: large bodies are decoded on the read executor, not on an I/O
  // thread, then the whole batch is one job (one transaction).
  http::RouteOptions bulk_options = write_options;
  bulk_options.max_body_bytes = options_.bulk_max_body_bytes;
  auto bulk = [this, queue_write](auto parse, auto op) {
    return [=, this](const Request& request, Responder responder) {
      if (auto denied = reject_write(request)) {
        return (void)responder.send(std::move(*denied));
      }
      bool queued = read_executor_.post(
          [=]() mutable { queue_write(responder, Status::created, parse, op, kBulkCreatedJson); });
      if (!queued) {
        responder.send(http::error_response(Status::service_unavailable, http::kUnavailable,
                                            "too many requests waiting; try again"));
      }
    };
  };
  router.add(Method::post, "/api/v1/ingredients/bulk",
             bulk(body_of(decode_bulk_ingredients), &catalog::Repository::create_ingredients), bulk_options);
  router.add(Method::post, "/api/v1/recipes/bulk",
             bulk(body_of(decode_bulk_recipes), &catalog::Repository::create_recipes), bulk_options);
}

}  // namespace cocktail::catalog_service
