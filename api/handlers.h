// What every route handler does the same way: the role check (401/403), the media type (415),
// the Portal's customer scope, JSON answers and times, a durable write of an input. Internal to api/.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "api/http_server.h"
#include "api/tokens.h"
#include "base/status.h"
#include "journal/journal.h"

namespace zlh::api {

// 401 unless the request carries a valid token; 403 unless its role is allowed.
std::optional<Response> Refuse(const Tokens& tokens, const Request& req, bool portal, bool admin);
// 415 unless the body is declared application/json.
std::optional<Response> RefuseMediaType(const Request& req);
// Whose records a read may see: the ?customerId= filter, required of the Portal (admin: optional,
// nullopt = everyone's). kInvalidArgument when absent for the Portal, or empty or malformed (1–128
// of [A-Za-z0-9_-]) for anyone.
Result<std::optional<std::string>> ReadScope(const Tokens& tokens, const Request& req);
// A list's page from ?limit= (1–1000, default 50) and ?after= (the previous answer's `next`).
struct Page {
  size_t limit = 50;
  std::string after;
};
Result<Page> ReadPage(const Request& req);
Response JsonOk(int status, const boost::json::object& body);
// The body of a maintenance switch — a server's or a node's: {"on": bool (required), "reason":
// string}. kInvalidArgument naming the field otherwise (an unknown field included).
struct MaintenanceSwitch {
  bool on = false;
  std::string reason;
  // {"on", "reason"}: the payload of the input that records it.
  std::string Payload() const;
};
Result<MaintenanceSwitch> ParseMaintenanceSwitch(const std::string& body);
// RFC 3339 with milliseconds; "" (or null) for 0.
std::string Rfc3339(int64_t ms);
boost::json::value Rfc3339OrNull(int64_t ms);

}  // namespace zlh::api
