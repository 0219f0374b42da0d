#include "api/handlers.h"

#include <charconv>
#include <memory>

#include "api/errors.h"
#include "api/json_body.h"
#include "base/clock.h"

namespace zlh::api {

std::string MaintenanceSwitch::Payload() const {
  return boost::json::serialize(boost::json::object{{"on", on}, {"reason", reason}});
}

Result<MaintenanceSwitch> ParseMaintenanceSwitch(const std::string& text) {
  auto body = JsonBody::Parse(text, {"on", "reason"});
  if (!body.ok()) return body.status();
  auto on = body->Bool("on", true);
  if (!on.ok()) return on.status();
  auto reason = body->String("reason", false);
  if (!reason.ok()) return reason.status();
  return MaintenanceSwitch{**on, reason->value_or("")};
}

std::optional<Response> Refuse(const Tokens& tokens, const Request& req, bool portal, bool admin) {
  Role role = tokens.Authenticate(req);
  if (role == Role::kNone) {
    return ErrorResponse(401, "unauthenticated", "a valid \"Authorization: Bearer TOKEN\" is required");
  }
  if ((role == Role::kPortal && portal) || (role == Role::kAdmin && admin)) return std::nullopt;
  return ErrorResponse(403, "permission_denied", "this route is not for this token's role");
}

std::optional<Response> RefuseMediaType(const Request& req) {
  std::string type = req.Header("content-type");
  std::string base = type.substr(0, type.find(';'));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  if (base == "application/json") return std::nullopt;
  return ErrorResponse(415, "unsupported_media_type", "Content-Type must be application/json");
}

Result<std::optional<std::string>> ReadScope(const Tokens& tokens, const Request& req) {
  auto customer = req.query.find("customerId");
  if (customer != req.query.end()) {
    // Checked for every role: an empty or malformed id never reads as "no filter".
    ZLH_RETURN_IF_ERROR(CheckIdentifier("customerId", customer->second));
    return std::optional<std::string>(customer->second);
  }
  if (tokens.Authenticate(req) == Role::kAdmin) return std::optional<std::string>();
  return InvalidArgument("customerId: required (query parameter)");
}

Result<Page> ReadPage(const Request& req) {
  constexpr size_t kMaxPage = 1000;
  Page page;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    size_t v = 0;
    const char* end = it->second.data() + it->second.size();
    auto [ptr, ec] = std::from_chars(it->second.data(), end, v);
    if (it->second.empty() || ec != std::errc() || ptr != end || v < 1 || v > kMaxPage) {
      return InvalidArgument("limit: a number from 1 to " + std::to_string(kMaxPage));
    }
    page.limit = v;
  }
  if (auto it = req.query.find("after"); it != req.query.end()) page.after = it->second;
  return page;
}

Response JsonOk(int status, const boost::json::object& body) {
  return JsonResponse(status, boost::json::serialize(body));
}

std::string Rfc3339(int64_t ms) { return ms ? FormatRfc3339(ms) : ""; }

boost::json::value Rfc3339OrNull(int64_t ms) {
  return ms ? boost::json::value(FormatRfc3339(ms)) : boost::json::value(nullptr);
}

}  // namespace zlh::api
