// Result<T>: the outcome of an operation whose failure is an expected case
// (invalid input, unknown id, conflict), carrying a reason instead of throwing.
// I/O and invariant failures still throw and are caught at service boundaries.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace cocktail::core {

enum class ErrorCode {
  kInvalidArgument,  // malformed or invalid input; `field` names what is wrong
  kNotFound,         // an id or name that does not exist
  kConflict,         // duplicate name, delete of a row in use, cycle in a hierarchy
  kTooLarge,         // input exceeds a configured limit
  kUnauthorized,     // missing or wrong credentials
  kUnavailable,      // not ready yet; try again later
  kInternal,         // a failure that is not the caller's fault
};

// The stable, lowercase name used in logs and JSON error bodies.
const char* error_code_name(ErrorCode code);

// One problem with one item of a batch, or one field of one object.
struct FieldError {
  int index = -1;  // position in a batch, -1 when not in a batch
  std::string field;
  std::string message;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string field;    // the offending field, empty when not about one field
  std::string message;  // a sentence for a human
  std::vector<FieldError> details;

  static Error invalid(std::string field, std::string message) {
    return {ErrorCode::kInvalidArgument, std::move(field), std::move(message), {}};
  }
  static Error not_found(std::string field, std::string message) {
    return {ErrorCode::kNotFound, std::move(field), std::move(message), {}};
  }
  static Error conflict(std::string field, std::string message) {
    return {ErrorCode::kConflict, std::move(field), std::move(message), {}};
  }
  static Error internal(std::string message) { return {ErrorCode::kInternal, {}, std::move(message), {}}; }
};

// Holds either a value or an Error. Accessing the wrong alternative throws
// std::bad_variant_access, which is a programming error.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations with nothing to return but success.
struct Ok {};
using Status = Result<Ok>;

}  // namespace cocktail::core
