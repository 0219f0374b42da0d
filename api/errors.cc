#include "api/errors.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "base/ids.h"

namespace zlh::api {

Response JsonResponse(int http_status, std::string body) {
  Response r;
  r.status = http_status;
  r.body = std::move(body);
  return r;
}

namespace {

// `text` with every byte that is not part of valid UTF-8 replaced by '?': messages quote what
// clients sent, and the answer must stay valid JSON.
std::string ValidUtf8(std::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  // The length of the well-formed sequence at i (Unicode Table 3-7), 0 when there is none.
  auto sequence = [&](size_t i) -> size_t {
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > text.size()) return 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return 0;
    }
    return n;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = sequence(i);
    if (n == 0) {
      out.push_back('?');
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace

Response ErrorResponse(int http_status, std::string_view code, std::string_view message) {
  boost::json::object error{{"code", code}, {"message", ValidUtf8(message)}};
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
    case Code::kHeld:
      return ErrorResponse(409, "conflict", status.message());
    case Code::kQuotaExceeded:
      return ErrorResponse(429, "quota_exceeded", status.message());
    case Code::kUnavailable:
      return ErrorResponse(503, "unavailable", status.message());
    default:
      return InternalError(status.ToString());
  }
}

Response InternalError(std::string_view detail) {
  // The detail (paths, storage messages) stays in the log; the answer carries only its id.
  std::string id = NewId();
  spdlog::error("internal error {}: {}", id, ValidUtf8(detail));
  return ErrorResponse(500, "internal", "internal error " + id);
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
      return InternalError(message);
  }
}

}  // namespace zlh::api
