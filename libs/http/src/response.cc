#include "cocktail/http/response.h"

#include "string_view.h"

namespace cocktail::http {

Response::Response(Status status) {
  message_.result(status);
  message_.version(11);
}

Response Response::json(Status status, std::string body) {
  return shared(status, std::make_shared<const std::string>(std::move(body)), "application/json");
}

Response Response::text(Status status, std::string body, std::string_view content_type) {
  return shared(status, std::make_shared<const std::string>(std::move(body)), content_type);
}

Response Response::shared(Status status, std::shared_ptr<const std::string> body,
                          std::string_view content_type, std::shared_ptr<const SealedBytes> sealed) {
  Response r(status);
  r.message_.set(Field::content_type, detail::to_beast(content_type));
  if (sealed && body && sealed->size() == body->size()) {
    r.message_.body().sealed = std::move(sealed);
  }
  r.message_.body().bytes = std::move(body);
  return r;
}

Response Response::empty(Status status) { return Response(status); }

Response& Response::set_header(Field name, std::string_view value) {
  message_.set(name, detail::to_beast(value));
  return *this;
}

Response& Response::set_header(std::string_view name, std::string_view value) {
  message_.set(detail::to_beast(name), detail::to_beast(value));
  return *this;
}

std::string_view Response::header(Field name) const {
  auto it = message_.find(name);
  return it == message_.end() ? std::string_view() : detail::to_std(it->value());
}

std::string_view Response::header(std::string_view name) const {
  auto it = message_.find(detail::to_beast(name));
  return it == message_.end() ? std::string_view() : detail::to_std(it->value());
}

std::string_view Response::body() const {
  const auto& b = message_.body().bytes;
  return b ? std::string_view(*b) : std::string_view();
}

}  // namespace cocktail::http
