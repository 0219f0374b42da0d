#include "api/errors.h"

#include <boost/json.hpp>

namespace zlh::api {

Response JsonResponse(int http_status, std::string body) {
  Response r;
  r.status = http_status;
  r.body = std::move(body);
  return r;
}

Response ErrorResponse(int http_status, std::string_view code, std::string_view message) {
  boost::json::object error{{"code", code}, {"message", message}};
  return JsonResponse(http_status, boost::json::serialize(boost::json::object{{"error", error}}));
}

Response ErrorResponse(const Status& status) {
  switch (status.code()) {
    case Code::kInvalidArgument:
      return ErrorResponse(400, "invalid_argument", status.message());
    case Code::kNotFound:
      return ErrorResponse(404, "not_found", status.message());
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kLeaseLost:
      return ErrorResponse(409, "conflict", status.message());
    case Code::kQuotaExceeded:
      return ErrorResponse(429, "quota_exceeded", status.message());
    case Code::kUnavailable:
      return ErrorResponse(503, "unavailable", status.message());
    default:
      return ErrorResponse(500, "internal", status.ToString());
  }
}

Response TransportError(int http_status, const std::string& message) {
  switch (http_status) {
    case 413:
      return ErrorResponse(413, "payload_too_large", message);
    case 503:
      return ErrorResponse(503, "unavailable", message);
    case 400:
      return ErrorResponse(400, "invalid_argument", message);
    default:
      return ErrorResponse(http_status, "internal", message);
  }
}

}  // namespace zlh::api
