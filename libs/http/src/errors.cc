#include "cocktail/http/errors.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cocktail/core/utf8.h"

namespace cocktail::http {

Status status_for(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::kInvalidArgument: return Status::bad_request;
    case core::ErrorCode::kNotFound: return Status::not_found;
    case core::ErrorCode::kConflict: return Status::conflict;
    case core::ErrorCode::kTooLarge: return Status::payload_too_large;
    case core::ErrorCode::kUnauthorized: return Status::unauthorized;
    case core::ErrorCode::kUnavailable: return Status::service_unavailable;
    case core::ErrorCode::kInternal: return Status::internal_server_error;
  }
  return Status::internal_server_error;
}

namespace {

// Every string that goes into an error body may quote what a client sent (a
// path segment, a parameter name): bytes that are not UTF-8 are replaced so
// that the body stays valid JSON (RFC 8259 requires UTF-8).
void write_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view text) {
  if (core::utf8::valid(text)) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return;
  }
  const std::string clean = core::utf8::sanitize(text);
  w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
}

}  // namespace

std::string json_quote(std::string_view text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  write_string(w, text);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string error_body(std::string_view code, std::string_view message, std::string_view details_json) {
  std::string out;
  out.reserve(64 + message.size() + details_json.size());
  out.append(R"({"error":{"code":)").append(json_quote(code));
  out.append(R"(,"message":)").append(json_quote(message));
  // details_json is assembled by callers, whose strings went through
  // json_quote(); raw bytes that slipped past it only ever sit inside string
  // literals, where a replacement keeps the JSON well-formed.
  const std::string_view details = details_json.empty() ? std::string_view("{}") : details_json;
  if (core::utf8::valid(details)) {
    out.append(R"(,"details":)").append(details);
  } else {
    out.append(R"(,"details":)").append(core::utf8::sanitize(details));
  }
  out.append("}}");
  return out;
}

Response error_response(const core::Error& error) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (!error.field.empty()) {
    w.Key("field");
    write_string(w, error.field);
  }
  if (!error.details.empty()) {
    w.Key("errors");
    w.StartArray();
    for (const auto& d : error.details) {
      w.StartObject();
      if (d.index >= 0) {
        w.Key("index");
        w.Int(d.index);
      }
      if (!d.field.empty()) {
        w.Key("field");
        write_string(w, d.field);
      }
      w.Key("message");
      write_string(w, d.message);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return error_response(status_for(error.code), core::error_code_name(error.code), error.message,
                        std::string_view(buf.GetString(), buf.GetSize()));
}

Response error_response(Status status, std::string_view code, std::string_view message,
                        std::string_view details_json) {
  return Response::json(status, error_body(code, message, details_json));
}

}  // namespace cocktail::http
