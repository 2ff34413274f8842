#include "cocktail/http/errors.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

std::string json_quote(std::string_view text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::string error_body(std::string_view code, std::string_view message, std::string_view details_json) {
  std::string out;
  out.reserve(64 + message.size() + details_json.size());
  out.append(R"({"error":{"code":)").append(json_quote(code));
  out.append(R"(,"message":)").append(json_quote(message));
  out.append(R"(,"details":)").append(details_json.empty() ? std::string_view("{}") : details_json);
  out.append("}}");
  return out;
}

Response error_response(const core::Error& error) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (!error.field.empty()) {
    w.Key("field");
    w.String(error.field.data(), static_cast<rapidjson::SizeType>(error.field.size()));
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
        w.String(d.field.data(), static_cast<rapidjson::SizeType>(d.field.size()));
      }
      w.Key("message");
      w.String(d.message.data(), static_cast<rapidjson::SizeType>(d.message.size()));
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
