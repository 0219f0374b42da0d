// The API's one error-to-response mapper (SPEC §7.1): {"error":{"code","message"}} with the HTTP
// status that goes with the code.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "api/http_server.h"
#include "base/status.h"

namespace zlh::api {

// An error response: `code` is one of SPEC §7.1's error codes ("invalid_argument", ...).
Response ErrorResponse(int http_status, std::string_view code, std::string_view message);
// The response for a Status: invalid_argument 400, not_found 404, already_exists and
// failed_precondition, lease_lost and held 409 (conflict), quota_exceeded 429, unavailable 503, others 500 as
// InternalError.
Response ErrorResponse(const Status& status);
// 500 {"code":"internal","message":"internal error <id>"}: `detail` is logged under that id and
// never answered (it may name paths or storage messages).
Response InternalError(std::string_view detail);
// The response for an error the HTTP server found itself (400, 413, 503).
Response TransportError(int http_status, const std::string& message);
// A JSON body with `http_status`.
Response JsonResponse(int http_status, std::string body);

}  // namespace zlh::api
