// ReadResult<T>: what a snapshot read returns. Failures are expected cases
// a reader must count and act on (a file that fails verification is never
// served), so they are values, with a kind to branch on.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace cocktail::snapshot {

enum class ReadErrorKind {
  kNoSnapshot,  // no CURRENT yet: nothing was ever published
  kNotFound,    // the generation, its manifest, or a file is missing
  kCorrupt,     // size or SHA-256 differs from the manifest: a verification failure
  kMalformed,   // CURRENT or the manifest cannot be parsed
  kIo,          // the file system refused (permissions, I/O error)
};

const char* read_error_kind_name(ReadErrorKind kind);

struct ReadError {
  ReadErrorKind kind = ReadErrorKind::kIo;
  std::string file;  // the file concerned, relative to ANALYTICS_PATH; may be empty
  std::string message;

  bool is_verification_failure() const { return kind == ReadErrorKind::kCorrupt; }
};

template <typename T>
class ReadResult {
 public:
  ReadResult(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  ReadResult(ReadError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const ReadError& error() const { return std::get<ReadError>(v_); }

 private:
  std::variant<T, ReadError> v_;
};

}  // namespace cocktail::snapshot
